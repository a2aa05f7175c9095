// The browser entry of tests/browser/test_console_devicestore.py: the console's device
// store (moderation/src/crypto/devicestore.js), backup (backup.js) and keyring, bundled
// with esbuild, on a page whose CSP refuses inline script. It only exposes them, as
// globalThis.helpline; the test drives them with page.evaluate and checks the results in
// Python (helpline.crypto), across page reloads.
import * as C from "../../widgets/src/crypto/index.js";
import * as backup from "../../moderation/src/crypto/backup.js";
import { DeviceStore, DB_NAME } from "../../moderation/src/crypto/devicestore.js";
import { StaffKeyring } from "../../moderation/src/crypto/staffkeyring.js";

globalThis.helpline = { C, backup, DeviceStore, DB_NAME, StaffKeyring };
document.getElementById("status").textContent = "ready";
