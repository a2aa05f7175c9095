// The browser entry of the shared vector checks (vector_checks.mjs): bundled with esbuild
// and opened in Chromium by tests/browser/test_widget_vectors.py. It fetches each vector
// file from vectors/<name> next to the page, runs every check with the browser's own
// WebCrypto, and leaves the outcome in globalThis.__vectorResult (and in #result):
//   {checks, failures: ["file: what", ...], counts: {file: n}}  or  {error: "..."}
import { VECTOR_FILES, checkVectors } from "./vector_checks.mjs";

async function fetchVectors() {
  const base = new URL("vectors/", document.baseURI);
  const loaded = {};
  await Promise.all(VECTOR_FILES.map(async (name) => {
    const resp = await fetch(new URL(name, base), { cache: "no-store" });
    if (!resp.ok) throw new Error(`${name}: HTTP ${resp.status}`);
    loaded[name] = await resp.json();
  }));
  return loaded;
}

async function run() {
  if (!globalThis.isSecureContext || !globalThis.crypto?.subtle) {
    return { error: "not a secure context: crypto.subtle is missing" };
  }
  try {
    return await checkVectors(await fetchVectors());
  } catch (e) {
    return { error: String(e?.stack ?? e) };
  }
}

const result = await run();
globalThis.__vectorResult = result;
const out = document.getElementById("result");
if (out) out.textContent = JSON.stringify(result, null, 1);
