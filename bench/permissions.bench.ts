/**
 * Permission decisions per second: compiled queries against hand-written JavaScript for the
 * same rules, on the same 100k generated documents, in the same process, interleaved.
 *
 *   npm run bench -- permissions
 *
 * Each case runs in its own child process so the JIT state of one case (which closures a
 * call site has seen) cannot slow down another.
 */
import { spawnSync } from "node:child_process";
import {
  type Authorizer,
  compilePermissions,
  createPermissionCompiler,
  type Permissions,
} from "@meshauth/core";

const DOCS = 100_000;
const WARMUP_ROUNDS = 5;
const ROUNDS = 15;

type Id = Record<string, unknown>;
type Doc = { _id: Id };
type Hand = (collection: string, doc: Doc) => boolean;

interface Case {
  name: string;
  rules: number;
  permissions: Permissions;
  hand: Hand;
  collections: readonly string[];
  makeId(collection: string, random: () => number): Id;
}

/** mulberry32: a small deterministic PRNG, so every run sees the same documents. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const pick = <T>(random: () => number, items: readonly T[]): T =>
  items[Math.floor(random() * items.length)] as T;
const int = (random: () => number, n: number): number => Math.floor(random() * n);

const read = (queriesByCollection: Record<string, string[]>): Permissions => ({
  read: { everything: false, queriesByCollection },
  write: { everything: false, queriesByCollection: {} },
});

// (a) one equality ---------------------------------------------------------------------------
const oneEquality: Case = {
  name: "one equality",
  rules: 1,
  permissions: read({ cars: ["_id.owner == 'u1'"] }),
  hand: (collection, doc) => collection === "cars" && doc._id?.["owner"] === "u1",
  collections: ["cars"],
  makeId: (_, random) => ({ owner: `u${int(random, 20)}`, n: int(random, 1e6) }),
};

// (b) a role: five rules over three collections ----------------------------------------------
const role: Case = {
  name: "role: 5 rules, 3 collections",
  rules: 5,
  permissions: read({
    cars: ["_id.owner == 'u1'", "_id.shared == true"],
    tasks: ["_id.team in ['a', 'b'] && !(_id.archived == true)"],
    sites: ["_id.region.startsWith('eu-')", "_id.public == true"],
  }),
  hand: (collection, doc) => {
    const id = doc._id;
    switch (collection) {
      case "cars":
        return id.owner === "u1" || id.shared === true;
      case "tasks":
        return (id.team === "a" || id.team === "b") && id.archived !== true;
      case "sites":
        return (typeof id.region === "string" && id.region.startsWith("eu-")) || id.public === true;
      default:
        return false;
    }
  },
  collections: ["cars", "tasks", "sites"],
  makeId: (collection, random) => {
    switch (collection) {
      case "cars":
        return { owner: `u${int(random, 10)}`, shared: random() < 0.1, vin: int(random, 1e6) };
      case "tasks":
        return { team: pick(random, ["a", "b", "c", "d"]), archived: random() < 0.3, n: int(random, 1e6) };
      default:
        return {
          region: pick(random, ["eu-west", "eu-north", "us-east", "ap-south"]),
          public: random() < 0.1,
        };
    }
  },
};

// (c) a large set: 200 rules over four collections -----------------------------------------
const LARGE_COLLECTIONS = ["projects", "tasks", "files", "comments"];
const largeQueries: Record<string, string[]> = {};
const handRules = new Map<
  string,
  { projects: Set<string>; orgLevels: [string, number][]; prefixes: string[] }
>();
for (const [c, collection] of LARGE_COLLECTIONS.entries()) {
  const projects = Array.from({ length: 40 }, (_, k) => `p${c}-${k}`);
  const orgLevels = Array.from({ length: 5 }, (_, k): [string, number] => [`o${k}`, k + 2]);
  const prefixes = Array.from({ length: 5 }, (_, k) => `/c${c}/shared${k}/`);
  largeQueries[collection] = [
    ...projects.map((p) => `_id.project == '${p}'`),
    ...orgLevels.map(([org, level]) => `_id.org == '${org}' && _id.level <= ${level}`),
    ...prefixes.map((prefix) => `_id.path.startsWith('${prefix}')`),
  ];
  handRules.set(collection, { projects: new Set(projects), orgLevels, prefixes });
}
const large: Case = {
  name: "large: 200 rules, 4 collections",
  rules: 200,
  permissions: read(largeQueries),
  hand: (collection, doc) => {
    const rules = handRules.get(collection);
    if (rules === undefined) return false;
    const id = doc._id;
    if (rules.projects.has(id.project as string)) return true;
    for (const [org, level] of rules.orgLevels) {
      if (id.org === org && typeof id.level === "number" && id.level <= level) return true;
    }
    const path = id.path;
    if (typeof path === "string")
      for (const prefix of rules.prefixes) if (path.startsWith(prefix)) return true;
    return false;
  },
  collections: LARGE_COLLECTIONS,
  makeId: (collection, random) => {
    const c = LARGE_COLLECTIONS.indexOf(collection);
    return {
      project: `p${c}-${int(random, 80)}`,
      org: `o${int(random, 10)}`,
      level: int(random, 10),
      path: `/c${int(random, 4)}/shared${int(random, 10)}/f${int(random, 100)}`,
    };
  },
};

const CASES: Record<string, Case> = { a: oneEquality, b: role, c: large };

// ---- measuring -------------------------------------------------------------------------

// Two separate loops, so neither call site ever sees the other's callee.
function runCompiled(authorizer: Authorizer, collections: string[], docs: Doc[]): number {
  let allowed = 0;
  for (let i = 0; i < docs.length; i++)
    if (authorizer.canRead(collections[i] as string, docs[i] as Doc)) allowed++;
  return allowed;
}
function runHand(hand: Hand, collections: string[], docs: Doc[]): number {
  let allowed = 0;
  for (let i = 0; i < docs.length; i++) if (hand(collections[i] as string, docs[i] as Doc)) allowed++;
  return allowed;
}

function median(values: number[]): number {
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

interface Result {
  name: string;
  rules: number;
  compiled: number;
  hand: number;
  allowed: number;
}

function measureCase(key: string): Result {
  const c = CASES[key];
  if (c === undefined) throw new Error(`no case ${key}`);
  const random = prng(42);
  const collections: string[] = [];
  const docs: Doc[] = [];
  for (let i = 0; i < DOCS; i++) {
    const collection = pick(random, c.collections);
    collections.push(collection);
    docs.push({ _id: c.makeId(collection, random) });
  }
  const authorizer = compilePermissions(c.permissions);
  const compiledTimes: number[] = [];
  const handTimes: number[] = [];
  let allowed = -1;
  const once = (which: "compiled" | "hand"): void => {
    const start = performance.now();
    const n =
      which === "compiled" ? runCompiled(authorizer, collections, docs) : runHand(c.hand, collections, docs);
    const ms = performance.now() - start;
    if (allowed === -1) allowed = n;
    if (n !== allowed) throw new Error(`${c.name}: compiled and hand-written disagree (${n} vs ${allowed})`);
    (which === "compiled" ? compiledTimes : handTimes).push(ms);
  };
  for (let round = 0; round < WARMUP_ROUNDS; round++) {
    once("compiled");
    once("hand");
  }
  compiledTimes.length = 0;
  handTimes.length = 0;
  for (let round = 0; round < ROUNDS; round++) {
    // Alternate which goes first, so neither always runs right after a GC-heavy setup.
    if (round % 2 === 0) {
      once("compiled");
      once("hand");
    } else {
      once("hand");
      once("compiled");
    }
  }
  return {
    name: c.name,
    rules: c.rules,
    compiled: DOCS / (median(compiledTimes) / 1000),
    hand: DOCS / (median(handTimes) / 1000),
    allowed,
  };
}

function measureCompile(): string[] {
  const compiler = createPermissionCompiler();
  const json = JSON.stringify(large.permissions);
  const time = (fn: () => void, n: number): number => {
    const start = performance.now();
    for (let i = 0; i < n; i++) fn();
    return ((performance.now() - start) / n) * 1000;
  };
  time(() => compiler.compile(JSON.parse(json), { cache: false }), 20);
  const cold = time(() => compiler.compile(JSON.parse(json), { cache: false }), 50);
  const byContent = time(() => compiler.compile(JSON.parse(json)), 200);
  const frozen = compiler.compile(JSON.parse(json)).permissions;
  const byIdentity = time(() => compiler.compile(frozen), 10_000);
  return [
    `compiling the 200-rule set (${json.length} bytes): ${cold.toFixed(0)} µs uncached,`,
    `  ${byContent.toFixed(1)} µs for a cache hit by content (fresh JSON, parse included),`,
    `  ${byIdentity.toFixed(2)} µs for a cache hit by identity (validated/frozen set)`,
  ];
}

const fmt = (opsPerSecond: number): string => `${(opsPerSecond / 1e6).toFixed(1)} M/s`;

if (process.argv[2] !== undefined) {
  // Child: one case, answer as JSON on stdout.
  const key = process.argv[2];
  process.stdout.write(JSON.stringify(key === "compile" ? measureCompile() : measureCase(key)));
} else {
  console.log(
    `${DOCS.toLocaleString("en")} documents per round, median of ${ROUNDS} interleaved rounds after ${WARMUP_ROUNDS} warm-up rounds`,
  );
  console.log(`node ${process.version}, ${process.platform}/${process.arch}\n`);
  const rows: Result[] = [];
  for (const key of Object.keys(CASES)) {
    const child = spawnSync(process.execPath, [...process.execArgv, process.argv[1] as string, key], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
    });
    if (child.status !== 0) process.exit(child.status ?? 1);
    rows.push(JSON.parse(child.stdout) as Result);
  }
  console.log("| case | rules | compiled | hand-written | compiled/hand-written time | allowed |");
  console.log("| --- | ---: | ---: | ---: | ---: | ---: |");
  for (const r of rows) {
    console.log(
      `| ${r.name} | ${r.rules} | ${fmt(r.compiled)} | ${fmt(r.hand)} | ${(r.hand / r.compiled).toFixed(2)}× | ${((r.allowed / DOCS) * 100).toFixed(1)}% |`,
    );
  }
  const child = spawnSync(process.execPath, [...process.execArgv, process.argv[1] as string, "compile"], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  if (child.status !== 0) process.exit(child.status ?? 1);
  console.log(`\n${(JSON.parse(child.stdout) as string[]).join("\n")}`);
}
