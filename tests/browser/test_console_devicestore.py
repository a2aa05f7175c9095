"""The console's persistent staff device keys in a real Chromium (IndexedDB, WebCrypto).

moderation/src/crypto/devicestore.js, backup.js and staffkeyring.js are bundled with
esbuild (tests/js/devicestore_browser.mjs) and served with a CSP that refuses inline
script, from a small aiohttp server on one loopback origin, so the page can be reloaded
and find what it stored. Python (helpline.crypto) plays the other side: it opens the
backup Chromium made, grants the team key to the device's public key and wraps an
epoch key for it, and verifies what the reloaded device signs.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from playwright.async_api import Page

from helpline.crypto.backup import open_backup
from helpline.crypto.encoding import b64url_decode, b64url_encode
from helpline.crypto.errors import CryptoError
from helpline.crypto.keys import (
    EncryptionKeyPair,
    EncryptionPublicKey,
    SigningKeyPair,
    SigningPublicKey,
    verify_signature,
)
from helpline.crypto.statements import (
    KeyStatement,
    StatementKind,
    key_statement_to_dict,
    sign_key_statement,
)
from helpline.crypto.wrap import wrap_conversation_key, wrap_team_key_grant
from tests.browser.conftest import ROOT, Browser, hosts, until_js

ENTRY = ROOT / "tests" / "js" / "devicestore_browser.mjs"
ESBUILD = ROOT / "node_modules" / ".bin" / "esbuild"
CSP = ("default-src 'none'; script-src 'self'; connect-src 'self'; base-uri 'none'; "
       "form-action 'none'")
PAGE = ('<!doctype html><html lang="en"><head><meta charset="utf-8">'
        "<title>device store</title>"
        '<script type="module" src="/devicestore.js"></script></head>'
        '<body><p id="status">loading</p></body></html>')
PASSPHRASE = "a long enough passphrase for the test"
PERIOD = "2025-W48"
CID = "Xq3m9Zt0Q1uVb8kLr2s7Yw"
T0 = 1_763_942_400


async def _bundle(out: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        str(ESBUILD), str(ENTRY.relative_to(ROOT)), "--bundle", "--format=esm",
        "--platform=browser", "--target=es2022", "--log-level=warning", f"--outfile={out}",
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    text, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, text.decode()


@asynccontextmanager
async def _serve(bundle: bytes) -> AsyncIterator[str]:
    files = {"/": (PAGE.encode(), "text/html; charset=utf-8"),
             "/devicestore.js": (bundle, "text/javascript; charset=utf-8")}

    async def serve(request: web.Request) -> web.Response:
        if request.path not in files:
            raise web.HTTPNotFound()
        body, content_type = files[request.path]
        return web.Response(body=body, headers={"Content-Type": content_type,
                                                "Content-Security-Policy": CSP,
                                                "Cache-Control": "no-store"})

    app = web.Application()
    app.router.add_get("/{tail:.*}", serve)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


async def _ready(page: Page) -> None:
    await until_js(page, "() => document.getElementById('status')?.textContent === 'ready'")


async def _js(page: Page, body: str, arg: Any = None) -> Any:
    """Run `body`, the statements of an async function of `a` (the argument) with
    `H` the exposed modules, in the page (CDP evaluation: the page's CSP is not asked)."""
    return await page.evaluate(f"async (a) => {{ const H = globalThis.helpline; {body} }}", arg)


@pytest.mark.timeout(90)
async def test_device_keys_survive_a_reload_non_extractable_and_move_by_backup(
    browser: Browser, tmp_path: Path,
) -> None:
    if not ESBUILD.exists():
        pytest.fail("Node 20+ and `npm ci` are needed (./dev setup runs npm ci)")
    bundle = tmp_path / "devicestore.js"
    await _bundle(bundle)
    org = SigningKeyPair.generate()
    pin = org.public.fingerprint
    page = await browser.page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
            if m.type in ("error", "warning") else None)
    async with _serve(bundle.read_bytes()) as origin:
        await page.goto(f"{origin}/")
        await _ready(page)

        # A new device: keys made, the backup offered once, only non-extractable keys kept.
        made = await _js(page, """
            const made = await H.StaffKeyring.generateForDevice('anna', a.pin);
            const { keyring, backupMaterial } = made;
            const weak = await H.backup.makeBackup(backupMaterial, 'too short')
              .catch((e) => e.code);
            const text = await H.backup.makeBackup(backupMaterial, a.passphrase);
            backupMaterial.wipe();
            const store = await H.DeviceStore.open(indexedDB);
            const raw = await H.StaffKeyring.generate('bert', a.pin);
            const refusedRaw = await store.saveKeyring(raw).then(() => 'saved', (e) => e.code);
            await store.saveKeyring(keyring);
            store.close();
            return { text, weak, refusedRaw, wiped: backupMaterial.signingSeed === null,
                     fingerprints: await keyring.fingerprints(),
                     registration: keyring.registration() };
        """, {"pin": pin, "passphrase": PASSPHRASE})
        assert made["weak"] == "weak_passphrase" and made["refusedRaw"] == "invalid_key"
        assert made["wiped"] is True

        # The backup Chromium made opens in Python with the passphrase, and only with it.
        keys = open_backup(made["text"], PASSPHRASE, pinned_fingerprint=pin)
        assert keys.username == "anna"
        assert {"encryption": keys.encryption.public.fingerprint,
                "signing": keys.signing.public.fingerprint} == made["fingerprints"]
        with pytest.raises(CryptoError) as wrong:
            open_backup(made["text"], PASSPHRASE + " ", pinned_fingerprint=pin)
        assert wrong.value.code == "backup_unlock_failed"

        # The admin's side: a team key granted to the device's registered key, an epoch
        # key wrapped for the team key.
        device_x = EncryptionPublicKey(b64url_decode(made["registration"]["encryption_key"]))
        device_ed = SigningPublicKey(b64url_decode(made["registration"]["signing_key"]))
        team = EncryptionKeyPair.generate()
        statement = key_statement_to_dict(sign_key_statement(KeyStatement(
            kind=StatementKind.TEAM_KEY, subject=PERIOD, public_key=team.public,
            not_before=T0, not_after=T0 + 14 * 86400), org))
        grant = wrap_team_key_grant(team, device_x, period=PERIOD, grantee="anna")
        epoch_key = secrets.token_bytes(32)
        wrapped = wrap_conversation_key(epoch_key, team.public, conversation_id=CID, epoch=1)

        await page.reload()
        await _ready(page)
        loaded = await _js(page, """
            const store = await H.DeviceStore.open(indexedDB);
            const ring = await store.loadKeyring('anna', a.pin);
            const none = await store.loadKeyring('bert', a.pin);
            const otherOrg = await store.loadKeyring('anna', 'ab'.repeat(32))
              .then(() => 'loaded', (e) => e.code);
            store.close();
            const x = ring.encryption.cryptoKeyPair.privateKey, s = ring.signing.privateKey;
            const exports = [];
            for (const k of [x, s]) for (const f of ['pkcs8', 'jwk', 'raw']) {
              exports.push(await crypto.subtle.exportKey(f, k)
                .then(() => 'exported', (e) => e.name));
            }
            const periods = await ring.loadGrants({ team: { [a.period]: a.statement },
              grants: { [a.period]: a.grant }, revocations: null });
            const teamPair = [...ring.unitKeys.values()][0];
            const epochKey = await H.C.unwrapConversationKey(H.C.b64urlDecode(a.wrapped),
              teamPair.recipient(), { conversationId: a.cid, epoch: 1 });
            const message = new TextEncoder().encode(a.message);
            return {
              none, otherOrg, periods, exports, epochKey: H.C.b64urlEncode(epochKey),
              kinds: [x instanceof CryptoKey, s instanceof CryptoKey, x.type, s.type],
              extractable: [x.extractable, s.extractable], usages: [x.usages, s.usages],
              algorithms: [x.algorithm.name, s.algorithm.name],
              raw: [ring.encryption.privateRaw, ring.signing.seed],
              fingerprints: await ring.fingerprints(),
              signature: H.C.b64urlEncode(await ring.signing.sign(message)),
            };
        """, {"pin": pin, "period": PERIOD, "statement": statement,
              "grant": b64url_encode(grant), "wrapped": b64url_encode(wrapped), "cid": CID,
              "message": "signed after a reload"})
        assert loaded["none"] is None and loaded["otherOrg"] == "wrong_organisation"
        assert loaded["kinds"] == [True, True, "private", "private"]
        assert loaded["extractable"] == [False, False]
        assert loaded["usages"] == [["deriveBits"], ["sign"]]
        assert loaded["algorithms"] == ["X25519", "Ed25519"]
        assert loaded["raw"] == [None, None]
        assert loaded["exports"] == ["InvalidAccessError"] * 6
        assert loaded["fingerprints"] == made["fingerprints"]
        assert loaded["periods"] == [PERIOD]
        assert b64url_decode(loaded["epochKey"]) == epoch_key
        verify_signature(device_ed, b64url_decode(loaded["signature"]), b"signed after a reload")

        # A young person's key pinned per conversation survives a reload; another key
        # for that conversation is refused; an unused pin goes after 60 days.
        youth_a = SigningKeyPair.generate().public.raw
        youth_b = SigningKeyPair.generate().public.raw
        await _js(page, """
            const store = await H.DeviceStore.open(indexedDB);
            await store.pinYouthKey(a.cid, H.C.b64urlDecode(a.key));
            store.close();
        """, {"cid": CID, "key": b64url_encode(youth_a)})
        await page.reload()
        await _ready(page)
        pins = await _js(page, """
            const store = await H.DeviceStore.open(indexedDB);
            const first = await store.get(a.cid);
            const changed = await store.set(a.cid, H.C.b64urlDecode(a.other))
              .then(() => 'pinned', (e) => e.code);
            const same = await store.set(a.cid, H.C.b64urlDecode(a.key));
            const unknown = await store.youthKey('Aq3m9Zt0Q1uVb8kLr2s7Yw');
            store.close();
            const days61 = 61 * 86400e3;
            const later = await H.DeviceStore.open(indexedDB, { now: () => Date.now() + days61 });
            const pruned = await later.youthKey(a.cid);
            const stillThere = await later.loadKeyring('anna', a.pin);
            await later.forget('anna');
            const forgotten = await later.loadKeyring('anna', a.pin);
            later.close();
            return { first: first && H.C.b64urlEncode(first), changed, same, unknown, pruned,
                     keysKept: stillThere !== null, forgotten };
        """, {"cid": CID, "key": b64url_encode(youth_a), "other": b64url_encode(youth_b),
              "pin": pin})
        assert pins == {"first": b64url_encode(youth_a), "changed": "key_changed", "same": True,
                        "unknown": None, "pruned": None, "keysKept": True, "forgotten": None}

    assert problems == [], problems
    assert hosts(browser.requests) == {origin.removeprefix("http://")}, browser.requests
