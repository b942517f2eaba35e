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
import { type BigIntStats, chmodSync, type FSWatcher, watch as fsWatch, mkdirSync } from "node:fs";
import { chmod, type FileHandle, lstat, mkdir, open, readFile, rename, stat, unlink } from "node:fs/promises";
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

  // What `watch` needs to tell this store's own changes of session.json from anyone else's.
  // Each change this store makes is handed to every watcher as the state it left the file in
  // (see `fileState`) and counted as the one file-change event it causes (one rename or
  // unlink, as inotify reports it; where a platform reports more, a listener may be called
  // needlessly, which only makes the client read the store again). A watcher forgets them
  // at its next check, so they never excuse a later change.
  const sessionWatches = new Set<SessionWatch>();
  /** Session changes of this store under way; a watcher checks only when there are none. */
  let ownChangesRunning = 0;
  let ownChangesStarted = 0;
  const whenIdle: (() => void)[] = [];

  async function changeSession<T>(fn: (changed: (state: FileState) => void) => Promise<T>): Promise<T> {
    ownChangesRunning++;
    ownChangesStarted++;
    try {
      return await fn((state) => {
        for (const w of sessionWatches) {
          w.own.push(state);
          w.ownEvents++;
        }
      });
    } finally {
      ownChangesRunning--;
      if (ownChangesRunning === 0) for (const resume of whenIdle.splice(0)) resume();
    }
  }

  /** session.json's state once no own change is under way (so none is caught half done). */
  async function settledSessionState(): Promise<FileState> {
    for (;;) {
      if (ownChangesRunning > 0) await new Promise<void>((resume) => whenIdle.push(resume));
      const started = ownChangesStarted;
      const state = await fileState(path(SESSION_FILE));
      if (ownChangesRunning === 0 && ownChangesStarted === started) return state;
    }
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

  async function save<T>(entry: Entry<T>, value: T, changed?: (state: FileState) => void): Promise<void> {
    const text = `${JSON.stringify(value, null, 2)}\n`;
    await ensureDir();
    const keptAside = await keepIfCorrupt(path(entry.file), (old) => {
      entry.parse(old);
    });
    if (keptAside) changed?.(null);
    const written = await writeAtomically(path(entry.file), text);
    changed?.(stateOf(written));
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
    saveSession: (session) => changeSession((changed) => save(SESSION, session, changed)),
    deleteSession: () =>
      changeSession(async (changed) => {
        if (await remove(path(SESSION_FILE))) changed(null);
      }),

    loadCertificate: () => load(CERTIFICATE),
    saveCertificate: (certificate) => save(CERTIFICATE, certificate),
    async deleteCertificate() {
      await remove(path(CERTIFICATE_FILE));
    },

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
      const state: SessionWatch = { own: [], ownEvents: 0 };
      /** Events for session.json seen so far, and how many of those beyond own changes were reported. */
      let events = 0;
      let reported = 0;
      // What this watcher saw last; starts as the file's state at subscription.
      let seen: Promise<FileState> = settledSessionState();

      const check = () => {
        seen = seen.then(async (before) => {
          const now = await settledSessionState();
          // Every own change has ended and is in `state`: what it does not explain is someone else's.
          const own = state.own.splice(0);
          const unexplained = events - state.ownEvents;
          // A state this store did not leave, or more events than its own changes made (a
          // session written and deleted again between two checks leaves the same state).
          const external = (now !== before && !own.includes(now)) || unexplained > reported;
          reported = Math.max(reported, unexplained);
          // Outside this chain, so a throwing listener fails like any event listener.
          if (!stopped && external) queueMicrotask(onChange);
          return now;
        });
      };
      const stop = () => {
        stopped = true;
        if (timer !== undefined) clearTimeout(timer);
        watcher?.close();
        sessionWatches.delete(state);
        watchers.delete(stop);
      };
      try {
        // The directory must exist to be watched; making it is harmless.
        watcher = fsWatch(ensureDirSync(root), { persistent: false }, (_event, filename) => {
          if (filename !== null && filename !== SESSION_FILE) return;
          events++;
          if (timer !== undefined) clearTimeout(timer);
          timer = setTimeout(check, 30);
        });
        watcher.on("error", stop);
      } catch {
        // No file-change notification here (some network file systems): nothing to watch.
        return () => {};
      }
      sessionWatches.add(state);
      watchers.add(stop);
      return stop;
    },

    async close() {
      for (const stop of [...watchers]) stop();
    },
  };
}

/**
 * What `watch` compares: a file's identity and version (device, inode, size, modification
 * and birth times), which a rename keeps and a rewrite changes, or null when it is missing.
 */
type FileState = string | null;

/** A watcher's account of its store's own session changes since its last check. */
interface SessionWatch {
  /** The states own changes left session.json in, oldest first. */
  own: FileState[];
  /** How many file-change events own changes caused (one each). */
  ownEvents: number;
}

function stateOf(info: BigIntStats): FileState {
  return `${info.dev}:${info.ino}:${info.size}:${info.mtimeNs}:${info.birthtimeNs}`;
}

async function fileState(file: string): Promise<FileState> {
  try {
    return stateOf(await stat(file, { bigint: true }));
  } catch (error) {
    const code = errorCode(error);
    return code === "ENOENT" || code === "ENOTDIR" ? null : `unreadable:${code}`;
  }
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

/** Moves an existing file that `check` rejects to `<file>.corrupt-<time>`; true if it did. */
async function keepIfCorrupt(file: string, check: (text: string) => unknown): Promise<boolean> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if (errorCode(error) === "ENOENT") return false;
    // Unreadable (a directory, no permission): move it aside as well.
    text = "";
  }
  try {
    await check(text);
    return false;
  } catch {
    // Corrupted: keep it.
  }
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  let target = `${file}.corrupt-${stamp}`;
  while (await exists(target)) target = `${file}.corrupt-${stamp}-${randomBytes(3).toString("hex")}`;
  try {
    await rename(file, target);
    return true;
  } catch (error) {
    if (errorCode(error) !== "ENOENT") throw error;
    return false;
  }
}

/**
 * Writes `<file>.tmp-<random>` with mode 0600, syncs it and renames it over `file`.
 * Returns the written file's status, taken before the rename (which keeps it).
 */
async function writeAtomically(file: string, content: string): Promise<BigIntStats> {
  const temporary = `${file}.tmp-${randomBytes(6).toString("hex")}`;
  const handle = await open(temporary, "wx", 0o600);
  let written: BigIntStats;
  try {
    try {
      // The umask may have taken bits away; the file is exactly 0600.
      await handle.chmod(0o600);
      await handle.writeFile(content, "utf8");
      await handle.sync();
      written = await handle.stat({ bigint: true });
    } finally {
      await handle.close();
    }
    await rename(temporary, file);
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
  await syncDirectory(file);
  return written;
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

/** Deletes a file; false if there was none. */
async function remove(file: string): Promise<boolean> {
  try {
    await unlink(file);
    return true;
  } catch (error) {
    if (errorCode(error) !== "ENOENT") throw error;
    return false;
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
