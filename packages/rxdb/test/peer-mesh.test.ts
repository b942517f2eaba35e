// Three and more Node peers, no hub: real mutual TLS sockets on 127.0.0.1, real RxDB
// (memory storage), signed revisions. What each peer stores, refuses and drops.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { SIGNATURE_FIELD } from "@meshauth/sync";
import {
  allRules,
  createTestApp,
  type Permissions,
  type TestApp,
} from "../../sync/test/helpers/mesh-devices.js";
import { authorOf, closeAllPeers, item, link, type Peer, startPeer, until } from "./helpers/mesh-peers.js";

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
after(closeAllPeers);

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
});
