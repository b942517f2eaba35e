import { randomBytes } from "node:crypto";
import {
  chmodSync,
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";

/** Why a data folder cannot be used, in words an operator acts on. */
function problem(code: string | undefined): string {
  switch (code) {
    case "EACCES":
    case "EPERM":
      return "permission denied: run the hub as a user who may write there, or set MESHAUTH_DATA_DIR";
    case "EROFS":
      return "it is on a read-only file system: set MESHAUTH_DATA_DIR to a writable folder";
    case "ENOSPC":
    case "EDQUOT":
      return "the disk is full: free space there or set MESHAUTH_DATA_DIR";
    case "ENOTDIR":
    case "EEXIST":
      return "a file is in the way: the path must be a folder";
    default:
      return code ?? "unknown error";
  }
}

/** The 16 KiB written to prove the folder takes data, not only names. */
const PROBE_BYTES = 16 * 1024;

/**
 * Creates the data folder readable by its owner only, and proves the hub can write
 * there (a file with data, synced, then removed): a read-only or full folder stops
 * the start with one line naming the folder, rather than failing later mid-request.
 */
export function ensureDataDir(dir: string): void {
  const probe = join(dir, `.write-probe-${process.pid}`);
  let fd: number | undefined;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    fd = openSync(probe, "w", 0o600);
    writeSync(fd, Buffer.alloc(PROBE_BYTES));
    fsyncSync(fd);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new Error(`data folder ${dir} is not writable (${err.code ?? "error"}): ${problem(err.code)}`);
  } finally {
    if (fd !== undefined) {
      closeSync(fd);
      rmSync(probe, { force: true });
    }
  }
}

/**
 * Reads a secret file from the data folder, or creates it (mode 0600) with `make()`.
 * Returns whether it was created, so the caller can show a new secret once.
 */
export function loadOrCreateSecretFile(
  dir: string,
  name: string,
  make: () => string,
): { value: string; created: boolean; path: string } {
  const path = join(dir, name);
  if (existsSync(path)) {
    const mode = statSync(path).mode & 0o777;
    // Tighten a copy that lost its mode (e.g. restored from a backup).
    if (mode & 0o077) chmodSync(path, 0o600);
    const value = readFileSync(path, "utf8").trim();
    if (value === "") throw new Error(`${path} is empty; delete it to have a new one generated`);
    return { value, created: false, path };
  }
  const value = make();
  // wx: never overwrite a file another process created in the meantime.
  try {
    writeFileSync(path, `${value}\n`, { mode: 0o600, flag: "wx" });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return loadOrCreateSecretFile(dir, name, make);
    throw e;
  }
  return { value, created: true, path };
}

export const newMasterKey = (): string => randomBytes(32).toString("base64");
export const newAdminToken = (): string => `ma_${randomBytes(32).toString("base64url")}`;
