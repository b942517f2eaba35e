/**
 * A data folder the hub cannot write (read-only, or on a full disk) stops `meshauth start`
 * at once with one line naming the folder and a non-zero exit, instead of a hub that
 * starts and then fails requests.
 */
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { chmodSync, closeSync, mkdirSync, openSync, readdirSync, writeSync } from "node:fs";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { cliArgs, type Run, root } from "./helpers/cli.js";
import { cleanup, tempDir } from "./helpers/engines.js";

after(cleanup);

const isRoot = process.getuid?.() === 0;
const NOBODY = 65534;

/** `meshauth start` on `dataDir`; as root it runs as nobody, for whom permissions hold. */
function start(dataDir: string, asNobody = false): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [...cliArgs, "start"],
      {
        cwd: root,
        env: {
          PATH: process.env.PATH ?? "",
          HOME: "/tmp",
          MESHAUTH_DATA_DIR: dataDir,
          PORT: "0",
          LOG_LEVEL: "silent",
        },
        timeout: 60_000,
        ...(asNobody ? { uid: NOBODY, gid: NOBODY } : {}),
      },
      (error, stdout, stderr) =>
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

function canMount(): boolean {
  if (!isRoot) return false;
  const probe = tempDir("meshauth-mount-");
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", probe], { stdio: "ignore" });
    execFileSync("umount", [probe], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

describe("a data folder the hub cannot write", () => {
  test("read-only: one line naming the folder, exit 1, nothing started", async () => {
    const parent = tempDir();
    chmodSync(parent, 0o755);
    const dataDir = join(parent, "data");
    mkdirSync(dataDir, { mode: 0o755 });
    // Root writes anywhere, so the hub runs as nobody on root's folder; otherwise 0555.
    if (!isRoot) chmodSync(dataDir, 0o555);
    const r = await start(dataDir, isRoot);
    if (!isRoot) chmodSync(dataDir, 0o755);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(
      r.stderr.trim(),
      `meshauth: data folder ${dataDir} is not writable (EACCES): permission denied: run the hub as a user who may write there, or set MESHAUTH_DATA_DIR`,
    );
    assert.doesNotMatch(r.stdout, /listening/);
    assert.deepEqual(readdirSync(dataDir), [], "nothing is left in the folder");
  });

  test("a file where the folder should be: named, exit 1", async () => {
    const file = join(tempDir(), "data");
    closeSync(openSync(file, "w"));
    const r = await start(file);
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(`^meshauth: data folder ${file} is not writable \\((EEXIST|ENOTDIR)\\)`),
    );
  });

  const mountable = canMount();
  test("full disk: one line naming the folder, exit 1", {
    skip: mountable ? false : "needs root and tmpfs mounts to make a full file system",
  }, async () => {
    const dataDir = tempDir("meshauth-full-");
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=256k", "tmpfs", dataDir]);
    try {
      // Fill it to the last block.
      const fd = openSync(join(dataDir, "filler"), "w");
      const chunk = Buffer.alloc(4096, 1);
      try {
        for (;;) writeSync(fd, chunk);
      } catch (e) {
        assert.equal((e as NodeJS.ErrnoException).code, "ENOSPC");
      } finally {
        closeSync(fd);
      }
      const r = await start(dataDir);
      assert.equal(r.code, 1, r.stderr);
      assert.equal(
        r.stderr.trim(),
        `meshauth: data folder ${dataDir} is not writable (ENOSPC): the disk is full: free space there or set MESHAUTH_DATA_DIR`,
      );
      assert.deepEqual(readdirSync(dataDir), ["filler"]);
    } finally {
      execFileSync("umount", [dataDir]);
    }
  });
});
