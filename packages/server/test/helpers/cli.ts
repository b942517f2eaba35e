import { execFile } from "node:child_process";
import { join } from "node:path";

export const root = new URL("../../../..", import.meta.url).pathname;
/** Runs the CLI from its sources, as `npx meshauth` would after a build. */
export const cliArgs = [
  "--conditions=development",
  "--import",
  "tsx",
  join(root, "packages/server/src/cli.ts"),
];

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program to its end with only PATH (plus `env`) in its environment. */
export function run(
  file: string,
  args: string[],
  env: Record<string, string> = {},
  cwd = root,
): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      file,
      args,
      { cwd, env: { PATH: process.env.PATH ?? "", ...env }, timeout: 60_000 },
      (error, stdout, stderr) =>
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

export function cli(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return run(process.execPath, [...cliArgs, ...args], { LOG_LEVEL: "silent", ...env });
}
