#!/usr/bin/env node
// Runs every test file with Node's own test runner. TypeScript is loaded through tsx,
// and the "development" export condition makes workspace packages resolve to their
// sources, so tests never run against a stale build.
// Usage: npm test [-- path-prefix ...]   e.g. npm test -- packages/core
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const filters = process.argv.slice(2).filter((a) => !a.startsWith("--"));
const passthrough = process.argv.slice(2).filter((a) => a.startsWith("--"));

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    if (name === "node_modules" || name === "dist" || name.startsWith(".")) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, out);
    else if (name.endsWith(".test.ts")) out.push(relative(root, path));
  }
  return out;
}

const files = walk(join(root, "packages"), [])
  .filter((f) => filters.length === 0 || filters.some((p) => f.startsWith(p)))
  .sort();
if (files.length === 0) {
  console.error(`no test files match ${filters.join(" ") || "packages/"}`);
  process.exit(1);
}
const result = spawnSync(
  process.execPath,
  [
    "--conditions=development",
    "--import",
    "tsx",
    "--test",
    `--test-concurrency=${process.env.TEST_CONCURRENCY ?? 2}`,
    ...passthrough,
    ...files,
  ],
  { stdio: "inherit", cwd: root },
);
process.exit(result.status ?? 1);
