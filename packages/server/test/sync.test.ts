/**
 * The hub as the replication backend: what crosses the wire for identities with different
 * rules, on SQLite and PostgreSQL.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type StreamChanges, type StreamFrame, SYNC_LIMITS } from "@meshauth/sync";
import { cleanup, engines } from "./helpers/engines.js";
import { admin, createApp, startTestHub } from "./helpers/hub.js";
import { backendLogin, ids, loginAs, type SyncSession } from "./helpers/sync.js";

after(cleanup);

const rules = (read: string[], write: string[] = read) => ({
  read: { everything: false, queriesByCollection: { todos: read } },
  write: { everything: false, queriesByCollection: { todos: write } },
});
const ALICE = rules(
  ["_id.owner == 'alice' || _id.list == 'shared'"],
  ["_id.owner == 'alice' || _id.list == 'shared'"],
);
const BOB = rules(
  ["_id.owner == 'bob' || _id.list == 'shared'"],
  ["_id.owner == 'bob' || _id.list == 'shared'"],
);
const READ_ONLY = {
  read: { everything: true, queriesByCollection: {} },
  write: { everything: false, queriesByCollection: {} },
};

const todo = (owner: string, list: string, extra: Record<string, unknown> = {}) => ({
  owner,
  list,
  title: `${owner}'s ${list}`,
  _deleted: false,
  ...extra,
});
const create = (doc: Record<string, unknown>) => ({ assumedMasterState: null, newDocumentState: doc });
const isChanges = (f: StreamFrame): f is StreamChanges => typeof f === "object" && "documents" in f;

async function pullAll(s: SyncSession, collection = "todos") {
  const docs: Record<string, unknown>[] = [];
  let checkpoint: unknown = null;
  for (;;) {
    const res = await s.call(collection, "pull", { checkpoint, limit: 2 });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    docs.push(...res.body.documents);
    checkpoint = res.body.checkpoint;
    if (res.body.documents.length === 0) return { docs, checkpoint };
  }
}

for (const engine of engines()) {
  describe(`sync on ${engine.name}`, () => {
    let hub: Awaited<ReturnType<typeof startTestHub>>;
    let app: { id: string; clientSecret: string };
    let alice: SyncSession;
    let bob: SyncSession;

    before(async () => {
      hub = await startTestHub(engine, { demoApp: false });
      app = await createApp(hub, { name: "todo", providers: ["client"] });
      const declared = await hub.http.inject({
        method: "POST",
        url: `/admin/apps/${app.id}/collections`,
        headers: admin(hub),
        payload: { name: "todos", idFields: ["owner", "list"] },
      });
      assert.equal(declared.statusCode, 201, declared.body);
      alice = await loginAs(hub.url, app, "alice", ALICE);
      bob = await loginAs(hub.url, app, "bob", BOB);
    });
    after(() => hub.close());

    test("each user pulls only what its rules allow; a shared document reaches both", async () => {
      const a = await alice.call("todos", "push", {
        rows: [create(todo("alice", "private")), create(todo("alice", "shared"))],
      });
      assert.deepEqual(a.body, { conflicts: [], refused: [] });
      const b = await bob.call("todos", "push", { rows: [create(todo("bob", "private"))] });
      assert.deepEqual(b.body, { conflicts: [], refused: [] });

      assert.deepEqual(ids((await pullAll(alice)).docs), ["alice/private", "alice/shared"]);
      const bobs = await pullAll(bob);
      assert.deepEqual(ids(bobs.docs), ["alice/shared", "bob/private"]);
      // Not the document, not its id, not a hint in the checkpoint: only sealed text.
      assert.equal(JSON.stringify(bobs).includes("alice/private"), false);
      assert.equal(JSON.stringify(bobs).includes("alice's private"), false);
      assert.match(String((bobs.checkpoint as { seq: string }).seq), /^[A-Za-z0-9_-]{48}$/);
    });

    test("a forbidden write is refused, not stored, and never reaches the other user's stream", async () => {
      const stream = await alice.stream("todos");
      assert.equal(stream.status, 200);
      await stream.next((f) => f === "RESYNC");
      try {
        const res = await bob.call("todos", "push", {
          rows: [create(todo("alice", "forged")), create(todo("bob", "ok"))],
        });
        assert.equal(res.status, 200);
        assert.deepEqual(res.body.conflicts, []);
        assert.deepEqual(
          res.body.refused.map((r: { id: unknown; code: string }) => [r.id, r.code]),
          [[{ owner: "alice", list: "forged" }, "write_denied"]],
        );
        // The accepted row of the same batch landed...
        assert.ok(ids((await pullAll(bob)).docs).includes("bob/ok"));
        // ...and a write alice may read comes through her stream, without the forged one.
        await bob.call("todos", "push", { rows: [create(todo("bob", "shared"))] });
        const frame = (await stream.next(isChanges)) as StreamChanges;
        assert.deepEqual(ids(frame.documents), ["bob/shared"]);
        assert.ok(stream.frames.every((f) => !JSON.stringify(f).includes("forged")));
        assert.ok(!ids((await pullAll(alice)).docs).includes("alice/forged"));
      } finally {
        stream.close();
      }
    });

    test("a stale push gets the master state back as a conflict; a matching one is written", async () => {
      const base = todo("alice", "conflict");
      await alice.call("todos", "push", { rows: [create(base)] });
      const theirs = { ...base, title: "theirs" };
      assert.deepEqual(
        (
          await alice.call("todos", "push", {
            rows: [{ assumedMasterState: base, newDocumentState: theirs }],
          })
        ).body,
        {
          conflicts: [],
          refused: [],
        },
      );
      const mine = await alice.call("todos", "push", {
        rows: [{ assumedMasterState: base, newDocumentState: { ...base, title: "mine" } }],
      });
      assert.deepEqual(mine.body.conflicts, [theirs]);
      // A delete is a write like any other: bob may not delete alice's document.
      const del = await bob.call("todos", "push", {
        rows: [{ assumedMasterState: theirs, newDocumentState: { ...theirs, _deleted: true } }],
      });
      assert.equal(del.body.refused[0]?.code, "write_denied");
      const tomb = await alice.call("todos", "push", {
        rows: [{ assumedMasterState: theirs, newDocumentState: { ...theirs, _deleted: true } }],
      });
      assert.deepEqual(tomb.body, { conflicts: [], refused: [] });
      const pulled = (await pullAll(alice)).docs.find((d) => d.list === "conflict");
      assert.equal(pulled?._deleted, true);
    });

    test("a read-only identity writes nothing; the backend's token reads and writes all", async () => {
      const ro = await loginAs(hub.url, app, "auditor", READ_ONLY);
      const refused = await ro.call("todos", "push", { rows: [create(todo("auditor", "x"))] });
      assert.equal(refused.body.refused[0]?.code, "write_denied");
      const backend = await backendLogin(hub.url, app);
      assert.deepEqual((await backend.call("todos", "push", { rows: [create(todo("carol", "x"))] })).body, {
        conflicts: [],
        refused: [],
      });
      const all = ids((await pullAll(backend)).docs);
      assert.ok(all.includes("alice/private") && all.includes("bob/private") && all.includes("carol/x"));
      assert.ok(!all.includes("auditor/x"));
      assert.deepEqual(ids((await pullAll(ro)).docs), all);
    });

    test("rules that cannot compile to SQL are applied after the select, exactly", async () => {
      const ordered = await loginAs(hub.url, app, "ordered", rules(["_id.owner > 'b' && _id.owner < 'bz'"]));
      assert.deepEqual(ids((await pullAll(ordered)).docs), ["bob/ok", "bob/private", "bob/shared"]);
    });

    test("bad input gets a clear 4xx with a stable code and stores nothing", async () => {
      const before = ids((await pullAll(alice)).docs);
      const expect = async (
        collection: string,
        endpoint: "pull" | "push",
        body: unknown,
        status: number,
        code: string,
      ) => {
        const res = await alice.call(collection, endpoint, body);
        assert.equal(res.status, status, JSON.stringify(res.body));
        assert.equal(res.body.error, code);
        assert.equal(typeof res.body.error_description, "string");
      };
      await expect("nope", "pull", { checkpoint: null, limit: 10 }, 404, "unknown_collection");
      await expect("todos", "pull", { checkpoint: { seq: "12" }, limit: 10 }, 400, "invalid_checkpoint");
      await expect("todos", "pull", { checkpoint: "x", limit: 10 }, 400, "invalid_checkpoint");
      await expect("todos", "pull", { checkpoint: null, limit: 0 }, 400, "invalid_request");
      const big = todo("alice", "big", { body: "x".repeat(SYNC_LIMITS.maxDocumentBytes) });
      await expect(
        "todos",
        "push",
        { rows: [create(todo("alice", "first")), create(big)] },
        413,
        "document_too_large",
      );
      const many = Array.from({ length: SYNC_LIMITS.maxPushRows + 1 }, (_, i) =>
        create(todo("alice", `n${i}`)),
      );
      await expect("todos", "push", { rows: many }, 413, "batch_too_large");
      const moved = {
        assumedMasterState: todo("alice", "private"),
        newDocumentState: todo("alice", "moved"),
      };
      await expect("todos", "push", { rows: [create(todo("alice", "first")), moved] }, 400, "id_changed");
      await expect(
        "todos",
        "push",
        { rows: [create({ owner: "alice", _deleted: false })] },
        400,
        "invalid_document",
      );
      await expect("todos", "push", "{not json", 400, "invalid_request");
      assert.deepEqual(ids((await pullAll(alice)).docs), before);
    });

    test("a pull with a checkpoint from another collection or app is refused", async () => {
      await hub.http.inject({
        method: "POST",
        url: `/admin/apps/${app.id}/collections`,
        headers: admin(hub),
        payload: { name: "notes", idFields: ["owner", "list"] },
      });
      const { checkpoint } = await pullAll(alice);
      const res = await alice.call("notes", "pull", { checkpoint, limit: 10 });
      assert.equal(res.body.error, "invalid_checkpoint");
    });

    test("without a valid DPoP-bound token nothing is answered", async () => {
      const res = await fetch(`${hub.url}/sync/todos/pull`, {
        method: "POST",
        headers: { authorization: `DPoP ${alice.accessToken}`, "content-type": "application/json" },
        body: JSON.stringify({ checkpoint: null, limit: 10 }),
      });
      assert.ok(res.status === 400 || res.status === 401, String(res.status));
      assert.equal(((await res.json()) as { error: string }).error, "invalid_dpop_proof");
      const bearer = await fetch(`${hub.url}/sync/todos/pull`, {
        method: "POST",
        headers: { authorization: `Bearer ${alice.accessToken}`, "content-type": "application/json" },
        body: "{}",
      });
      assert.equal(bearer.status, 401);
    });

    for (const [how, end] of [
      [
        "logout",
        async (s: SyncSession) => {
          const res = await fetch(`${hub.url}/revoke`, {
            method: "POST",
            headers: { "content-type": "application/x-www-form-urlencoded" },
            body: new URLSearchParams({ client_id: app.id, token: String(s.refreshToken) }).toString(),
          });
          assert.equal(res.status, 200);
          return "session_revoked";
        },
      ],
      [
        "an admin ending the user's sessions",
        async () => {
          const res = await hub.http.inject({
            method: "DELETE",
            url: `/admin/apps/${app.id}/users/dave/sessions`,
            headers: admin(hub),
          });
          assert.equal(res.statusCode, 200, res.body);
          return "session_revoked";
        },
      ],
      [
        "disabling the user",
        async () => {
          const res = await hub.http.inject({
            method: "POST",
            url: `/admin/apps/${app.id}/users/dave/disable`,
            headers: admin(hub),
          });
          assert.equal(res.statusCode, 200, res.body);
          return "user_disabled";
        },
      ],
    ] as const) {
      test(`${how}: the open stream ends within a second and pushes are refused`, async () => {
        await hub.http.inject({
          method: "POST",
          url: `/admin/apps/${app.id}/users/dave/enable`,
          headers: admin(hub),
        });
        const dave = await loginAs(hub.url, app, "dave", rules(["true"]));
        const stream = await dave.stream("todos");
        await stream.next((f) => f === "RESYNC");
        const code = await end(dave);
        const started = Date.now();
        const last = await stream.next((f) => typeof f === "object" && "error" in f);
        assert.ok(Date.now() - started < 1000, `ended after ${Date.now() - started} ms`);
        assert.equal((last as { error: string }).error, code);
        await stream.closed;
        const push = await dave.call("todos", "push", { rows: [create(todo("dave", "late"))] });
        assert.equal(push.status, 401);
        assert.equal(push.body.error, "invalid_token");
      });
    }

    test("the session's permissions change: the stream ends with rules_changed", async () => {
      const erin = await loginAs(hub.url, app, "erin", rules(["true"]));
      const stream = await erin.stream("todos");
      await stream.next((f) => f === "RESYNC");
      // What a provider re-reading the user's rules stores for the session.
      await hub.store.db
        .updateTable("sessions")
        .set({ permissions: JSON.stringify(rules(["_id.owner == 'erin'"])) })
        .where("user_id", "=", "erin")
        .execute();
      const last = await stream.next((f) => typeof f === "object" && "error" in f);
      assert.equal((last as { error: string }).error, "rules_changed");
      await stream.closed;
    });

    test("collections are listed and removed through the admin API", async () => {
      const list = await hub.http.inject({ url: `/admin/apps/${app.id}/collections`, headers: admin(hub) });
      assert.deepEqual(
        list.json().collections.map((c: { name: string; idFields: string[] }) => [c.name, c.idFields]),
        [
          ["notes", ["owner", "list"]],
          ["todos", ["owner", "list"]],
        ],
      );
      const dup = await hub.http.inject({
        method: "POST",
        url: `/admin/apps/${app.id}/collections`,
        headers: admin(hub),
        payload: { name: "todos", idFields: ["id"] },
      });
      assert.equal(dup.statusCode, 409);
      const bad = await hub.http.inject({
        method: "POST",
        url: `/admin/apps/${app.id}/collections`,
        headers: admin(hub),
        payload: { name: "Bad Name", idFields: ["id"] },
      });
      assert.equal(bad.statusCode, 400);
      const removed = await hub.http.inject({
        method: "DELETE",
        url: `/admin/apps/${app.id}/collections/notes`,
        headers: admin(hub),
      });
      assert.equal(removed.statusCode, 200);
      assert.equal(
        (await alice.call("notes", "pull", { checkpoint: null, limit: 1 })).body.error,
        "unknown_collection",
      );
    });
  });
}
