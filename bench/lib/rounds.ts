/**
 * Sequential ops/s measured in interleaved rounds: every case runs one operation at a
 * time (awaited) for a fixed time, round after round, and the median round counts, so
 * a noisy neighbour hurts all cases alike. ROUNDS and ROUND_MS (environment) change the
 * rounds (default 3 of 1500 ms).
 */
export const ROUNDS = Number(process.env.ROUNDS ?? 3);
export const ROUND_MS = Number(process.env.ROUND_MS ?? 1500);
const WARMUP_MS = 400;

export interface Case {
  name: string;
  op: () => Promise<void>;
}

async function timed(op: () => Promise<void>, ms: number): Promise<number> {
  let n = 0;
  const start = performance.now();
  const end = start + ms;
  while (performance.now() < end) {
    await op();
    n++;
  }
  return (n * 1000) / (performance.now() - start);
}

/** Median ops/s per case name. */
export async function measure(cases: Case[]): Promise<Map<string, number>> {
  for (const c of cases) await timed(c.op, WARMUP_MS);
  const rounds = new Map<string, number[]>(cases.map((c) => [c.name, []]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const c of cases) rounds.get(c.name)?.push(await timed(c.op, ROUND_MS));
  }
  const medians = new Map<string, number>();
  for (const [name, values] of rounds) {
    const sorted = [...values].sort((a, b) => a - b);
    medians.set(name, sorted[Math.floor(sorted.length / 2)] ?? 0);
  }
  return medians;
}

export function print(title: string, rows: [string, number, string][]): void {
  console.log(`\n${title}`);
  const width = Math.max(...rows.map(([name]) => name.length));
  console.log(`${"case".padEnd(width)}  ${"ops/s".padStart(9)}  ratio`);
  for (const [name, ops, ratio] of rows) {
    console.log(`${name.padEnd(width)}  ${ops.toFixed(0).padStart(9)}  ${ratio}`);
  }
}
