#!/usr/bin/env node
// Runs the benchmarks in bench/ (all, or those whose file name contains an argument):
//   npm run bench [-- permissions]
// Each benchmark prints its own table with ratios against a baseline measured in the same run.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";

const root = new URL("..", import.meta.url).pathname;
const filters = process.argv.slice(2);
const files = readdirSync(`${root}bench`)
  .filter((f) => f.endsWith(".bench.ts"))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  console.error("no benchmark matches");
  process.exit(1);
}
let failed = 0;
for (const file of files) {
  console.log(`\n=== bench/${file} ===`);
  const r = spawnSync(process.execPath, ["--conditions=development", "--import", "tsx", `bench/${file}`], {
    stdio: "inherit",
    cwd: root,
  });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
