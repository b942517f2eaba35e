/**
 * Peer-to-peer replication over mutual TLS with real RxDB (memory storage):
 *   - throughput (documents/s) of a fresh replica pulling N documents, with signed revisions
 *     verified on receipt, against the same link without signatures (`signatures: "off"`);
 *   - the cost of one verified revision (sign, verify) against the per-document time;
 *   - handshake and authentication per link (TLS 1.3 with certificate checks both ways plus
 *     the greeting and revocation exchange) against a bare TLS 1.3 handshake with the same
 *     certificates.
 *
 *   npm run bench -- p2p       (DOCS=1000 ROUNDS=3 LINKS=20 to change the sizes)
 */
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { connect, createServer, type Server } from "node:tls";
import { connectPeer, createPeerServer, messageChannel, type PeerTrust } from "@meshauth/peer";
import {
  createRevocationStore,
  type PeerReplication,
  type RevocationStore,
  replicatePeer,
  signedConflictHandler,
  signLocalWrites,
} from "@meshauth/rxdb";
import {
  createRevisionSigner,
  createRevisionVerifier,
  type SyncDocument,
  signedSchema,
} from "@meshauth/sync";
import { createRxDatabase, type RxCollection, type RxDatabase } from "rxdb";
import { getRxStorageMemory } from "rxdb/plugins/storage-memory";
import { allRules, createTestApp, type MeshDevice } from "../packages/sync/test/helpers/mesh-devices.js";
import { measure, print } from "./lib/rounds.js";

const DOCS = Number(process.env.DOCS ?? 1000);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const LINKS = Number(process.env.LINKS ?? 20);

type Mode = "required" | "off";
interface Item {
  key: string;
  owner: string;
  item: string;
  title: string;
}

const schema = signedSchema({
  version: 0,
  primaryKey: { key: "key", fields: ["owner", "item"], separator: "|" },
  type: "object",
  properties: {
    key: { type: "string", maxLength: 200 },
    owner: { type: "string", maxLength: 100 },
    item: { type: "string", maxLength: 100 },
    title: { type: "string" },
  },
  required: ["key", "owner", "item", "title"],
});

const app = await createTestApp("app-bench");
const tlsTrust: PeerTrust = { type: "ca", certificatePem: app.caCertificatePem };
let dbCount = 0;

async function database(device: MeshDevice, mode: Mode): Promise<RxDatabase<{ todos: RxCollection<Item> }>> {
  const db: RxDatabase<{ todos: RxCollection<Item> }> = await createRxDatabase({
    name: `bench${dbCount++}`,
    storage: getRxStorageMemory(),
    multiInstance: false,
  });
  await db.addCollections({
    todos: { schema: schema as never, conflictHandler: signedConflictHandler<Item>() },
  });
  if (mode === "required") {
    const signer = await createRevisionSigner({
      appId: app.appId,
      privateKey: device.privateKey,
      publicKey: device.publicKey,
      certificate: device.certificatePem,
    });
    signLocalWrites(db.todos as RxCollection, signer);
  }
  return db;
}

function tlsOptions(device: MeshDevice, revocations: RevocationStore) {
  return {
    key: device.privateKeyPem,
    certificate: device.certificatePem,
    trust: tlsTrust,
    appId: app.appId,
    revocations: () => revocations.current(),
  };
}

const alice = await app.device("alice", { permissions: allRules() });
const bob = await app.device("bob", { permissions: allRules() });
const { jws } = await app.revoke({ userIds: ["nobody"] });

interface Source {
  mode: Mode;
  server: Server;
  port: number;
  links: PeerReplication<Item>[];
}

/** A serving peer holding DOCS documents written (and, in `required` mode, signed) by alice. */
async function source(mode: Mode, count = DOCS): Promise<Source> {
  const db = await database(alice, mode);
  const revocations = await createRevocationStore({
    appId: app.appId,
    keys: app.hubJwks as never,
    initial: jws,
  });
  const docs = Array.from({ length: count }, (_, i) => ({
    key: `alice|i${i}`,
    owner: "alice",
    item: `i${i}`,
    title: `item ${i} `.repeat(8),
  }));
  for (let i = 0; i < docs.length; i += 200) await db.todos.bulkInsert(docs.slice(i, i + 200));
  const links: PeerReplication<Item>[] = [];
  const server = createPeerServer(tlsOptions(alice, revocations), (socket, peer) => {
    links.push(
      replicatePeer({
        collection: db.todos,
        connection: messageChannel(socket, peer, { initiator: false }),
        appId: app.appId,
        trust: app.trust,
        revocations,
        signatures: mode,
        limits: { batchSize: 100 },
      }),
    );
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { mode, server, port: (server.address() as AddressInfo).port, links };
}

/** A fresh replica pulls everything; returns documents per second. */
async function pullAll(src: Source): Promise<number> {
  const db = await database(bob, src.mode);
  const revocations = await createRevocationStore({
    appId: app.appId,
    keys: app.hubJwks as never,
    initial: jws,
  });
  const start = performance.now();
  const { socket, peer } = await connectPeer({
    ...tlsOptions(bob, revocations),
    host: "127.0.0.1",
    port: src.port,
  });
  const link = replicatePeer({
    collection: db.todos,
    connection: messageChannel(socket, peer, { initiator: true }),
    appId: app.appId,
    trust: app.trust,
    revocations,
    signatures: src.mode,
    limits: { batchSize: 100 },
  });
  await link.awaitInSync();
  while ((await db.todos.count().exec()) < DOCS) await new Promise((r) => setTimeout(r, 5));
  const elapsed = performance.now() - start;
  if (link.refusals.length > 0) throw new Error(`refusals: ${JSON.stringify(link.refusals[0])}`);
  await link.close();
  await db.close();
  return (DOCS * 1000) / elapsed;
}

const median = (values: number[]): number =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

// --- throughput ----------------------------------------------------------------------------
const signedSource = await source("required");
const plainSource = await source("off");
await pullAll(signedSource); // warm-up
await pullAll(plainSource);
const rates: Record<Mode, number[]> = { required: [], off: [] };
for (let r = 0; r < ROUNDS; r++) {
  rates.off.push(await pullAll(plainSource));
  rates.required.push(await pullAll(signedSource));
}
const signedRate = median(rates.required);
const plainRate = median(rates.off);
console.log(
  `\nP2P replication of ${DOCS} documents over mutual TLS, fresh replica, median of ${ROUNDS} rounds`,
);
console.log(`case                                   docs/s   ratio`);
console.log(`unsigned (signatures: "off") baseline ${plainRate.toFixed(0).padStart(8)}   1.00`);
console.log(
  `signed, every revision verified       ${signedRate.toFixed(0).padStart(8)}   ${(signedRate / plainRate).toFixed(2)}`,
);

// --- cost per revision ---------------------------------------------------------------------
const signer = await createRevisionSigner({
  appId: app.appId,
  privateKey: alice.privateKey,
  publicKey: alice.publicKey,
  certificate: alice.certificatePem,
});
const verifier = createRevisionVerifier({ appId: app.appId, trust: app.trust, canWrite: () => true });
const sample = { key: "alice|x", owner: "alice", item: "x", title: "item x ".repeat(8), _deleted: false };
const signedSample = (await signer.sign({
  collection: "todos",
  id: { owner: "alice", item: "x" },
  document: sample,
})) as SyncDocument;
let counter = 0;
const perRevision = await measure([
  {
    name: "sign one revision",
    op: async () => {
      await signer.sign({
        collection: "todos",
        id: { owner: "alice", item: "x" },
        document: { ...sample, n: counter++ },
      });
    },
  },
  {
    name: "verify one revision (author's certificate cached)",
    op: async () => {
      await verifier.verify({
        collection: "todos",
        id: { owner: "alice", item: "x" },
        document: signedSample,
      });
    },
  },
]);
const perDocUnsignedUs = 1e6 / plainRate;
const perDocSignedUs = 1e6 / signedRate;
print(
  "cost per revision (ratio: against the time one document takes in unsigned replication)",
  [...perRevision].map(([name, ops]) => [
    name,
    ops,
    `${(1e6 / ops).toFixed(0)} µs, ${(1e6 / ops / perDocUnsignedUs).toFixed(2)}x`,
  ]),
);
console.log(
  `per document in replication: ${perDocUnsignedUs.toFixed(0)} µs unsigned, ${perDocSignedUs.toFixed(0)} µs signed (+${(perDocSignedUs - perDocUnsignedUs).toFixed(0)} µs)`,
);

// --- handshake and authentication per link ------------------------------------------------
const bareServer = createServer({
  key: alice.privateKeyPem,
  cert: alice.certificatePem,
  ca: app.caCertificatePem,
  requestCert: true,
  rejectUnauthorized: true,
  minVersion: "TLSv1.3",
});
bareServer.on("secureConnection", (socket) => socket.end());
bareServer.listen(0, "127.0.0.1");
await once(bareServer, "listening");
const barePort = (bareServer.address() as AddressInfo).port;

async function bareHandshake(): Promise<number> {
  const start = performance.now();
  const socket = connect({
    host: "127.0.0.1",
    port: barePort,
    key: bob.privateKeyPem,
    cert: bob.certificatePem,
    ca: app.caCertificatePem,
    minVersion: "TLSv1.3",
    checkServerIdentity: () => undefined,
  });
  await once(socket, "secureConnect");
  const elapsed = performance.now() - start;
  socket.destroy();
  return elapsed;
}

const emptySource = await source("required", 0);

async function meshauthLink(): Promise<number> {
  const db = await database(bob, "required");
  const revocations = await createRevocationStore({
    appId: app.appId,
    keys: app.hubJwks as never,
    initial: jws,
  });
  const start = performance.now();
  const { socket, peer } = await connectPeer({
    ...tlsOptions(bob, revocations),
    host: "127.0.0.1",
    port: emptySource.port,
  });
  const link = replicatePeer({
    collection: db.todos,
    connection: messageChannel(socket, peer, { initiator: true }),
    appId: app.appId,
    trust: app.trust,
    revocations,
  });
  await link.ready();
  const elapsed = performance.now() - start;
  await link.close();
  await db.close();
  return elapsed;
}

for (let i = 0; i < 3; i++) {
  await bareHandshake();
  await meshauthLink();
}
const bare: number[] = [];
const mesh: number[] = [];
for (let i = 0; i < LINKS; i++) {
  bare.push(await bareHandshake());
  mesh.push(await meshauthLink());
}
const bareMs = median(bare);
const meshMs = median(mesh);
console.log(`\nhandshake and authentication per link, median of ${LINKS}`);
console.log(`case                                                        ms   ratio`);
console.log(
  `bare TLS 1.3 mutual handshake (OpenSSL chain check only)  ${bareMs.toFixed(2).padStart(6)}   1.00`,
);
console.log(
  `meshauth link: TLS + certificate checks + greeting/lists    ${meshMs.toFixed(2).padStart(6)}   ${(meshMs / bareMs).toFixed(2)}`,
);

bareServer.close();
for (const s of [signedSource, plainSource, emptySource]) {
  for (const l of s.links) await l.close();
  s.server.close();
}
process.exit(0);
