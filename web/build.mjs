// Builds web/dist/ (run after `npm ci`: `npm run build`):
//   index.html, style.css, icon.svg   from static/
//   app.js (+ app.js.map)             src/main.js bundled with the pinned browser builds of
//                                     MQTT.js (its `browser` ESM build) and uPlot, minified
//   app.css                           uPlot's stylesheet + ours
//   THIRD_PARTY_LICENSES.txt          licences of the bundled packages
// esbuild is used because one minified file keeps the first load at one script request and
// well under the 150 KB (compressed) budget; the source modules stay plain ESM that Node
// imports directly in the unit tests.

import { build } from "esbuild";
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";

const root = dirname(fileURLToPath(import.meta.url));
const dist = join(root, "dist");
const nm = join(root, "node_modules");

rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });

await build({
  entryPoints: [join(root, "src", "main.js")],
  outfile: join(dist, "app.js"),
  bundle: true,
  format: "esm",
  platform: "browser",
  target: ["es2022", "chrome110", "firefox115", "safari16"],
  minify: true,
  sourcemap: "linked",
  legalComments: "none",
  logLevel: "warning",
});

await build({
  stdin: {
    contents: readFileSync(join(root, "static", "style.css"), "utf8"),
    resolveDir: join(root, "static"),
    loader: "css",
  },
  banner: { css: readFileSync(join(nm, "uplot", "dist", "uPlot.min.css"), "utf8") },
  outfile: join(dist, "app.css"),
  minify: true,
  logLevel: "warning",
});

for (const f of readdirSync(join(root, "static"))) {
  if (f === "style.css") continue;
  cpSync(join(root, "static", f), join(dist, f));
}

const licences = [
  ["mqtt", "LICENSE.md"],
  ["uplot", "LICENSE"],
].map(([pkg, file]) => {
  const version = JSON.parse(readFileSync(join(nm, pkg, "package.json"), "utf8")).version;
  return `${pkg} ${version}\n\n${readFileSync(join(nm, pkg, file), "utf8").trim()}\n`;
});
writeFileSync(
  join(dist, "THIRD_PARTY_LICENSES.txt"),
  `Bundled into app.js (MQTT.js's browser build also bundles its own MIT/ISC dependencies; see its package).\n\n${licences.join("\n----\n\n")}`,
);

// Report what a first visit downloads (everything but the source map and licences), gzip -9.
function walk(dir) {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}
let raw = 0;
let gz = 0;
const rows = [];
for (const p of walk(dist).sort()) {
  if (p.endsWith(".map") || p.endsWith(".txt")) continue;
  const buf = readFileSync(p);
  const z = gzipSync(buf, { level: 9 }).length;
  raw += buf.length;
  gz += z;
  rows.push(`  ${relative(dist, p).padEnd(18)} ${String(buf.length).padStart(8)} B  ${String(z).padStart(7)} B gzip`);
}
console.log(
  `web/dist built:\n${rows.join("\n")}\n  ${"first load".padEnd(18)} ${String(raw).padStart(8)} B  ${String(gz).padStart(7)} B gzip (+ config.json)`,
);
