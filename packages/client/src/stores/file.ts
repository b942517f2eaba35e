// A ClientStore in a directory, for CLIs, server-side peers and devices: one directory per
// app and device, readable by its owner only.
//
//   device-key.pem             the P-256 private key, PKCS#8 PEM
//   session.json               the StoredSession
//   certificate.json           the StoredCertificate
//   pending-revocations.json   refresh tokens still to revoke (string[])
//   <name>.lock                held while `exclusive(name, ...)` runs
//
// Every file is written atomically (temporary file, fsync, rename) with mode 0600, the
// directory is made with mode 0700. Like OpenSSH, the store refuses to read secrets from a
// file its group or other users may access, or that another user owns. A file that cannot
// be read is reported as `store_corrupted`; saving over it keeps it as
// `<name>.corrupt-<time>` so nothing is lost.
import { randomBytes } from "node:crypto";
import { chmodSync, type FSWatcher, watch as fsWatch, mkdirSync } from "node:fs";
import { chmod, type FileHandle, lstat, mkdir, open, readFile, rename, unlink } from "node:fs/promises";
import { join, resolve } from "node:path";
import { MeshauthClientError } from "../errors.js";
import { isStoredSession, type StoredSession } from "../session.js";
import { generatePemKeyPair, importPrivateKeyPem, KeyFormatError } from "./key-pair.js";
import { withFileLock } from "./lock-file.js";
import type { ClientStore, StoredCertificate } from "./types.js";

export const KEY_FILE = "device-key.pem";
export const SESSION_FILE = "session.json";
export const CERTIFICATE_FILE = "certificate.json";
export const PENDING_REVOCATIONS_FILE = "pending-revocations.json";

/** A file store: a ClientStore that can also hand out its private key for TLS. */
export interface FileStore extends ClientStore {
  /** The directory, resolved to an absolute path. */
  readonly dir: string;
  /** The device private key file's content (PKCS#8 PEM). Throws `not_found` without a key. */
  exportPrivateKeyPem(): Promise<string>;
  /** Calls `onChange` when another store or process changed `session.json`. */
  watch(onChange: () => void): () => void;
  /** Stops every watcher. */
  close(): Promise<void>;
}

interface Entry<T> {
  file: string;
  /** What the file should hold, for error messages. */
  what: string;
  /** Holds a secret: refused when others may read it. */
  secret: boolean;
  /** How to repair it, for error messages. */
  fix: string;
  parse(text: string): T;
}

const SESSION: Entry<StoredSession> = {
  file: SESSION_FILE,
  what: "a session",
  secret: true,
  fix: "log in again to replace it",
  parse: (text) => json(text, isStoredSession),
};

const CERTIFICATE: Entry<StoredCertificate> = {
  file: CERTIFICATE_FILE,
  what: "a device certificate",
  secret: false,
  fix: "log in again or request a new certificate to replace it",
  parse: (text) => json(text, isStoredCertificate),
};

const PENDING_REVOCATIONS: Entry<string[]> = {
  file: PENDING_REVOCATIONS_FILE,
  what: "a list of refresh tokens to revoke",
  secret: true,
  fix: "log out again to replace it",
  parse: (text) => json(text, isStringArray),
};

const KEY_FIX = "log in again to replace it with a new device key";

/** Keeps a store's data in `dir` (created on first write; relative paths are resolved). */
export function fileStore(dir: string): FileStore {
  const root = resolve(dir);
  const path = (file: string) => join(root, file);
  const watchers = new Set<() => void>();
  /** Contents of session.json this store wrote lately (null: deleted), not reported by `watch`. */
  const ownSessionWrites: (string | null)[] = [];

  function rememberOwnSessionWrite(text: string | null): void {
    ownSessionWrites.push(text);
    if (ownSessionWrites.length > 8) ownSessionWrites.shift();
  }

  async function ensureDir(): Promise<void> {
    const created = await mkdir(root, { recursive: true, mode: 0o700 });
    // The umask may have taken bits away; a directory made here is exactly 0700.
    if (created !== undefined) await chmod(root, 0o700);
  }

  async function load<T>(entry: Entry<T>): Promise<T | undefined> {
    const file = path(entry.file);
    const text = await readPrivate(file, entry.secret);
    if (text === undefined) return undefined;
    try {
      return entry.parse(text);
    } catch (error) {
      throw corrupted(file, `is not ${entry.what} (${(error as Error).message})`, entry.fix);
    }
  }

  async function save<T>(entry: Entry<T>, value: T): Promise<void> {
    const text = `${JSON.stringify(value, null, 2)}\n`;
    await ensureDir();
    await keepIfCorrupt(path(entry.file), (old) => {
      entry.parse(old);
    });
    if (entry.file === SESSION_FILE) rememberOwnSessionWrite(text);
    await writeAtomically(path(entry.file), text);
  }

  async function loadKeyText(): Promise<{ text: string; keys: CryptoKeyPair } | undefined> {
    const file = path(KEY_FILE);
    const text = await readPrivate(file, true);
    if (text === undefined) return undefined;
    try {
      return { text, keys: await importPrivateKeyPem(text) };
    } catch (error) {
      if (!(error instanceof KeyFormatError)) throw error;
      throw corrupted(file, `is not a P-256 private key in PKCS#8 PEM: ${error.message}`, KEY_FIX);
    }
  }

  return {
    dir: root,

    async loadKey() {
      return (await loadKeyText())?.keys;
    },

    async createKey() {
      const { keys, pem } = await generatePemKeyPair();
      await ensureDir();
      await keepIfCorrupt(path(KEY_FILE), (old) => importPrivateKeyPem(old));
      await writeAtomically(path(KEY_FILE), pem);
      return keys;
    },

    async deleteKey() {
      await remove(path(KEY_FILE));
    },

    async exportPrivateKeyPem() {
      const loaded = await loadKeyText();
      if (!loaded) {
        throw new MeshauthClientError("not_found", `there is no device key in ${path(KEY_FILE)}`, {
          details: { path: path(KEY_FILE) },
        });
      }
      return loaded.text;
    },

    loadSession: () => load(SESSION),
    saveSession: (session) => save(SESSION, session),
    async deleteSession() {
      rememberOwnSessionWrite(null);
      await remove(path(SESSION_FILE));
    },

    loadCertificate: () => load(CERTIFICATE),
    saveCertificate: (certificate) => save(CERTIFICATE, certificate),
    deleteCertificate: () => remove(path(CERTIFICATE_FILE)),

    async loadPendingRevocations() {
      return (await load(PENDING_REVOCATIONS)) ?? [];
    },
    async savePendingRevocations(tokens) {
      if (tokens.length > 0) return save(PENDING_REVOCATIONS, tokens);
      // Nothing left to revoke: no file (a corrupted one is still kept aside first).
      await keepIfCorrupt(path(PENDING_REVOCATIONS_FILE), (old) => PENDING_REVOCATIONS.parse(old));
      await remove(path(PENDING_REVOCATIONS_FILE));
    },

    async exclusive(name, fn) {
      await ensureDir();
      return withFileLock(path(`${lockName(name)}.lock`), fn);
    },

    watch(onChange) {
      let watcher: FSWatcher | undefined;
      let timer: ReturnType<typeof setTimeout> | undefined;
      let stopped = false;
      // What this watcher saw last; starts as the file's content at subscription.
      let seen: Promise<string | null> = readOrNull(path(SESSION_FILE));

      const check = () => {
        seen = seen.then(async (before) => {
          const now = await readOrNull(path(SESSION_FILE));
          // Outside this chain, so a throwing listener fails like any event listener.
          if (!stopped && now !== before && !ownSessionWrites.includes(now)) queueMicrotask(onChange);
          return now;
        });
      };
      const stop = () => {
        stopped = true;
        if (timer !== undefined) clearTimeout(timer);
        watcher?.close();
        watchers.delete(stop);
      };
      try {
        // The directory must exist to be watched; making it is harmless.
        watcher = fsWatch(ensureDirSync(root), { persistent: false }, (_event, filename) => {
          if (filename !== null && filename !== SESSION_FILE) return;
          if (timer !== undefined) clearTimeout(timer);
          timer = setTimeout(check, 30);
        });
        watcher.on("error", stop);
      } catch {
        // No file-change notification here (some network file systems): nothing to watch.
      }
      watchers.add(stop);
      return stop;
    },

    async close() {
      for (const stop of [...watchers]) stop();
    },
  };
}

/** Reads a file the store relies on, or undefined when it does not exist. */
async function readPrivate(file: string, secret: boolean): Promise<string | undefined> {
  let handle: FileHandle;
  try {
    handle = await open(file, "r");
  } catch (error) {
    if (errorCode(error) === "ENOENT") return undefined;
    throw error;
  }
  try {
    if (secret) await checkPrivate(file, handle);
    return await handle.readFile("utf8");
  } finally {
    await handle.close();
  }
}

/** Refuses a file that others may access or that another user owns (as OpenSSH does). */
async function checkPrivate(file: string, handle: FileHandle): Promise<void> {
  // Windows has no POSIX modes or owners; its ACLs follow the user profile directory.
  if (process.platform === "win32") return;
  const info = await handle.stat();
  const uid = process.getuid?.();
  if (uid !== undefined && info.uid !== uid) {
    throw new MeshauthClientError(
      "store_insecure",
      `${file} belongs to another user (uid ${info.uid}, not ${uid}), so it cannot be trusted; ` +
        `if it is yours, fix it with: chown ${uid} ${file} && chmod 600 ${file}`,
      { details: { path: file } },
    );
  }
  if ((info.mode & 0o077) !== 0) {
    const mode = (info.mode & 0o777).toString(8).padStart(4, "0");
    throw new MeshauthClientError(
      "store_insecure",
      `${file} may be accessed by other users (mode ${mode}); it must be private to its owner. ` +
        `Fix it with: chmod 600 ${file}`,
      { details: { path: file, mode } },
    );
  }
}

/** Moves an existing file that `check` rejects to `<file>.corrupt-<time>`. */
async function keepIfCorrupt(file: string, check: (text: string) => unknown): Promise<void> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if (errorCode(error) === "ENOENT") return;
    // Unreadable (a directory, no permission): move it aside as well.
    text = "";
  }
  try {
    await check(text);
    return;
  } catch {
    // Corrupted: keep it.
  }
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  let target = `${file}.corrupt-${stamp}`;
  while (await exists(target)) target = `${file}.corrupt-${stamp}-${randomBytes(3).toString("hex")}`;
  try {
    await rename(file, target);
  } catch (error) {
    if (errorCode(error) !== "ENOENT") throw error;
  }
}

/** Writes `<file>.tmp-<random>` with mode 0600, syncs it and renames it over `file`. */
async function writeAtomically(file: string, content: string): Promise<void> {
  const temporary = `${file}.tmp-${randomBytes(6).toString("hex")}`;
  const handle = await open(temporary, "wx", 0o600);
  try {
    try {
      // The umask may have taken bits away; the file is exactly 0600.
      await handle.chmod(0o600);
      await handle.writeFile(content, "utf8");
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, file);
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
  await syncDirectory(file);
}

/** Makes the rename durable (POSIX); not possible on every platform, so best effort. */
async function syncDirectory(file: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(resolve(file, ".."), "r");
    await handle.sync();
  } catch {
    // Windows cannot open directories; the rename itself is still atomic.
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

async function remove(file: string): Promise<void> {
  try {
    await unlink(file);
  } catch (error) {
    if (errorCode(error) !== "ENOENT") throw error;
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await lstat(file);
    return true;
  } catch {
    return false;
  }
}

async function readOrNull(file: string): Promise<string | null> {
  try {
    return await readFile(file, "utf8");
  } catch {
    return null;
  }
}

function ensureDirSync(dir: string): string {
  // Synchronous because `watch` returns synchronously; only runs once per subscription.
  if (mkdirSync(dir, { recursive: true, mode: 0o700 }) !== undefined) chmodSync(dir, 0o700);
  return dir;
}

/** A safe file name for a lock: letters, digits, `.`, `_`, `-`; nothing else. */
export function lockName(name: string): string {
  const safe = name
    .replace(/[^A-Za-z0-9._-]/g, "_")
    .replace(/^\.+/, "_")
    .slice(0, 100);
  return safe === "" ? "_" : safe;
}

function corrupted(file: string, problem: string, fix: string): MeshauthClientError {
  return new MeshauthClientError(
    "store_corrupted",
    `${file} ${problem}; ${fix} (the unreadable file is then kept as ${file}.corrupt-<time>)`,
    { details: { path: file } },
  );
}

function json<T>(text: string, valid: (value: unknown) => value is T): T {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`not JSON: ${(error as Error).message}`);
  }
  if (!valid(value)) throw new Error("unexpected content");
  return value;
}

function isStoredCertificate(value: unknown): value is StoredCertificate {
  if (typeof value !== "object" || value === null) return false;
  const c = value as Record<string, unknown>;
  return (
    typeof c["certificate"] === "string" &&
    Array.isArray(c["caCertificates"]) &&
    c["caCertificates"].every((ca) => typeof ca === "string") &&
    typeof c["expiresAt"] === "number"
  );
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === "string");
}

function errorCode(error: unknown): string | undefined {
  return typeof error === "object" && error !== null && "code" in error
    ? String((error as { code: unknown }).code)
    : undefined;
}
