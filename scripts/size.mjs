#!/usr/bin/env node
// What the browser packages cost an app: each entry bundled from source the way an
// app's bundler would (minified ES module for browsers, React left external), with
// its minified and gzipped (level 9) size. Code an entry loads with import() on first
// use (the default dialog) is split off and shown as "lazy".
// Usage: npm run size
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { build, version } from "esbuild";

const root = fileURLToPath(new URL("..", import.meta.url));

const entries = [
  { name: "@meshauth/client", file: "packages/client/src/index.ts" },
  { name: "@meshauth/client/dialog", file: "packages/client/src/dialog/index.ts" },
  { name: "@meshauth/react", file: "packages/react/src/index.ts" },
];

// Workspace packages resolve to their sources (the "development" export), everything
// else as an app's bundler resolves it for browsers.
const workspaceSources = {
  name: "workspace-sources",
  setup(b) {
    b.onResolve({ filter: /^@meshauth\/[^/]+(\/.*)?$/ }, ({ path }) => {
      const [, pkg, sub = ""] = /^@meshauth\/([^/]+)(\/.*)?$/.exec(path) ?? [];
      const dir = join(root, "packages", pkg);
      const manifest = join(dir, "package.json");
      if (!existsSync(manifest)) return undefined;
      const target = JSON.parse(readFileSync(manifest, "utf8")).exports?.[`.${sub}`]?.development;
      return target ? { path: join(dir, target) } : undefined;
    });
  },
};

const gzip = (text) => gzipSync(Buffer.from(text), { level: 9 }).length;

async function measure(file) {
  const result = await build({
    entryPoints: [join(root, file)],
    absWorkingDir: root,
    bundle: true,
    splitting: true,
    outdir: join(root, "size-out"),
    write: false,
    minify: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    conditions: ["browser"],
    external: ["react", "react/*", "react-dom", "react-dom/*"],
    define: { "process.env.NODE_ENV": '"production"' },
    plugins: [workspaceSources],
    logLevel: "silent",
    metafile: true,
  });
  // Loaded at once: the entry chunk and what it imports statically. Lazy: what import()
  // reaches from there that is not loaded at once (esbuild also emits chunks for
  // import()s in code it tree-shook away; those are not counted).
  const byPath = new Map(result.outputFiles.map((f) => [f.path, f]));
  const outputs = result.metafile.outputs;
  /** The chunks `starts` load statically (minus `loaded`), and the targets of their import()s. */
  const closure = (starts, loaded = new Set()) => {
    const chunks = new Set();
    const dynamic = new Set();
    const stack = [...starts];
    while (stack.length > 0) {
      const chunk = stack.pop();
      if (chunks.has(chunk) || loaded.has(chunk)) continue;
      chunks.add(chunk);
      for (const i of outputs[chunk].imports) {
        if (i.external) continue;
        if (i.kind === "dynamic-import") dynamic.add(i.path);
        else stack.push(i.path);
      }
    }
    return { chunks, dynamic };
  };
  const entryChunk = Object.keys(outputs).find((k) => outputs[k].entryPoint && k.endsWith(".js"));
  const initial = closure([entryChunk]);
  const lazy = closure(initial.dynamic, initial.chunks);
  const files = (chunks) => [...chunks].map((k) => byPath.get(join(root, k)));
  const sum = (chunks, f) => files(chunks).reduce((n, file) => n + f(file), 0);
  const size = (file) => file.contents.length;
  const gz = (file) => gzip(file.text);
  return {
    min: sum(initial.chunks, size),
    gz: sum(initial.chunks, gz),
    lazyMin: sum(lazy.chunks, size),
    lazyGz: sum(lazy.chunks, gz),
  };
}

const rows = [];
const failures = [];
for (const entry of entries) {
  if (!existsSync(join(root, entry.file))) {
    rows.push([entry.name, "missing", "", "", ""]);
    continue;
  }
  try {
    const m = await measure(entry.file);
    const lazy = m.lazyMin > 0;
    rows.push([
      entry.name,
      String(m.min),
      String(m.gz),
      lazy ? String(m.lazyMin) : "-",
      lazy ? String(m.lazyGz) : "-",
    ]);
  } catch (e) {
    rows.push([entry.name, "failed", "", "", ""]);
    const messages = e.errors?.map(
      (m) => `${m.location ? `${m.location.file}:${m.location.line}: ` : ""}${m.text}`,
    );
    failures.push(`${entry.name}: ${messages?.join("\n  ") ?? e.message}`);
  }
}

const header = ["entry", "min bytes", "gzip bytes", "lazy min", "lazy gzip"];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (cells) =>
  cells
    .map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
    .join("  ")
    .trimEnd();
console.log(line(header));
console.log(widths.map((w) => "-".repeat(w)).join("  "));
for (const row of rows) console.log(line(row));
console.log(`\nesbuild ${version}, minified ES2022 for browsers, gzip level 9`);
if (failures.length > 0) {
  console.error(`\n${failures.join("\n")}`);
  process.exitCode = 1;
}
