#!/usr/bin/env node
import { readdirSync, readFileSync, statSync } from "node:fs";
// Fails when a package's source imports a package its package.json does not declare
// (dependencies, peerDependencies or optionalDependencies), so what works in the
// workspace also works installed from the registry. Type-only imports count too: they
// end up in the published .d.ts files. Tests may also use the root devDependencies.
// Usage: node scripts/check-deps.mjs
import { builtinModules } from "node:module";
import { join, relative } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const builtins = new Set(builtinModules);
const IMPORT =
  /^\s*(?:import|export)\b[^;"'`]*?\bfrom\s*["']([^"']+)["']|\bimport\s*\(\s*["']([^"']+)["']\s*\)|^\s*import\s*["']([^"']+)["']/gm;

function files(dir, out = []) {
  for (const name of readdirSync(dir)) {
    if (name === "node_modules" || name === "dist") continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) files(path, out);
    else if (/\.(ts|tsx|mts|js|mjs)$/.test(name) && !name.endsWith(".d.ts")) out.push(path);
  }
  return out;
}

function packageOf(spec) {
  if (spec.startsWith(".") || spec.startsWith("/") || spec.startsWith("node:")) return undefined;
  const name = spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0];
  return builtins.has(name) ? undefined : name;
}

/** Strips comments so an import shown in a doc comment is not taken for one. */
function code(text) {
  return text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`])\/\/.*$/gm, "$1");
}

const rootManifest = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const problems = [];
const siblings = readdirSync(join(root, "packages")).flatMap((d) => {
  try {
    const m = JSON.parse(readFileSync(join(root, "packages", d, "package.json"), "utf8"));
    return [m.name, ...Object.keys(m.dependencies ?? {}), ...Object.keys(m.devDependencies ?? {})];
  } catch {
    return [];
  }
});
for (const dir of readdirSync(join(root, "packages"))) {
  const pkgDir = join(root, "packages", dir);
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(join(pkgDir, "package.json"), "utf8"));
  } catch {
    continue;
  }
  const declared = new Set([
    manifest.name,
    ...Object.keys(manifest.dependencies ?? {}),
    ...Object.keys(manifest.peerDependencies ?? {}),
    ...Object.keys(manifest.optionalDependencies ?? {}),
  ]);
  const forTests = new Set([
    ...declared,
    ...Object.keys(manifest.devDependencies ?? {}),
    ...Object.keys(rootManifest.devDependencies ?? {}),
    ...Object.keys(rootManifest.dependencies ?? {}),
    // Workspace siblings and what they bring: tests run in the checkout, never published.
    ...siblings,
  ]);
  for (const sub of ["src", "bin"]) {
    let list = [];
    try {
      list = files(join(pkgDir, sub));
    } catch {
      continue;
    }
    for (const file of list) {
      for (const m of code(readFileSync(file, "utf8")).matchAll(IMPORT)) {
        const name = packageOf(m[1] ?? m[2] ?? m[3]);
        if (name && !declared.has(name))
          problems.push(`${relative(root, file)}: imports ${name}, which ${manifest.name} does not declare`);
      }
    }
  }
  let tests = [];
  try {
    tests = files(join(pkgDir, "test"));
  } catch {}
  for (const file of tests) {
    for (const m of code(readFileSync(file, "utf8")).matchAll(IMPORT)) {
      const name = packageOf(m[1] ?? m[2] ?? m[3]);
      if (name && !forTests.has(name))
        problems.push(
          `${relative(root, file)}: imports ${name}, declared neither by ${manifest.name} nor the root`,
        );
    }
  }
}
if (problems.length > 0) {
  console.error(`undeclared imports (add them to the package's dependencies):\n  ${problems.join("\n  ")}`);
  process.exit(1);
}
console.log("check-deps: every import of every package is declared");
