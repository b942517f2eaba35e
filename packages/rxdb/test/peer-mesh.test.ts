// Three and more Node peers, no hub: real mutual TLS sockets on 127.0.0.1, real RxDB
// (memory storage), signed revisions. What each peer stores, refuses and drops.
import assert from "node:assert/strict";
import { afterEach, before, describe, test } from "node:test";
import { compareRevisions, createRevisionSigner, SIGNATURE_FIELD } from "@meshauth/sync";
import {
  allRules,
  createSharedKeyApp,
  createTestApp,
  ownerRules,
  type Permissions,
  readOnlyRules,
  type TestApp,
} from "../../sync/test/helpers/mesh-devices.js";
import {
  authorOf,
  closeAllPeers,
  item,
  link,
  type Peer,
  startPeer,
  until,
  writeRaw,
} from "./helpers/mesh-peers.js";

/** Reads the whole collection, writes only its own `_id.owner`. */
function relayRules(userId: string): Permissions {
  return {
    read: { everything: false, queriesByCollection: { todos: ["true"] } },
    write: { everything: false, queriesByCollection: { todos: [`_id.owner == '${userId}'`] } },
  };
}

let app: TestApp;
before(async () => {
  app = await createTestApp();
});
afterEach(closeAllPeers);

async function peer(name: string, permissions: Permissions = relayRules(name)): Promise<Peer> {
  return startPeer(app, name, await app.device(name, { permissions }));
}

describe("peer to peer over mutual TLS", () => {
  test("A writes, B relays to C, C verifies that A wrote it", async () => {
    const [a, b, c] = [await peer("alice"), await peer("bob"), await peer("carol")];
    await link(b, a);
    await link(c, b);
    await a.db.todos.insert(item("alice", "milk"));
    await until(async () => (await c.titles())["alice|milk"] === "alice's milk", "C has A's document");
    assert.equal(await authorOf(c, "alice|milk"), a.device.peerKey);
    assert.deepEqual(c.refusals, []);
    assert.deepEqual(b.refusals, []);
    // A change and a delete by A travel the same way, still signed by A.
    const doc = await a.db.todos.findOne("alice|milk").exec();
    await doc?.patch({ title: "oat milk" });
    await until(async () => (await c.titles())["alice|milk"] === "oat milk", "C has A's change");
    await (await a.db.todos.findOne("alice|milk").exec())?.remove();
    await until(async () => (await c.titles())["alice|milk"] === undefined, "C has A's delete");
    assert.deepEqual(c.refusals, []);
  });

  test("a relay that alters A's document or forges one 'by A' is refused; C keeps its copy", async () => {
    const [a, b, c] = [await peer("alice"), await peer("bob"), await peer("carol")];
    await link(b, a);
    await link(c, b);
    await a.db.todos.insert(item("alice", "milk"));
    await until(async () => (await c.titles())["alice|milk"] === "alice's milk", "C has A's document");
    const original = (await b.db.todos.findOne("alice|milk").exec())?.toJSON(true) as Record<string, unknown>;

    // B changes the title and keeps A's signature.
    await writeRaw(b, { ...original, title: "alice's beer" });
    // B signs a document of Alice's with its own key and Alice's certificate.
    const forger = await createRevisionSigner({
      appId: app.appId,
      privateKey: b.device.privateKey,
      publicKey: b.device.publicKey,
      certificate: a.device.certificatePem,
    });
    const forged = await forger.sign({
      collection: "todos",
      id: { owner: "alice", item: "fake" },
      document: { ...item("alice", "fake", "forged"), _deleted: false },
    });
    await writeRaw(b, forged);
    // B signs one as itself: verifies, but B may not write Alice's _id.
    await b.db.todos.insert(item("alice", "mine", "bob writes as alice"));

    await until(() => c.refusals.length >= 3, "C refused all three");
    assert.deepEqual(c.refusals.map((r) => `${r.primary} ${r.code}`).sort(), [
      "alice|fake bad_signature",
      "alice|milk altered",
      "alice|mine author_cannot_write",
    ]);
    const titles = await c.titles();
    assert.equal(titles["alice|milk"], "alice's milk");
    assert.equal(titles["alice|fake"], undefined);
    assert.equal(titles["alice|mine"], undefined);
    assert.equal(await authorOf(c, "alice|milk"), a.device.peerKey);
    // A, the other neighbour, refused the same pushes from B.
    await until(() => a.refusals.length >= 3, "A refused them too");
    assert.equal((await a.titles())["alice|milk"], "alice's milk");
  });

  test("a read-only peer's writes are refused by both neighbours", async () => {
    const a = await peer("alice");
    const r = await peer("reader", readOnlyRules());
    const c = await peer("carol");
    await link(r, a); // R replicates against A: pushes to A
    await link(c, r); // C replicates against R: pulls from R
    await a.db.todos.insert(item("alice", "milk"));
    await until(
      async () => (await c.titles())["alice|milk"] !== undefined,
      "A's document reaches C through R",
    );
    await r.db.todos.insert(item("reader", "note"));
    await until(() => a.refusals.length > 0 && c.refusals.length > 0, "both neighbours refused");
    assert.deepEqual(
      a.refusals.map((x) => [x.direction, x.primary, x.code]),
      [["received", "reader|note", "author_cannot_write"]],
    );
    assert.deepEqual(
      c.refusals.map((x) => [x.direction, x.primary, x.code]),
      [["received", "reader|note", "author_cannot_write"]],
    );
    assert.ok(r.refusals.some((x) => x.direction === "sent" && x.code === "author_cannot_write"));
    assert.equal((await a.titles())["reader|note"], undefined);
    assert.equal((await c.titles())["reader|note"], undefined);
  });

  test("each side serves only what the other may read", async () => {
    const a = await peer("alice", allRules());
    const b = await peer("bob", ownerRules("bob"));
    const replication = await link(b, a);
    await a.db.todos.bulkInsert([item("alice", "private"), item("shared", "list"), item("bob", "task")]);
    await until(async () => (await b.titles())["bob|task"] !== undefined, "B has its own document");
    await until(async () => (await b.titles())["shared|list"] !== undefined, "B has the shared document");
    await replication.awaitInSync();
    assert.equal((await b.titles())["alice|private"], undefined);
    // And B pushes only what A may read (A reads all here), writes only what B may write.
    await b.db.todos.insert(item("bob", "errand"));
    await until(async () => (await a.titles())["bob|errand"] !== undefined, "A has B's document");
  });

  test("revocation travels: the list reaches C through B; C refuses the revoked peer's link and later writes", async () => {
    const t0 = Date.now();
    const [a, b, c] = [await peer("alice"), await peer("bob"), await peer("carol")];
    const x = await startPeer(
      app,
      "xavier",
      await app.device("xavier", { permissions: relayRules("xavier"), now: new Date(t0 - 60_000) }),
    );
    const d = await peer("dave");
    // D, which never hears from the hub, replicates with X.
    const dx = await link(d, x);
    x.clock.now = t0 - 10_000;
    await x.db.todos.insert(item("xavier", "early"));
    await until(async () => (await d.titles())["xavier|early"] !== undefined, "D has X's early write");
    await link(b, a);
    await link(c, b);

    // The hub revokes X; A is online and gets the list.
    const { jws } = await app.revoke({ peerKeys: [x.device.peerKey] }, Math.floor(t0 / 1000));
    assert.equal(await a.revocations.offer(jws), true);
    await until(() => c.revocations.current()?.version === 1, "the list reached C through B");
    assert.equal(b.revocations.current()?.version, 1);

    // X writes on, to D, which does not know yet.
    x.clock.now = t0 + 5_000;
    await x.db.todos.insert(item("xavier", "late"));
    await until(async () => (await d.titles())["xavier|late"] !== undefined, "D has X's late write");

    // X's link to C is refused in the handshake.
    await link(x, c).then(
      (l) => l.closed,
      () => undefined,
    );
    await until(() => c.rejected.length > 0, "C refused X");
    assert.equal((c.rejected[0] as { reason?: string }).reason, "revoked");

    // D meets C: learns the list, drops X, and C stores X's early write but not the late one.
    await link(d, c);
    assert.equal((await dx.closed).code, "peer_revoked");
    await until(async () => (await c.titles())["xavier|early"] !== undefined, "C has X's early write");
    await until(() => c.refusals.some((r) => r.primary === "xavier|late"), "C refused X's late write");
    assert.equal(c.refusals.find((r) => r.primary === "xavier|late")?.code, "author_revoked");
    assert.equal((await c.titles())["xavier|late"], undefined);
  });

  test("a link ends when the other side's identity expires", async () => {
    const a = await peer("alice");
    const soon = await app.device("brief", {
      permissions: relayRules("brief"),
      exp: Math.floor(Date.now() / 1000) + 2,
    });
    const b = await startPeer(app, "brief", soon);
    const replication = await link(b, a);
    await replication.ready();
    await until(() => a.links.length > 0, "A has the link");
    const closed = await a.links[0]?.closed;
    assert.equal(closed?.code, "peer_expired");
    assert.equal(closed?.by, "local");
    assert.equal((await replication.closed).code, "peer_expired", "the expired side is told why");
  });

  test("concurrent edits on two peers converge through a third, nothing lost", async () => {
    const [a, b, c] = [
      await peer("alice", allRules()),
      await peer("bob", allRules()),
      await peer("carol", allRules()),
    ];
    let ba = await link(b, a);
    let cb = await link(c, b);
    await a.db.todos.insert(item("shared", "doc", "v0"));
    await until(async () => (await c.titles())["shared|doc"] === "v0", "C has the base");
    await Promise.all([ba.close(), cb.close()]);

    // Apart: both edit the same document and add their own.
    await (await a.db.todos.findOne("shared|doc").exec())?.patch({ title: "from A" });
    await (await c.db.todos.findOne("shared|doc").exec())?.patch({ title: "from C" });
    await a.db.todos.insert(item("alice", "a1"));
    await c.db.todos.insert(item("carol", "c1"));
    const aSig = (await a.db.todos.findOne("shared|doc").exec())?.toJSON()[SIGNATURE_FIELD as "title"];
    const cSig = (await c.db.todos.findOne("shared|doc").exec())?.toJSON()[SIGNATURE_FIELD as "title"];
    const winner = compareRevisions(aSig as never, cSig as never) > 0 ? "from A" : "from C";

    ba = await link(b, a);
    cb = await link(c, b);
    const expected = { "shared|doc": winner, "alice|a1": "alice's a1", "carol|c1": "carol's c1" };
    for (const p of [a, b, c]) {
      await until(
        async () => JSON.stringify(await p.titles()) === JSON.stringify(sorted(expected)),
        `${p.name} converged`,
      );
    }
    for (const p of [a, b, c]) assert.deepEqual(p.refusals, [], p.name);
  });
});

describe("without signatures (Ditto's relay rule)", () => {
  test("a relay that may not write a document cannot pass it on", async () => {
    const unsigned = { signatures: "off" } as const;
    const a = await startPeer(
      app,
      "alice",
      await app.device("alice", { permissions: relayRules("alice") }),
      unsigned,
    );
    const b = await startPeer(
      app,
      "bob",
      await app.device("bob", { permissions: relayRules("bob") }),
      unsigned,
    );
    const c = await startPeer(
      app,
      "carol",
      await app.device("carol", { permissions: relayRules("carol") }),
      unsigned,
    );
    await link(b, a);
    await link(c, b);
    await a.db.todos.insert(item("alice", "milk"));
    await until(async () => (await b.titles())["alice|milk"] !== undefined, "B has it from its author");
    await until(() => c.refusals.length > 0, "C refused it from B");
    // B may offer it again before C's refusal reaches it: every refusal is this one.
    assert.deepEqual(
      [...new Set(c.refusals.map((r) => `${r.primary} ${r.code}`))],
      ["alice|milk write_denied"],
    );
    assert.equal((await c.titles())["alice|milk"], undefined);
  });
});

describe("shared-key mode", () => {
  test("every device reads and writes everything, writes still signed by each device's key", async () => {
    const shared = await createSharedKeyApp();
    const d1 = await startPeer(shared, "d1", await shared.device("d1"));
    const d2 = await startPeer(shared, "d2", await shared.device("d2"));
    await link(d2, d1);
    await d1.db.todos.insert(item("anyone", "one"));
    await d2.db.todos.insert(item("someone", "two"));
    for (const p of [d1, d2]) {
      await until(async () => Object.keys(await p.titles()).length === 2, `${p.name} has both`);
    }
    assert.equal(await authorOf(d2, "anyone|one"), d1.device.peerKey);
    assert.equal(await authorOf(d1, "someone|two"), d2.device.peerKey);
    // A device of another shared key cannot connect.
    const stranger = await createSharedKeyApp(shared.appId);
    const s = await startPeer(stranger, "s", await stranger.device("s"));
    await link(s, d1).then(
      (l) => l.closed,
      () => undefined,
    );
    await until(() => d1.rejected.length > 0, "d1 refused the stranger");
  });
});

function sorted(record: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(record).sort(([x], [y]) => (x < y ? -1 : 1)));
}
