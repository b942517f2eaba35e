/**
 * A PostgreSQL server of our own for fault scripts: initdb into a temporary folder and
 * listen on a free port, so it can be stopped and started under the hubs without
 * touching the machine's shared server (which other test runs use at the same time).
 * As root, the server runs as the `postgres` user (PostgreSQL refuses to run as root).
 */
import { execFile, execFileSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "./hub.js";

export interface PrivatePostgres {
  /** postgres://postgres@127.0.0.1:PORT/postgres */
  url: string;
  port: number;
  /** Stops the server (and waits until it has). */
  stop(mode?: "fast" | "immediate"): Promise<void>;
  start(): Promise<void>;
  destroy(): void;
}

/** Whether initdb and pg_ctl can be found (the PostgreSQL server package is installed). */
export function hasPostgresTools(): boolean {
  try {
    binDir();
    return true;
  } catch {
    return false;
  }
}

function binDir(): string {
  const base = "/usr/lib/postgresql";
  const fromPath = (() => {
    try {
      return execFileSync("pg_config", ["--bindir"], { encoding: "utf8" }).trim();
    } catch {
      return undefined;
    }
  })();
  if (fromPath && existsSync(join(fromPath, "initdb"))) return fromPath;
  if (existsSync(base)) {
    const versions = readdirSync(base).sort((a, b) => Number(b) - Number(a));
    for (const v of versions) if (existsSync(join(base, v, "bin", "initdb"))) return join(base, v, "bin");
  }
  throw new Error("PostgreSQL's initdb was not found (install postgresql)");
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const bin = binDir();
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "meshauth-pg-"));
  const data = join(dir, "data");
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
    chownSync(dir, uid, gid);
  }
  chmodSync(dir, 0o700);
  const command = (tool: string, args: string[]): [string, string[]] =>
    asRoot ? ["runuser", ["-u", "postgres", "--", join(bin, tool), ...args]] : [join(bin, tool), args];
  const runSync = (tool: string, args: string[]) => {
    const [file, argv] = command(tool, args);
    execFileSync(file, argv, { stdio: ["ignore", "ignore", "pipe"] });
  };
  // Asynchronous, so the clients and samplers of a script keep running meanwhile.
  const run = async (tool: string, args: string[]) => {
    const [file, argv] = command(tool, args);
    await promisify(execFile)(file, argv);
  };
  runSync("initdb", ["-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"]);
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c max_connections=100`;
  const pg: PrivatePostgres = {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    start() {
      return run("pg_ctl", [
        "-D",
        data,
        "-o",
        options,
        "-l",
        join(dir, "server.log"),
        "-w",
        "-t",
        "60",
        "start",
      ]);
    },
    stop(mode = "fast") {
      return run("pg_ctl", ["-D", data, "-m", mode, "-w", "-t", "60", "stop"]);
    },
    destroy() {
      try {
        runSync("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]);
      } catch {
        // already stopped
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await pg.start();
  return pg;
}
