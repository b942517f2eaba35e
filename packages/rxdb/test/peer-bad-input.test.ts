// A peer that speaks the link protocol badly, over a real TLS connection with a valid
// certificate: every kind of bad input drops the link with a reason both ends can read,
// and nothing it sent is stored.
import assert from "node:assert/strict";
import { afterEach, before, describe, test } from "node:test";
import type { TLSSocket } from "node:tls";
import { connectPeer, type MessageChannel, messageChannel } from "@meshauth/peer";
import { createRevisionSigner, SYNC_LIMITS } from "@meshauth/sync";
import {
  allRules,
  createTestApp,
  type MeshDevice,
  type TestApp,
} from "../../sync/test/helpers/mesh-devices.js";
import { closeAllPeers, item, type Peer, startPeer, until } from "./helpers/mesh-peers.js";

let app: TestApp;
let intruder: MeshDevice;
before(async () => {
  app = await createTestApp();
  intruder = await app.device("mallory", { permissions: allRules() });
});
afterEach(closeAllPeers);

interface Raw {
  channel: MessageChannel;
  socket: TLSSocket;
  received: Record<string, unknown>[];
  send(message: unknown): void;
}

async function rawClient(target: Peer): Promise<Raw> {
  const { socket, peer } = await connectPeer({
    host: "127.0.0.1",
    port: target.port,
    key: intruder.privateKeyPem,
    certificate: intruder.certificatePem,
    trust: { type: "ca", certificatePem: app.caCertificatePem },
    appId: app.appId,
  });
  const channel = messageChannel(socket, peer, { initiator: true });
  const received: Record<string, unknown>[] = [];
  channel.onMessage((text) => received.push(JSON.parse(text)));
  return {
    channel,
    socket,
    received,
    send: (m) => channel.send(typeof m === "string" ? m : JSON.stringify(m)),
  };
}

const hello = { t: "hello", v: 1, collection: "todos", revocations: null };

async function target(): Promise<Peer> {
  const p = await startPeer(app, "serving", await app.device("serving", { permissions: allRules() }));
  await p.db.todos.insert(item("serving", "existing"));
  return p;
}

async function closedWith(p: Peer, raw: Raw, code: string): Promise<void> {
  await until(() => p.links.length > 0, "the link started");
  const closed = await p.links[0]?.closed;
  assert.equal(closed?.code, code, closed?.message);
  assert.equal(closed?.by, "local");
  await until(() => raw.received.some((m) => m["t"] === "close"), "the client was told");
  assert.equal(raw.received.find((m) => m["t"] === "close")?.["code"], code);
  assert.deepEqual(Object.keys(await p.titles()), ["serving|existing"], "nothing stored");
}

async function signedByIntruder(doc: object) {
  const fields = doc as Record<string, unknown>;
  const signer = await createRevisionSigner({
    appId: app.appId,
    privateKey: intruder.privateKey,
    publicKey: intruder.publicKey,
    certificate: intruder.certificatePem,
  });
  return signer.sign({
    collection: "todos",
    id: { owner: String(fields["owner"]), item: String(fields["item"]) },
    document: { _deleted: false, ...fields },
  });
}

describe("bad input from a peer", () => {
  test("a frame that is not JSON", async () => {
    const p = await target();
    const raw = await rawClient(p);
    raw.send(hello);
    raw.send("{not json");
    await closedWith(p, raw, "malformed_frame");
  });

  test("a message of an unknown type, or a request before the greeting", async () => {
    const p = await target();
    const raw = await rawClient(p);
    raw.send({ t: "req", id: 1, m: "pull", checkpoint: null, batchSize: 10 });
    await closedWith(p, raw, "protocol_error");
    const q = await target();
    const raw2 = await rawClient(q);
    raw2.send(hello);
    raw2.send({ t: "gossip" });
    await closedWith(q, raw2, "malformed_frame");
  });

  test("a frame header announcing more than the frame limit", async () => {
    const p = await target();
    const raw = await rawClient(p);
    raw.send(hello);
    const head = Buffer.alloc(4);
    head.writeUInt32BE(0x7fff_ffff, 0);
    raw.socket.write(head);
    await until(() => p.links.length > 0, "the link started");
    const closed = await p.links[0]?.closed;
    assert.equal(closed?.code, "frame_too_large");
    assert.deepEqual(Object.keys(await p.titles()), ["serving|existing"]);
  });

  test("an oversized document in a push, next to a valid one: nothing is stored", async () => {
    const p = await target();
    const raw = await rawClient(p);
    raw.send(hello);
    const ok = await signedByIntruder(item("mallory", "small"));
    const big = await signedByIntruder(item("mallory", "big", "x".repeat(SYNC_LIMITS.maxDocumentBytes)));
    raw.send({
      t: "req",
      id: 1,
      m: "push",
      rows: [
        { assumedMasterState: null, newDocumentState: ok },
        { assumedMasterState: null, newDocumentState: big },
      ],
    });
    await closedWith(p, raw, "document_too_large");
  });

  test("a document whose primary key does not match its ID fields", async () => {
    const p = await target();
    const raw = await rawClient(p);
    raw.send(hello);
    const doc = await signedByIntruder({ ...item("mallory", "a"), key: "serving|existing" });
    raw.send({ t: "req", id: 1, m: "push", rows: [{ assumedMasterState: null, newDocumentState: doc }] });
    await closedWith(p, raw, "invalid_document");
  });

  test("a push that changes _id", async () => {
    const p = await target();
    const raw = await rawClient(p);
    raw.send(hello);
    const doc = await signedByIntruder(item("mallory", "a"));
    raw.send({
      t: "req",
      id: 1,
      m: "push",
      rows: [
        { assumedMasterState: { ...item("serving", "existing"), _deleted: false }, newDocumentState: doc },
      ],
    });
    await closedWith(p, raw, "id_changed");
  });

  test("a flood of requests", async () => {
    const p = await target();
    const raw = await rawClient(p);
    raw.send(hello);
    for (let id = 1; id <= 100; id++) raw.send({ t: "req", id, m: "pull", checkpoint: null, batchSize: 10 });
    await closedWith(p, raw, "request_flood");
  });

  test("a revocation list not signed by the hub", async () => {
    const p = await target();
    const raw = await rawClient(p);
    const other = await createTestApp(app.appId);
    const { jws } = await other.revoke({ userIds: ["serving"] });
    raw.send({ ...hello, revocations: jws });
    await closedWith(p, raw, "invalid_revocation_list");
    assert.equal(p.revocations.current(), undefined);
  });

  test("another collection", async () => {
    const p = await target();
    const raw = await rawClient(p);
    raw.send({ ...hello, collection: "notes" });
    await closedWith(p, raw, "wrong_collection");
  });
});
