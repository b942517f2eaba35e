import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** Creates the data folder readable by its owner only. */
export function ensureDataDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
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
