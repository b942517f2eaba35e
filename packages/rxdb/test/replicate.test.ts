// replicateMeshauth with real RxDB (memory storage, dev-mode, ajv validation) against a real
// hub: what each device ends up with, and what crossed the wire to get there.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { StreamFrame } from "@meshauth/sync";
import { firstValueFrom, take, toArray } from "rxjs";
import { type MeshauthReplicationState, type RefusedWrite, replicateMeshauth } from "../src/index.js";
import { rules, type SyncTestHub, startSyncHub, type TestUser } from "./helpers/sync-hub.js";
import { mergeTags, type Todo, type TodoDb, todo, todosDb, until, visible } from "./helpers/todos.js";
import { pushedRows, receivedDocuments } from "./helpers/wire.js";

const TIMEOUT = 60_000;
let hub: SyncTestHub;
const cleanups: (() => Promise<unknown>)[] = [];

before(async () => {
  hub = await startSyncHub([{ name: "todos", idFields: ["owner", "item"] }]);
});
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
  await hub.close();
});

/** Alice reads and writes her own todos and the shared ones. */
const alice = rules(
  "todos",
  ["_id.owner == 'alice' || _id.owner == 'shared'"],
  ["_id.owner == 'alice' || _id.owner == 'shared'"],
);
/** Bob reads his own and the shared ones, but writes only his own. */
const bob = rules("todos", ["_id.owner == 'bob' || _id.owner == 'shared'"], ["_id.owner == 'bob'"]);

interface Device {
  user: TestUser;
  db: TodoDb;
  sync: MeshauthReplicationState<Todo>;
}

async function device(
  sub: string,
  permissions = sub === "bob" ? bob : alice,
  options: { conflictHandler?: typeof mergeTags } = {},
): Promise<Device> {
  const user = await hub.user(sub, permissions);
  const database = await todosDb(options);
  const sync = replicateMeshauth({
    client: user.client,
    collection: database.todos,
    name: "todos",
    retryTime: 300,
  });
  cleanups.push(
    () => sync.cancel(),
    () => database.close(),
  );
  await until(() => sync.status === "live", `${sub}'s stream is live`);
  await sync.awaitInSync();
  return { user, db: database, sync };
}

const keysIn = (docs: Record<string, unknown>[]) => docs.map((d) => `${d["owner"]}|${d["item"]}`);
const framesWith = (frames: StreamFrame[]) =>
  frames.flatMap((f) => (typeof f === "object" && "documents" in f ? keysIn(f.documents as never) : []));

describe("replicateMeshauth", () => {
  test("two users with different rules: private documents stay private, forbidden writes are refused", {
    timeout: TIMEOUT,
  }, async () => {
    const a = await device("alice");
    const b = await device("bob");

    await a.db.todos.insert(todo("alice", "secret"));
    await a.db.todos.insert(todo("shared", "groceries"));
    await b.db.todos.insert(todo("bob", "own"));
    await a.sync.awaitInSync();
    await b.sync.awaitInSync();

    await until(
      async () => (await visible(b.db)).includes("shared|groceries"),
      "the shared todo reaches Bob",
    );
    await until(async () => (await visible(a.db)).includes("bob|own") === false, "Alice never sees Bob's");
    assert.deepEqual(await visible(b.db), ["bob|own", "shared|groceries"]);
    assert.deepEqual(await visible(a.db), ["alice|secret", "shared|groceries"]);

    // Bob edits the shared todo (he may read it, not write it) and writes one of Alice's.
    const refused: RefusedWrite<Todo>[] = [];
    b.sync.refused$.subscribe((r) => refused.push(r));
    const shared = await b.db.todos.findOne("shared|groceries").exec();
    await shared?.incrementalPatch({ title: "Bob was here" });
    await b.db.todos.insert(todo("alice", "forged", "from Bob"));
    await until(() => refused.length === 2, "both of Bob's writes are refused");
    assert.deepEqual(refused.map((r) => [r.primary, r.code]).sort(), [
      ["alice|forged", "write_denied"],
      ["shared|groceries", "write_denied"],
    ]);
    // Locally rolled back to what the hub has: the forged todo gone, the shared one as Alice wrote it.
    await until(
      async () => !(await visible(b.db)).includes("alice|forged"),
      "the forged todo is rolled back",
    );
    await until(
      async () => (await b.db.todos.findOne("shared|groceries").exec())?.title === "shared's groceries",
      "the shared todo is rolled back",
    );
    await b.sync.awaitInSync();

    // Not stored on the hub, and never sent to Alice.
    const stored = await hub.hubDocuments("todos");
    assert.deepEqual(keysIn(stored).sort(), ["alice|secret", "bob|own", "shared|groceries"]);
    assert.equal(stored.find((d) => d["item"] === "groceries")?.["title"], "shared's groceries");
    await a.sync.awaitInSync();
    assert.ok(!keysIn(receivedDocuments(a.user.wire.log)).includes("alice|forged"));
    assert.ok(!receivedDocuments(a.user.wire.log).some((d) => d["title"] === "Bob was here"));

    // What crossed the wire to Bob: never Alice's private todo, in pulls or stream frames.
    assert.ok(b.user.wire.log.streams >= 1 && b.user.wire.log.frames.length >= 1);
    assert.ok(!keysIn(receivedDocuments(b.user.wire.log)).includes("alice|secret"));
    assert.ok(!framesWith(b.user.wire.log.frames).includes("alice|secret"));
    // ...and the shared one did reach him on the live stream.
    assert.ok(keysIn(receivedDocuments(b.user.wire.log)).includes("shared|groceries"));
    // Alice's pushes carried her writes; Bob's forged row went out once and was answered as refused.
    const bobsPush = b.user.wire.log.pushes.find((p) =>
      p.request.rows.some((r) => r.newDocumentState["item"] === "forged"),
    );
    assert.deepEqual(
      bobsPush?.answer?.refused.map((r) => r.code),
      bobsPush?.request.rows
        .filter((r) => r.newDocumentState["item"] === "forged" || r.newDocumentState["item"] === "groceries")
        .map(() => "write_denied"),
    );
    assert.ok(pushedRows(a.user.wire.log).some((r) => r.newDocumentState["item"] === "secret"));
  });

  test("a live change reaches the other device on the stream", { timeout: TIMEOUT }, async () => {
    const a = await device("alice");
    const b = await device("bob");
    const received = firstValueFrom(b.sync.received$.pipe(take(1), toArray()));
    await a.db.todos.insert(todo("shared", "live", "live one"));
    const [doc] = await received;
    assert.equal(doc?.key, "shared|live");
    assert.ok(framesWith(b.user.wire.log.frames).includes("shared|live"));
  });

  test("two devices write one document while apart: the conflict handler merges, nothing is lost", {
    timeout: TIMEOUT,
  }, async () => {
    const one = await device("alice", alice, { conflictHandler: mergeTags });
    const two = await device("alice", alice, { conflictHandler: mergeTags });
    await one.db.todos.insert(todo("alice", "plan", "plan", ["start"]));
    await until(async () => (await visible(two.db)).includes("alice|plan"), "the todo reaches device two");

    one.user.wire.offline();
    two.user.wire.offline();
    await (await one.db.todos.findOne("alice|plan").exec())?.incrementalPatch({ tags: ["start", "one"] });
    await (await two.db.todos.findOne("alice|plan").exec())?.incrementalPatch({
      title: "plan, longer",
      tags: ["start", "two"],
    });
    one.user.wire.online();
    await until(
      async () => (await hub.hubDocuments("todos")).some((d) => (d["tags"] as string[]).includes("one")),
      "device one's change is on the hub",
    );
    two.user.wire.online();
    const merged = ["one", "start", "two"];
    for (const d of [one, two]) {
      await until(async () => {
        const doc = await d.db.todos.findOne("alice|plan").exec();
        return JSON.stringify(doc?.tags) === JSON.stringify(merged) && doc?.title === "plan, longer";
      }, "both devices hold the merged todo");
    }
    const stored = (await hub.hubDocuments("todos")).find((d) => d["key"] === "alice|plan");
    assert.deepEqual(stored?.["tags"], merged);
    assert.equal(stored?.["title"], "plan, longer");
    // The hub answered device two's first push with a conflict carrying device one's state.
    const conflicted = two.user.wire.log.pushes.find((p) => (p.answer?.conflicts.length ?? 0) > 0);
    assert.deepEqual(conflicted?.answer?.conflicts[0]?.["tags"], ["start", "one"]);
  });

  test("offline writes queue and sync when the network is back", { timeout: TIMEOUT }, async () => {
    const a = await device("alice");
    const b = await device("bob");
    a.user.wire.offline();
    const pushesBefore = a.user.wire.log.pushes.length;
    await a.db.todos.bulkInsert([todo("shared", "o1"), todo("shared", "o2"), todo("shared", "o3")]);
    await until(() => a.user.wire.refusedWhileOffline > 0, "the replication tried and failed");
    assert.equal(a.user.wire.log.pushes.length, pushesBefore, "nothing was pushed while offline");
    const onHub = async () => keysIn(await hub.hubDocuments("todos")).filter((k) => /^shared\|o\d$/.test(k));
    assert.deepEqual(await onHub(), []);
    assert.deepEqual(
      (await visible(a.db)).filter((k) => /^shared\|o\d$/.test(k)),
      ["shared|o1", "shared|o2", "shared|o3"],
    );

    a.user.wire.online();
    await until(async () => (await onHub()).length === 3, "the queued writes reach the hub");
    await until(
      async () => (await visible(b.db)).filter((k) => /^shared\|o\d$/.test(k)).length === 3,
      "and Bob's device",
    );
    await until(() => a.sync.status === "live", "Alice's stream is live again");
  });

  test("rules shrink: exactly the documents no longer readable leave the device, and no delete reaches the hub", {
    timeout: TIMEOUT,
  }, async () => {
    const a = await device("alice");
    await a.db.todos.bulkInsert([
      todo("alice", "mine1"),
      todo("alice", "mine2"),
      todo("shared", "s1"),
      todo("shared", "s2"),
    ]);
    await a.sync.awaitInSync();
    const before = (await visible(a.db)).filter((k) => /\|(mine\d|s\d)$/.test(k));
    assert.deepEqual(before, ["alice|mine1", "alice|mine2", "shared|s1", "shared|s2"]);
    const pushesBefore = a.user.wire.log.pushes.length;

    const evicted: string[] = [];
    a.sync.evicted$.subscribe((e) => evicted.push(e.primary));
    a.user.permissions = rules("todos", ["_id.owner == 'alice'"], ["_id.owner == 'alice'"]);
    await a.user.relogin();
    await until(
      async () => !(await visible(a.db)).some((k) => k.startsWith("shared|")),
      "the shared todos are evicted",
    );
    await a.sync.awaitInSync();

    assert.deepEqual(
      (await visible(a.db)).filter((k) => /\|(mine\d|s\d)$/.test(k)),
      ["alice|mine1", "alice|mine2"],
    );
    assert.ok(
      ["shared|s1", "shared|s2"].every((k) => evicted.includes(k)),
      `evicted: ${evicted}`,
    );
    assert.ok(
      evicted.every((k) => k.startsWith("shared|")),
      `only shared todos evicted: ${evicted}`,
    );
    // Nothing was pushed for the eviction: no row at all, so certainly no delete.
    const newRows = a.user.wire.log.pushes.slice(pushesBefore).flatMap((p) => p.request.rows);
    assert.deepEqual(
      newRows.filter((r) => r.newDocumentState._deleted),
      [],
    );
    assert.deepEqual(newRows, []);
    // The hub still has them, undeleted.
    const stored = (await hub.hubDocuments("todos")).filter((d) =>
      ["shared|s1", "shared|s2"].includes(String(d["key"])),
    );
    assert.deepEqual(
      stored.map((d) => d._deleted),
      [false, false],
    );

    // Rules grow again: they come back, though older than the checkpoint.
    a.user.permissions = alice;
    await a.user.relogin();
    await until(async () => {
      const v = await visible(a.db);
      return v.includes("shared|s1") && v.includes("shared|s2");
    }, "the shared todos come back");
  });

  test("a revoked session's stream closes and its pushes are refused; a new login resumes", {
    timeout: TIMEOUT,
  }, async () => {
    const c = await device("carol", alice);
    const oldToken = await c.user.client.getAccessToken();
    const framesBefore = c.user.wire.log.frames.length;
    await hub.endSessions("carol");

    // The hub ends the stream with a reason; the SDK learns the session is over and logs out.
    await until(() => c.sync.status === "logged-out", "the replication stops");
    assert.equal(c.user.client.currentUser.value.isLoggedIn, false);
    assert.ok(
      c.user.wire.log.frames
        .slice(framesBefore)
        .some((f) => typeof f === "object" && "error" in f && f.error === "session_revoked"),
      `frames: ${JSON.stringify(c.user.wire.log.frames.slice(framesBefore))}`,
    );

    // A push with the revoked session's token is refused.
    const url = `${hub.url}/sync/todos/push`;
    const body = JSON.stringify({
      rows: [{ assumedMasterState: null, newDocumentState: { ...todo("shared", "late"), _deleted: false } }],
    });
    let nonce: string | undefined;
    let res: Response | undefined;
    for (let i = 0; i < 2; i++) {
      const proof = await c.user.client.createProof("POST", url, {
        accessToken: oldToken,
        ...(nonce ? { nonce } : {}),
      });
      res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `DPoP ${oldToken}`, dpop: proof },
        body,
      });
      nonce = res.headers.get("dpop-nonce") ?? undefined;
      if (!/use_dpop_nonce/.test(res.headers.get("www-authenticate") ?? "")) break;
    }
    assert.equal(res?.status, 401);
    assert.ok(!keysIn(await hub.hubDocuments("todos")).includes("shared|late"));

    // Written while logged out: kept locally, sent after the next login.
    const pushesBefore = c.user.wire.log.pushes.length;
    await c.db.todos.insert(todo("shared", "queued"));
    assert.ok(!keysIn(await hub.hubDocuments("todos")).includes("shared|queued"));
    await c.user.relogin();
    await until(
      async () => keysIn(await hub.hubDocuments("todos")).includes("shared|queued"),
      "the queued todo is pushed",
    );
    assert.ok(c.user.wire.log.pushes.length > pushesBefore);
    await until(() => c.sync.status === "live", "the stream is live again");
  });

  test("logout stops the replication and closes the stream; login resumes it", {
    timeout: TIMEOUT,
  }, async () => {
    const d = await device("dave", alice);
    const other = await device("erin", alice);
    await d.user.client.logout({ force: true });
    await until(() => d.sync.status === "logged-out", "the replication stops");
    const requestsBefore = d.user.wire.log.pulls.length + d.user.wire.log.pushes.length;
    const streamsBefore = d.user.wire.log.streams;
    await other.db.todos.insert(todo("shared", "while-away"));
    await d.db.todos.insert(todo("shared", "offline-dave"));
    await other.sync.awaitInSync();
    assert.equal(
      d.user.wire.log.pulls.length + d.user.wire.log.pushes.length,
      requestsBefore,
      "nothing sent while logged out",
    );
    assert.ok(!(await visible(d.db)).includes("shared|while-away"));

    await d.user.relogin();
    await until(
      async () => (await visible(d.db)).includes("shared|while-away"),
      "what changed meanwhile arrives",
    );
    await until(
      async () => (await visible(other.db)).includes("shared|offline-dave"),
      "what was written meanwhile is sent",
    );
    assert.ok(d.user.wire.log.streams > streamsBefore);
  });
});
