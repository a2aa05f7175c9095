#!/usr/bin/env node
// Builds the counsellor console into helpline/static/console/ (shipped next to the
// widget, so `helpline serve` needs no Node):
//   app.js      the console (at /console), with chunk-<hash>.js files if esbuild splits
//   style.css
// Deterministic, as widgets/build.mjs: the same sources give the same bytes (no
// timestamps, no absolute paths, no source maps), so the shipped files can be checked
// against a fresh build (tests/test_console_build.py).
//
//   node moderation/build.mjs [--outdir DIR] [--report] [--no-budget]
// It fails when everything together is over 150 KB gzip (the budget).
import { build } from "esbuild";
import { gzipSync } from "node:zlib";
import { mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "..");
const args = process.argv.slice(2);
const outIndex = args.indexOf("--outdir");
const outdir = outIndex >= 0 ? resolve(args[outIndex + 1]) : join(root, "helpline/static/console");
const report = args.includes("--report");

// Our own modules run nothing when imported (no top-level side effects), as in the
// widget's build: esbuild may leave out what the console does not use.
const pure = {
  name: "pure-own-modules",
  setup(b) {
    b.onResolve({ filter: /^\.\.?\// }, async (a) => {
      if (a.pluginData === "pure") return undefined;
      const r = await b.resolve(a.path, { kind: a.kind, resolveDir: a.resolveDir, importer: a.importer, pluginData: "pure" });
      if (r.errors.length || !/\/(widgets\/src\/(crypto|chat)|moderation\/src\/(crypto|chat))\//.test(r.path)) return r;
      return { ...r, sideEffects: false };
    });
  },
};

rmSync(outdir, { recursive: true, force: true });
mkdirSync(outdir, { recursive: true });

await build({
  plugins: [pure],
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
  write: true,
  define: { "process.env.NODE_ENV": '"production"' },
  entryPoints: { app: "moderation/src/app/main.js", style: "moderation/src/app/console.css" },
  entryNames: "[name]",
  outdir,
  splitting: true,
  chunkNames: "chunk-[hash]",
});

// The budget: everything the console loads, gzip, at most 150 KB.
const BUDGET = 150 * 1024;
const kb = (n) => (n / 1024).toFixed(1) + " KB";
const sizes = readdirSync(outdir).sort().map((f) => [f, gzipSync(readFileSync(join(outdir, f)), { level: 9 }).length]);
const total = sizes.reduce((a, [, n]) => a + n, 0);
if (report) {
  for (const [f, n] of sizes) console.log(`${f}: ${kb(n)} gzip`);
  console.log(`console: ${kb(total)} gzip (budget ${kb(BUDGET)})`);
}
if (total > BUDGET && !args.includes("--no-budget")) {
  console.error(`the console is ${kb(total)} gzip, over its budget of ${kb(BUDGET)}`);
  process.exit(1);
}
