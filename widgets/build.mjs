#!/usr/bin/env node
// Builds the young person's widget into helpline/static/widget/ (shipped with the Python
// package, so `helpline serve` needs no Node):
//   loader.js    the host-page snippet (launcher, quick exit, the iframe)
//   app.js       the chat app (in the iframe, and at /chat), with chunk-<hash>.js files
//                for what not every young person needs (other languages, return codes)
//   app.css, favicon.svg, exit.js
// Deterministic: the same sources give the same bytes (no timestamps, no absolute
// paths, no source maps), so the shipped files can be checked against a fresh build
// (tests/test_widget_build.py) and the loader's SRI hash stays true.
//
//   node widgets/build.mjs [--outdir DIR] [--report] [--no-budget]
// It fails when the app before the first message or the loader is over its budget
// (--no-budget: write and report anyway).
import { build } from "esbuild";
import { gzipSync } from "node:zlib";
import { mkdirSync, readdirSync, readFileSync, rmSync, copyFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "..");
const args = process.argv.slice(2);
const outIndex = args.indexOf("--outdir");
const outdir = outIndex >= 0 ? resolve(args[outIndex + 1]) : join(root, "helpline/static/widget");
const report = args.includes("--report");
const budgets = !args.includes("--no-budget");

// Budgets, gzip: what the app loads before the first message, and the loader.
const APP_BUDGET = 45 * 1024;
const LOADER_BUDGET = 3 * 1024;

const common = {
  absWorkingDir: root,
  bundle: true,
  minify: true,
  format: "esm",
  target: ["es2022"],
  platform: "browser",
  legalComments: "none",
  sourcemap: false,
  charset: "utf8",
  logLevel: "warning",
  metafile: true,
  write: true,
  define: { "process.env.NODE_ENV": '"production"' },
};

rmSync(outdir, { recursive: true, force: true });
mkdirSync(outdir, { recursive: true });

const loader = await build({
  ...common,
  entryPoints: { loader: "widgets/src/loader.js" },
  outdir,
  // A classic script tag may load it too: no import/export at the top level.
  format: "iife",
});
// Our own modules run nothing when imported (no top-level side effects): saying so lets
// esbuild leave what the first screen does not use (return codes: scrypt and the word
// list) to the chunk that is loaded when it is used, although crypto/index.js
// re-exports it.
const pure = {
  name: "pure-own-modules",
  setup(b) {
    b.onResolve({ filter: /^\.\.?\// }, async (args) => {
      if (args.pluginData === "pure") return undefined;
      const r = await b.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, importer: args.importer, pluginData: "pure" });
      if (r.errors.length || !/\/widgets\/src\/(crypto|chat)\//.test(r.path)) return r;
      return { ...r, sideEffects: false };
    });
  },
};
const app = await build({
  plugins: [pure],
  ...common,
  entryPoints: { app: "widgets/src/app/main.js", style: "widgets/src/app/app.css",
                 exit: "widgets/src/app/exit.js" },
  entryNames: "[name]",
  outdir,
  splitting: true,
  chunkNames: "chunk-[hash]",
});
for (const file of ["favicon.svg"]) {
  copyFileSync(join(root, "widgets/src/app", file), join(outdir, file));
}

const gz = (path) => gzipSync(readFileSync(path), { level: 9 }).length;
const outputs = app.metafile.outputs;
const rel = (p) => relative(root, resolve(root, p));

// What the app loads before the first message: app.js, what it imports statically,
// its CSS, and one language chunk (the largest, to be safe).
function staticClosure(entry, seen = new Set()) {
  if (seen.has(entry)) return seen;
  seen.add(entry);
  for (const imp of outputs[entry]?.imports ?? []) {
    if (imp.kind === "import-statement") staticClosure(rel(imp.path), seen);
  }
  return seen;
}
const appKey = Object.keys(outputs).find((k) => k.endsWith("/app.js"));
const initial = staticClosure(appKey);
const langChunks = Object.entries(outputs)
  .filter(([, o]) => (o.inputs && Object.keys(o.inputs).some((i) => i.includes("/app/i18n/"))))
  .map(([k]) => k);
const largestLang = langChunks.reduce((best, k) => (gz(resolve(root, k)) > (best ? gz(resolve(root, best)) : -1) ? k : best), null);
const cssKey = Object.keys(outputs).find((k) => k.endsWith("/style.css"));
const appFiles = [...initial, cssKey, largestLang].filter(Boolean);
const appGzip = appFiles.reduce((sum, k) => sum + gz(resolve(root, k)), 0);
const loaderGzip = gz(join(outdir, "loader.js"));

if (report) {
  const kb = (n) => (n / 1024).toFixed(1) + " KB";
  console.log(`loader.js: ${kb(loaderGzip)} gzip (budget ${kb(LOADER_BUDGET)})`);
  console.log(`app before the first message: ${kb(appGzip)} gzip (budget ${kb(APP_BUDGET)})`);
  for (const k of appFiles) console.log(`  ${relative(outdir, resolve(root, k))}: ${kb(gz(resolve(root, k)))}`);
  const lazy = readdirSync(outdir).filter((f) => f.endsWith(".js") && !appFiles.some((k) => k.endsWith("/" + f)) && f !== "loader.js");
  console.log(`loaded only when needed: ${lazy.map((f) => `${f} ${kb(gz(join(outdir, f)))}`).join(", ")}`);
}
if (budgets && (loaderGzip > LOADER_BUDGET || appGzip > APP_BUDGET)) {
  console.error(`over budget: loader ${loaderGzip} B (max ${LOADER_BUDGET}), app ${appGzip} B (max ${APP_BUDGET})`);
  process.exit(1);
}
void loader; void statSync;
