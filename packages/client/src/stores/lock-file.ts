// Mutual exclusion between processes through a lock file, as a directory-based store
// needs it (one refresh of a session at a time, whichever CLI or service does it).
//
// The lock is a file created with O_CREAT|O_EXCL that names its holder (pid, host, a
// random token). Waiters retry with short random sleeps. A lock whose holder is gone (same
// host, `process.kill(pid, 0)` fails with ESRCH) or that was not refreshed for `staleMs` is
// broken; a holder refreshes its lock's mtime while it runs, so a long critical section
// is not mistaken for an abandoned one. Within one process calls are chained per lock
// path, so a process never waits on a lock it holds itself.
import { randomBytes } from "node:crypto";
import { link, open, readFile, rename, stat, unlink, utimes } from "node:fs/promises";
import { hostname } from "node:os";
import { resolve } from "node:path";
import { serialLock } from "./serial-lock.js";

export interface FileLockOptions {
  /** A lock not refreshed for this long is abandoned (default 30 s). */
  staleMs?: number;
  /** Base pause between attempts while the lock is held (default 25 ms, plus jitter). */
  retryMs?: number;
}

interface LockContent {
  pid?: unknown;
  host?: unknown;
  time?: unknown;
  token?: unknown;
}

const DEFAULT_STALE_MS = 30_000;
const DEFAULT_RETRY_MS = 25;

/** Chains calls per lock path within this process. */
const inProcess = serialLock();

/**
 * Runs `fn` while holding the lock file at `path` (its directory must exist), then removes
 * the lock, also when `fn` throws.
 */
export function withFileLock<T>(
  path: string,
  fn: () => Promise<T>,
  options: FileLockOptions = {},
): Promise<T> {
  const lockPath = resolve(path);
  return inProcess(lockPath, () => holdFileLock(lockPath, fn, options));
}

async function holdFileLock<T>(path: string, fn: () => Promise<T>, options: FileLockOptions): Promise<T> {
  const staleMs = options.staleMs ?? DEFAULT_STALE_MS;
  const retryMs = options.retryMs ?? DEFAULT_RETRY_MS;
  const token = randomBytes(16).toString("hex");
  await acquire(path, token, staleMs, retryMs);
  const heartbeat = setInterval(
    () => {
      const now = new Date();
      utimes(path, now, now).catch(() => undefined);
    },
    Math.max(staleMs / 3, 10),
  );
  heartbeat.unref?.();
  try {
    return await fn();
  } finally {
    clearInterval(heartbeat);
    await release(path, token);
  }
}

async function acquire(path: string, token: string, staleMs: number, retryMs: number): Promise<void> {
  const content = JSON.stringify({ pid: process.pid, host: hostname(), time: Date.now(), token });
  for (;;) {
    let handle: Awaited<ReturnType<typeof open>> | undefined;
    try {
      handle = await open(path, "wx", 0o600);
    } catch (error) {
      if (errorCode(error) !== "EEXIST") throw error;
    }
    if (handle) {
      try {
        await handle.writeFile(content);
      } finally {
        await handle.close();
      }
      return;
    }
    if (await breakIfStale(path, staleMs)) continue;
    await sleep(retryMs + Math.random() * retryMs);
  }
}

/** Removes the lock if it is abandoned; true when the caller should try again at once. */
async function breakIfStale(path: string, staleMs: number): Promise<boolean> {
  let info: Awaited<ReturnType<typeof stat>>;
  let text: string;
  try {
    info = await stat(path);
    text = await readFile(path, "utf8");
  } catch (error) {
    if (errorCode(error) === "ENOENT") return true;
    throw error;
  }
  if (!isStale(text, info.mtimeMs, staleMs)) return false;

  // Move the lock aside rather than unlinking it, then check that what was moved is the
  // lock judged abandoned: another waiter may have broken it and taken a new one meanwhile.
  const aside = `${path}.stale-${randomBytes(6).toString("hex")}`;
  try {
    await rename(path, aside);
  } catch (error) {
    if (errorCode(error) === "ENOENT") return true;
    throw error;
  }
  let same = false;
  try {
    const moved = await stat(aside);
    same =
      moved.ino === info.ino && moved.mtimeMs === info.mtimeMs && (await readFile(aside, "utf8")) === text;
  } catch {
    same = false;
  }
  if (!same) {
    // A live holder's lock was moved: put it back unless yet another lock exists.
    await link(aside, path).catch(() => undefined);
  }
  await unlink(aside).catch(() => undefined);
  return same;
}

function isStale(text: string, mtimeMs: number, staleMs: number): boolean {
  if (Date.now() - mtimeMs > staleMs) return true;
  let holder: LockContent;
  try {
    holder = JSON.parse(text) as LockContent;
  } catch {
    // Being written right now, or garbage: only age can tell.
    return false;
  }
  if (typeof holder !== "object" || holder === null) return false;
  if (typeof holder.pid !== "number" || !Number.isSafeInteger(holder.pid) || holder.pid <= 0) return false;
  if (typeof holder.host === "string" && holder.host !== hostname()) return false;
  return !isProcessAlive(holder.pid);
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return errorCode(error) !== "ESRCH";
  }
}

async function release(path: string, token: string): Promise<void> {
  try {
    const holder = JSON.parse(await readFile(path, "utf8")) as LockContent;
    if (holder?.token === token) await unlink(path);
  } catch {
    // Already gone (broken as stale, or the directory was removed): nothing to release.
  }
}

function errorCode(error: unknown): string | undefined {
  return typeof error === "object" && error !== null && "code" in error
    ? String((error as { code: unknown }).code)
    : undefined;
}

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}
