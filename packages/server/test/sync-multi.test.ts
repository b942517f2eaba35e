/**
 * Two hub processes on one PostgreSQL database: a write through one reaches a live stream
 * on the other (LISTEN/NOTIFY), and concurrent writers through both never make a reader
 * skip a document (checkpoint order is commit order).
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { StreamChanges, StreamFrame } from "@meshauth/sync";
import { cleanup, engines, tempDir } from "./helpers/engines.js";
import { freePort } from "./helpers/hub.js";
import { type HubProcess, spawnHub } from "./helpers/multi.js";
import { ids, loginAs } from "./helpers/sync.js";

const postgres = engines().find((e) => e.name === "postgres");
const ALL = {
  read: { everything: false, queriesByCollection: { todos: ["true"] } },
  write: { everything: false, queriesByCollection: { todos: ["true"] } },
};
const create = (owner: string, list: string) => ({
  assumedMasterState: null,
  newDocumentState: { owner, list, _deleted: false },
});

describe("sync across hub processes on one PostgreSQL database", { skip: !postgres }, () => {
  const hubs: HubProcess[] = [];
  let a: HubProcess;
  let b: HubProcess;
  let app: { id: string; clientSecret: string };

  before(async () => {
    if (!postgres) return;
    const { url: databaseUrl } = (await postgres.database()) as { kind: "postgres"; url: string };
    const dataDir = tempDir();
    const [pa, pb] = [await freePort(), await freePort()];
    a = await spawnHub({ port: pa, dataDir, databaseUrl });
    hubs.push(a);
    b = await spawnHub({ port: pb, dataDir, databaseUrl });
    hubs.push(b);
    const auth = {
      authorization: `Bearer ${readFileSync(join(dataDir, "admin-token"), "utf8").trim()}`,
      "content-type": "application/json",
    };
    const created = await fetch(`${a.url}/admin/apps`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ name: "multi", providers: ["client"] }),
    });
    const { app: made } = (await created.json()) as { app: { id: string } };
    const secret = await fetch(`${a.url}/admin/apps/${made.id}/secrets`, {
      method: "POST",
      headers: auth,
      body: "{}",
    });
    app = { id: made.id, clientSecret: ((await secret.json()) as { clientSecret: string }).clientSecret };
    // Declared through B, used through A: every process reads collections from the database.
    const declared = await fetch(`${b.url}/admin/apps/${made.id}/collections`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ name: "todos", idFields: ["owner", "list"] }),
    });
    assert.equal(declared.status, 201, await declared.clone().text());
  });

  after(async () => {
    await Promise.all(hubs.map((h) => h.stop()));
    await cleanup();
  });

  test("a write through hub A reaches a live stream on hub B", async () => {
    const writer = await loginAs(a.url, app, "writer", ALL);
    const reader = await loginAs(b.url, app, "reader", ALL);
    const stream = await reader.stream("todos");
    assert.equal(stream.status, 200);
    await stream.next((f) => f === "RESYNC");
    try {
      const pushed = await writer.call("todos", "push", { rows: [create("writer", "through-a")] });
      assert.deepEqual(pushed.body, { conflicts: [], refused: [] });
      const frame = (await stream.next(
        (f: StreamFrame) => typeof f === "object" && "documents" in f,
      )) as StreamChanges;
      assert.deepEqual(ids(frame.documents), ["writer/through-a"]);
    } finally {
      stream.close();
    }
  });

  test("concurrent writers through both hubs: a reader pulling meanwhile misses nothing", async () => {
    const wa = await loginAs(a.url, app, "wa", ALL);
    const wb = await loginAs(b.url, app, "wb", ALL);
    const reader = await loginAs(b.url, app, "reader2", ALL);
    const seen = new Set<string>();
    let checkpoint: unknown = null;
    let writing = true;
    const pull = async () => {
      const res = await reader.call("todos", "pull", { checkpoint, limit: 7 });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      for (const id of ids(res.body.documents)) seen.add(id);
      checkpoint = res.body.checkpoint;
      return res.body.documents.length;
    };
    const writes = (async () => {
      const all: Promise<unknown>[] = [];
      for (let i = 0; i < 30; i++) {
        all.push(wa.call("todos", "push", { rows: [create("wa", `n${i}`), create("wa", `m${i}`)] }));
        all.push(wb.call("todos", "push", { rows: [create("wb", `n${i}`)] }));
      }
      await Promise.all(all);
      writing = false;
    })();
    while (writing) await pull();
    await writes;
    while ((await pull()) > 0);
    const expected = [...Array(30).keys()].flatMap((i) => [`wa/n${i}`, `wa/m${i}`, `wb/n${i}`]);
    for (const id of expected) assert.ok(seen.has(id), `missed ${id}`);
  });
});
