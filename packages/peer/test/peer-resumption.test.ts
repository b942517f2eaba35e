// TLS 1.3 session resumption between meshauth peers on real sockets: a resumed connection
// skips the certificate exchange, never meshauth's checks. A peer revoked (or expired)
// after the session was made is refused on resumption, at whichever end checks it.
import assert from "node:assert/strict";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { after, describe, test } from "node:test";
import type { Server, TLSSocket } from "node:tls";
import {
  CertificateError,
  createCertificateAuthority,
  emptyRevocationList,
  exportPrivateKeyPem,
  FULL_ACCESS,
  generateDeviceKey,
  issueDeviceCertificate,
  keyThumbprint,
  loadCertificateAuthority,
  type RevocationList,
} from "@meshauth/core";
import {
  type AuthenticatedPeer,
  type ConnectPeerOptions,
  connectPeer,
  createPeerServer,
  PeerSessionCache,
  type PeerTrust,
} from "@meshauth/peer";

const APP = "app-resume";
const material = await createCertificateAuthority({ appId: APP });
const ca = await loadCertificateAuthority(material);
const trust: PeerTrust = { type: "ca", certificatePem: material.certificatePem };

async function device(userId: string, lifetimeSeconds = 3600) {
  const keys = await generateDeviceKey();
  const peerKey = await keyThumbprint(keys.publicKey);
  const issued = await issueDeviceCertificate({
    ca,
    identity: {
      appId: APP,
      userId,
      peerKey,
      provider: "otp",
      permissions: FULL_ACCESS,
      exp: Math.floor(Date.now() / 1000) + lifetimeSeconds,
    },
    publicKey: keys.publicKey,
  });
  return { key: await exportPrivateKeyPem(keys.privateKey), certificate: issued.certificatePem, peerKey };
}

const servers: Server[] = [];
after(() => {
  for (const s of servers) s.close();
});

async function startServer(revocations: () => RevocationList) {
  const accepted: AuthenticatedPeer[] = [];
  const rejected: Error[] = [];
  const server = createPeerServer(
    { ...(await device("server")), trust, appId: APP, revocations, onReject: (e) => rejected.push(e) },
    (socket, peer) => {
      accepted.push(peer);
      socket.end(`hello ${peer.identity.userId}\n`);
    },
  );
  servers.push(server);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { port: (server.address() as AddressInfo).port, accepted, rejected };
}

async function readAll(socket: TLSSocket): Promise<string> {
  let text = "";
  socket.setEncoding("utf8");
  socket.on("data", (chunk: string) => {
    text += chunk;
  });
  socket.on("error", () => {});
  await once(socket, "close");
  return text;
}

const options = (
  port: number,
  d: { key: string; certificate: string },
  extra: Partial<ConnectPeerOptions> = {},
): ConnectPeerOptions => ({ host: "127.0.0.1", port, ...d, trust, appId: APP, ...extra });

describe("session resumption", () => {
  test("a second connection resumes and both ends still see the verified identity", async () => {
    const running = await startServer(() => emptyRevocationList(APP));
    const ada = await device("ada");
    const sessions = new PeerSessionCache();
    const first = await connectPeer(options(running.port, ada, { sessions }));
    assert.equal(first.resumed, false);
    assert.equal(await readAll(first.socket), "hello ada\n");
    const second = await connectPeer(options(running.port, ada, { sessions }));
    assert.equal(second.resumed, true);
    assert.equal(second.peer.identity.userId, "server");
    assert.equal(await readAll(second.socket), "hello ada\n");
    assert.deepEqual(
      running.accepted.map((p) => p.identity.userId),
      ["ada", "ada"],
    );
    // Without a cache, nothing is resumed.
    const fresh = await connectPeer(options(running.port, ada));
    assert.equal(fresh.resumed, false);
    await readAll(fresh.socket);
  });

  test("a client revoked after its session was made does not get in by resuming it", async () => {
    let list = emptyRevocationList(APP);
    const running = await startServer(() => list);
    const bob = await device("bob");
    const sessions = new PeerSessionCache();
    const first = await connectPeer(options(running.port, bob, { sessions }));
    assert.equal(await readAll(first.socket), "hello bob\n");

    list = { ...list, version: 1, entries: { ...list.entries, peerKeys: [bob.peerKey] } };
    let received = "";
    try {
      const again = await connectPeer(options(running.port, bob, { sessions }));
      // TLS 1.3: the client may finish before the server has refused it.
      assert.equal(again.resumed, true);
      received = await readAll(again.socket);
    } catch {
      // Refused before connectPeer resolved.
    }
    assert.equal(received, "", "a revoked client must receive nothing");
    assert.equal(running.accepted.length, 1);
    const refused = running.rejected[0];
    assert.ok(refused instanceof CertificateError && refused.reason === "revoked", String(refused));
  });

  test("a server revoked after the session was made is refused on resumption, and its session dropped", async () => {
    const running = await startServer(() => emptyRevocationList(APP));
    const carol = await device("carol");
    const sessions = new PeerSessionCache();
    let list = emptyRevocationList(APP);
    const first = await connectPeer(options(running.port, carol, { sessions, revocations: () => list }));
    await readAll(first.socket);
    const address = `127.0.0.1:${running.port}/`;
    assert.ok(sessions.get(address), "the first connection left a session");

    list = { ...list, version: 1, entries: { ...list.entries, userIds: ["server"] } };
    await assert.rejects(
      connectPeer(options(running.port, carol, { sessions, revocations: () => list })),
      (e: unknown) => e instanceof CertificateError && e.reason === "revoked",
    );
    assert.equal(sessions.get(address), undefined);
  });

  test("a session outliving the server's certificate is refused as expired", async () => {
    const running = await startServer(() => emptyRevocationList(APP));
    const dave = await device("dave");
    const sessions = new PeerSessionCache();
    const first = await connectPeer(options(running.port, dave, { sessions }));
    await readAll(first.socket);
    // Two days on, on this peer's clock: the server's one-hour identity is over.
    const later = () => new Date(Date.now() + 2 * 86_400_000);
    await assert.rejects(
      connectPeer(options(running.port, dave, { sessions, now: later })),
      (e: unknown) => e instanceof CertificateError && e.reason === "expired",
    );
  });
});
