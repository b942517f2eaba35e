// Shared by the x509 tests: a scratch directory and a way to run the openssl CLI.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";

export interface OpensslResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function openssl(args: string[], input?: string | Uint8Array): OpensslResult {
  const result = spawnSync("openssl", args, { input, encoding: "utf8" });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** openssl with binary output (DER). */
export function opensslBytes(args: string[], input?: string | Uint8Array): Buffer {
  const result = spawnSync("openssl", args, { input });
  if (result.error) throw result.error;
  if (result.status !== 0) throw new Error(`openssl ${args.join(" ")} failed: ${result.stderr.toString()}`);
  return result.stdout;
}

/** A shell pipeline, for commands quoted verbatim from documentation. */
export function shell(command: string): string {
  const result = spawnSync("bash", ["-c", `set -euo pipefail; ${command}`], { encoding: "utf8" });
  if (result.error) throw result.error;
  if (result.status !== 0) throw new Error(`${command} failed: ${result.stderr}`);
  return result.stdout;
}

/** A temporary directory removed after the test file finishes. */
export function scratchDir(): { dir: string; write(name: string, content: string | Uint8Array): string } {
  const dir = mkdtempSync(join(tmpdir(), "meshauth-x509-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return {
    dir,
    write(name, content) {
      const path = join(dir, name);
      writeFileSync(path, content);
      return path;
    },
  };
}
