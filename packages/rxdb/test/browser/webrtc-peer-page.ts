// A browser peer for the WebRTC test: RxDB (memory storage) with signed local writes, a
// WebSocket to the signalling server, one RTCPeerConnection on loopback, authentication
// over the data channel with the hub token and a channel proof, then replicatePeer.
import {
  authenticateDataChannel,
  createRevocationStore,
  type PeerRefusal,
  type PeerReplication,
  replicatePeer,
  signedConflictHandler,
  signLocalWrites,
} from "@meshauth/rxdb";
import { createRevisionSigner, readSignature, signedSchema } from "@meshauth/sync";
import { createRxDatabase, type RxCollection } from "rxdb";
import { getRxStorageMemory } from "rxdb/plugins/storage-memory";

export interface PeerConfig {
  appId: string;
  sub: string;
  initiator: boolean;
  signalUrl: string;
  room: string;
  accessToken: string;
  privateJwk: JsonWebKey;
  publicJwk: JsonWebKey;
  certificatePem: string;
  caCertificatePem: string;
  hubJwks: { keys: JsonWebKey[] };
}

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

const P256 = { name: "ECDSA", namedCurve: "P-256" } as const;

async function start(config: PeerConfig) {
  // Milestones since start, for the benchmark: data channel open, peer authenticated, greeted.
  const started = performance.now();
  const marks: { open?: number; authenticated?: number; ready?: number } = {};
  const privateKey = await crypto.subtle.importKey("jwk", config.privateJwk, P256, false, ["sign"]);
  const publicKey = await crypto.subtle.importKey("jwk", config.publicJwk, P256, true, ["verify"]);
  const db = await createRxDatabase<{ todos: RxCollection<Item> }>({
    name: `webrtc${config.sub}${crypto.randomUUID().replaceAll("-", "")}`,
    storage: getRxStorageMemory(),
    multiInstance: false,
  });
  await db.addCollections({
    todos: { schema: schema as never, conflictHandler: signedConflictHandler<Item>() },
  });
  signLocalWrites(
    db.todos as RxCollection,
    await createRevisionSigner({
      appId: config.appId,
      privateKey,
      publicKey,
      certificate: config.certificatePem,
    }),
  );
  const revocations = await createRevocationStore({ appId: config.appId, keys: config.hubJwks as never });
  const refusals: PeerRefusal[] = [];
  const state: { link?: PeerReplication<Item>; authError?: string; remoteUser?: string } = {};

  const pc = new RTCPeerConnection();
  const ws = new WebSocket(`${config.signalUrl}/${config.room}`);
  const gathered = () =>
    new Promise<void>((resolve) => {
      if (pc.iceGatheringState === "complete") resolve();
      else
        pc.addEventListener(
          "icegatheringstatechange",
          () => pc.iceGatheringState === "complete" && resolve(),
        );
    });
  const useChannel = async (channel: RTCDataChannel) => {
    if (channel.readyState === "open") marks.open = performance.now() - started;
    else channel.addEventListener("open", () => (marks.open = performance.now() - started), { once: true });
    try {
      const connection = await authenticateDataChannel({
        channel,
        initiator: config.initiator,
        appId: config.appId,
        accessToken: config.accessToken,
        privateKey,
        publicKey,
        hubKeys: config.hubJwks as never,
        revocations,
      });
      marks.authenticated = performance.now() - started;
      state.remoteUser = connection.remote.identity.userId;
      state.link = replicatePeer({
        collection: db.todos,
        connection,
        appId: config.appId,
        trust: { type: "ca", certificatePem: config.caCertificatePem },
        revocations,
        onRefused: (r) => refusals.push(r),
      });
      void state.link.ready().then(() => (marks.ready = performance.now() - started));
    } catch (error) {
      state.authError = (error as Error).message;
    }
  };
  let offered = false;
  ws.addEventListener("message", async (event) => {
    const message = JSON.parse(String(event.data)) as {
      t: string;
      count?: number;
      sdp?: RTCSessionDescriptionInit;
    };
    if (message.t === "peers" && config.initiator && !offered && (message.count ?? 0) >= 2) {
      offered = true;
      void useChannel(pc.createDataChannel("meshauth"));
      await pc.setLocalDescription(await pc.createOffer());
      await gathered();
      ws.send(JSON.stringify({ t: "offer", sdp: pc.localDescription?.toJSON() }));
    } else if (message.t === "offer" && !config.initiator && message.sdp) {
      pc.addEventListener("datachannel", (e) => void useChannel(e.channel));
      await pc.setRemoteDescription(message.sdp);
      await pc.setLocalDescription(await pc.createAnswer());
      await gathered();
      ws.send(JSON.stringify({ t: "answer", sdp: pc.localDescription?.toJSON() }));
    } else if (message.t === "answer" && config.initiator && message.sdp) {
      await pc.setRemoteDescription(message.sdp);
    }
  });

  return {
    async insert(owner: string, item: string, title: string) {
      await db.todos.insert({ key: `${owner}|${item}`, owner, item, title });
    },
    async documents() {
      const docs = await db.todos.find().exec();
      return docs
        .map((d) => ({
          key: d.key,
          title: d.title,
          by: readSignature(d.toJSON() as Record<string, unknown>)?.by,
        }))
        .sort((a, b) => (a.key < b.key ? -1 : 1));
    },
    refusals: () => refusals.map((r) => ({ ...r })),
    marks: () => ({ ...marks }),
    status: () => ({
      linked: state.link !== undefined,
      remoteUser: state.remoteUser,
      authError: state.authError,
    }),
  };
}

(globalThis as { startPeer?: (config: PeerConfig) => Promise<void> }).startPeer = async (
  config: PeerConfig,
) => {
  (globalThis as { peer?: unknown }).peer = await start(config);
};
