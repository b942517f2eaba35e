// Node peers for mesh tests: each has a device certificate, a real RxDB database (memory
// storage behind ajv, dev-mode on) whose local writes are signed, a revocation store, and a
// real mutual-TLS peer server; `link` connects two of them with replicatePeer.
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import type { Server } from "node:tls";
import type { TrustAnchor } from "@meshauth/core";
import { connectPeer, createPeerServer, messageChannel, type PeerTrust } from "@meshauth/peer";
import {
  createRevocationStore,
  type PeerRefusal,
  type PeerReplication,
  type RevocationStore,
  replicatePeer,
  signedConflictHandler,
  signLocalWrites,
} from "@meshauth/rxdb";
import { createRevisionSigner, readSignature, signedSchema } from "@meshauth/sync";
import { addRxPlugin, createRxDatabase, type RxCollection, type RxDatabase, type RxJsonSchema } from "rxdb";
import { disableWarnings, RxDBDevModePlugin } from "rxdb/plugins/dev-mode";
import { getRxStorageMemory } from "rxdb/plugins/storage-memory";
import { wrappedValidateAjvStorage } from "rxdb/plugins/validate-ajv";
import type { DeviceOptions, MeshDevice } from "../../../sync/test/helpers/mesh-devices.js";

disableWarnings();
addRxPlugin(RxDBDevModePlugin);

export interface Item {
  key: string;
  owner: string;
  item: string;
  title: string;
}

export const itemSchema: RxJsonSchema<Item> = signedSchema({
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
}) as RxJsonSchema<Item>;

export type ItemDb = RxDatabase<{ todos: RxCollection<Item> }>;

export interface MeshApp {
  appId: string;
  trust: TrustAnchor;
  /** The hub's keys for revocation lists (none in shared-key mode). */
  hubJwks?: { keys: JsonWebKey[] };
  device(userId: string, options?: DeviceOptions): Promise<MeshDevice>;
}

export interface Peer {
  name: string;
  device: MeshDevice;
  db: ItemDb;
  revocations: RevocationStore;
  server: Server;
  port: number;
  /** Links this peer is part of, by the other's user ID. */
  links: PeerReplication<Item>[];
  refusals: PeerRefusal[];
  /** TLS handshakes this peer's server refused. */
  rejected: Error[];
  /** The signer's clock (milliseconds); tests move it to sign "later". */
  clock: { now: number | undefined };
  titles(): Promise<Record<string, string>>;
  close(): Promise<void>;
}

const openPeers: Peer[] = [];

export async function closeAllPeers(): Promise<void> {
  await Promise.all(openPeers.splice(0).map((p) => p.close()));
}

function tlsTrust(app: MeshApp & { caCertificatePem?: string; rootCertificatePem?: string }): PeerTrust {
  if (app.trust.type === "ca") return { type: "ca", certificatePem: app.caCertificatePem as string };
  return {
    type: "shared-key",
    publicKey: app.trust.publicKey,
    ...(app.rootCertificatePem ? { rootCertificatePem: app.rootCertificatePem } : {}),
  };
}

export async function startPeer(
  app: MeshApp & { caCertificatePem?: string; rootCertificatePem?: string },
  name: string,
  device: MeshDevice,
  options: { signatures?: "required" | "off" } = {},
): Promise<Peer> {
  const signatures = options.signatures ?? "required";
  const db: ItemDb = await createRxDatabase({
    name: `mesh${name}${randomUUID().replaceAll("-", "")}`,
    storage: wrappedValidateAjvStorage({ storage: getRxStorageMemory() }),
    multiInstance: false,
  });
  await db.addCollections({ todos: { schema: itemSchema, conflictHandler: signedConflictHandler<Item>() } });
  const clock: { now: number | undefined } = { now: undefined };
  const signer = await createRevisionSigner({
    appId: app.appId,
    privateKey: device.privateKey,
    publicKey: device.publicKey,
    certificate: device.certificatePem,
    now: () => clock.now ?? Date.now(),
  });
  if (signatures === "required") signLocalWrites(db.todos as RxCollection, signer);
  const revocations = await createRevocationStore({
    appId: app.appId,
    keys: (app.hubJwks ?? { keys: [] }) as never,
  });
  const links: PeerReplication<Item>[] = [];
  const refusals: PeerRefusal[] = [];
  const rejected: Error[] = [];
  const trust = tlsTrust(app);
  const tlsOptions = {
    key: device.privateKeyPem,
    certificate: device.certificatePem,
    trust,
    appId: app.appId,
    revocations: () => revocations.current(),
  };
  const server = createPeerServer(
    { ...tlsOptions, onReject: (error) => rejected.push(error) },
    (socket, remote) => {
      links.push(
        replicatePeer({
          collection: db.todos,
          connection: messageChannel(socket, remote, { initiator: false }),
          appId: app.appId,
          trust: app.trust,
          revocations,
          signatures,
          onRefused: (r) => refusals.push(r),
        }),
      );
    },
  );
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const peer: Peer = {
    name,
    device,
    db,
    revocations,
    server,
    port: (server.address() as AddressInfo).port,
    links,
    refusals,
    rejected,
    clock,
    async titles() {
      const docs = await db.todos.find().exec();
      return Object.fromEntries(docs.map((d) => [d.key, d.title]));
    },
    async close() {
      await Promise.all(links.map((l) => l.close()));
      server.close();
      await db.close();
    },
  };
  Object.assign(peer, { tlsOptions, signatures });
  openPeers.push(peer);
  return peer;
}

/** `from` connects to `to`'s server and replicates against it (`to` serves). */
export async function link(from: Peer, to: Peer): Promise<PeerReplication<Item>> {
  const tlsOptions = (from as unknown as { tlsOptions: Parameters<typeof connectPeer>[0] }).tlsOptions;
  const { socket, peer } = await connectPeer({ ...tlsOptions, host: "127.0.0.1", port: to.port });
  const replication = replicatePeer({
    collection: from.db.todos,
    connection: messageChannel(socket, peer, { initiator: true }),
    appId: (tlsOptions as { appId: string }).appId,
    trust:
      tlsOptions.trust.type === "ca"
        ? tlsOptions.trust
        : { type: "shared-key", publicKey: tlsOptions.trust.publicKey },
    revocations: from.revocations,
    signatures: (from as unknown as { signatures: "required" | "off" }).signatures,
    onRefused: (r) => from.refusals.push(r),
  });
  from.links.push(replication);
  return replication;
}

/** Polls `check` until it returns true. */
export async function until(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeout = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeout;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Who signed the stored state of a document. */
export async function authorOf(peer: Peer, key: string): Promise<string | undefined> {
  const doc = await peer.db.todos.findOne(key).exec();
  return doc ? readSignature(doc.toJSON() as Record<string, unknown>)?.by : undefined;
}

export function item(owner: string, name: string, title = `${owner}'s ${name}`): Item {
  return { key: `${owner}|${name}`, owner, item: name, title };
}

/**
 * Writes straight into a peer's storage, past its signing hooks: what a tampering relay
 * (or a bug) does. The change then replicates like any other.
 */
export async function writeRaw(peer: Peer, document: Record<string, unknown>): Promise<void> {
  const { createRevision, now } = await import("rxdb/plugins/utils");
  const storage = peer.db.todos.storageInstance;
  const key = String(document["key"]);
  const [previous] = await storage.findDocumentsById([key], true);
  const base = previous ?? { _meta: { lwt: now() }, _rev: "", _attachments: {}, _deleted: false };
  const next = {
    ...base,
    ...document,
    _attachments: {},
    _meta: { ...base._meta, lwt: now() },
    _deleted: document["_deleted"] === true,
  } as never;
  (next as { _rev: string })._rev = createRevision(peer.db.token, previous as never);
  const result = await storage.bulkWrite(
    [{ ...(previous ? { previous } : {}), document: next }],
    "test-raw-write",
  );
  if (result.error.length > 0) throw new Error(`raw write failed: ${JSON.stringify(result.error[0])}`);
}
