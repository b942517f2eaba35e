import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { hasNodeSqlite, openSqlite, sqliteDriverFor } from "../src/storage/sqlite-driver.js";
import { storageUnavailable } from "../src/storage/unavailable.js";
import { cleanup, tempDir } from "./helpers/engines.js";

after(cleanup);

describe("SQLite driver per Node version", () => {
  test("node:sqlite from Node 22.13 on, better-sqlite3 before", () => {
    assert.equal(sqliteDriverFor("20.20.2", ""), "better-sqlite3");
    assert.equal(sqliteDriverFor("22.12.0", ""), "better-sqlite3");
    assert.equal(sqliteDriverFor("22.13.0", ""), "node:sqlite");
    assert.equal(sqliteDriverFor("23.3.0", ""), "better-sqlite3");
    assert.equal(sqliteDriverFor("24.0.0", ""), "node:sqlite");
    assert.equal(sqliteDriverFor("24.22.3", ""), "node:sqlite");
    assert.equal(sqliteDriverFor("26.1.0", ""), "node:sqlite");
  });

  test("an override is checked: better-sqlite3 is refused on Node 24, node:sqlite needs 22.13", () => {
    assert.throws(() => sqliteDriverFor("24.22.3", "better-sqlite3"), /refused on Node 24\.22\.3/);
    assert.throws(() => sqliteDriverFor("20.20.2", "node:sqlite"), /needs Node 22\.13/);
    assert.throws(() => sqliteDriverFor("22.20.0", "sqlite3"), /MESHAUTH_SQLITE_DRIVER must be/);
    assert.equal(sqliteDriverFor("22.20.0", "better-sqlite3"), "better-sqlite3");
  });

  test("this Node's driver opens a file in WAL mode with foreign keys on", async () => {
    const db = await openSqlite(join(tempDir(), "driver.sqlite"));
    const mode = db.prepare("PRAGMA journal_mode").all([]) as { journal_mode: string }[];
    assert.equal(mode[0]?.journal_mode, "wal");
    const fk = db.prepare("PRAGMA foreign_keys").all([]) as { foreign_keys: number }[];
    assert.equal(fk[0]?.foreign_keys, 1);
    const create = db.prepare("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)");
    assert.equal(create.reader, false);
    create.run([]);
    const insert = db.prepare("INSERT INTO t (v) VALUES (?) RETURNING id");
    assert.equal(insert.reader, true);
    assert.deepEqual(insert.all(["a"]), [{ id: 1 }]);
    assert.equal(db.prepare("INSERT INTO t (v) VALUES (?)").run(["b"]).changes, 1);
    // Rows are plain objects on both drivers.
    assert.deepEqual(db.prepare("SELECT id, v FROM t ORDER BY id").all([]), [
      { id: 1, v: "a" },
      { id: 2, v: "b" },
    ]);
    assert.deepEqual([...db.prepare("SELECT v FROM t WHERE id > ?").iterate([1])], [{ v: "b" }]);
    db.close();
  });

  test("a hub process never loads better-sqlite3 where node:sqlite exists", () => {
    // In a child, so the module list is only what opening a database loads.
    const script = `
      import { openSqlite } from "./packages/server/src/storage/sqlite-driver.ts";
      const db = await openSqlite(":memory:");
      db.close();
      const { createRequire } = await import("node:module");
      const loaded = Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes("better-sqlite3"));
      console.log(JSON.stringify({ loaded }));`;
    const root = new URL("../../..", import.meta.url).pathname;
    const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      cwd: root,
      encoding: "utf8",
    });
    assert.equal(r.status, 0, r.stderr);
    const { loaded } = JSON.parse(r.stdout.trim().split("\n").at(-1) ?? "{}") as { loaded: boolean };
    assert.equal(loaded, !hasNodeSqlite());
    assert.doesNotMatch(r.stderr, /ExperimentalWarning/);
  });

  test("a database locked past the busy timeout is `unavailable` (503), a bad statement is not", async () => {
    const path = join(tempDir(), "busy.sqlite");
    const holder = await openSqlite(path);
    const waiter = await openSqlite(path);
    waiter.prepare("PRAGMA busy_timeout = 0").all([]);
    holder.prepare("BEGIN IMMEDIATE").run([]);
    let busy: unknown;
    try {
      waiter.prepare("BEGIN IMMEDIATE").run([]);
    } catch (e) {
      busy = e;
    }
    holder.prepare("ROLLBACK").run([]);
    assert.ok(busy instanceof Error, "the second writer was refused");
    const mapped = storageUnavailable(busy);
    assert.equal(mapped?.code, "unavailable");
    assert.equal(mapped?.message, "storage is busy; try again shortly");
    assert.equal(mapped?.details.retry_after, 2);

    let syntax: unknown;
    try {
      waiter.prepare("SELEC 1");
    } catch (e) {
      syntax = e;
    }
    assert.ok(syntax instanceof Error);
    assert.equal(storageUnavailable(syntax), undefined);
    holder.close();
    waiter.close();
  });
});
