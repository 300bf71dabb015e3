// One dependency-free CommonJS file for mini program runtimes (dist/minibase.js), its .d.ts
// types (dist/*.d.ts), and its size, raw and gzipped (printed and kept in dist/size.json);
// examples/miniprogram gets a copy.
import { execFileSync } from "node:child_process";
import { copyFileSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

const out = "dist/minibase.js";
rmSync("dist", { recursive: true, force: true });
await build({
  entryPoints: ["src/index.ts"],
  bundle: true,
  outfile: out,
  format: "cjs",
  platform: "neutral",
  target: "es2015",
  minify: true,
  sourcemap: false,
  legalComments: "none",
});
execFileSync("node", ["node_modules/typescript/bin/tsc", "-p", "tsconfig.json"], { stdio: "inherit" });
const code = readFileSync(out);
const size = { bytes: code.length, gzip: gzipSync(code, { level: 9 }).length };
writeFileSync("dist/size.json", JSON.stringify(size) + "\n");
// the example mini program requires its own copy (a test checks that it is this build)
copyFileSync(out, "../../examples/miniprogram/minibase.js");
console.log(`${out}: ${size.bytes} bytes, ${size.gzip} gzipped`);
