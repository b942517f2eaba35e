// Real TLS 1.3 connections on 127.0.0.1: two peers authenticate each other with device
// certificates, and every refusal (other app, revoked, expired, other shared key) is seen
// at the end that checks it.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import type { Server, TLSSocket } from "node:tls";
import {
  CertificateError,
  createCertificateAuthority,
  createSharedKeyRootCertificate,
  emptyRevocationList,
  exportPrivateKeyPem,
  FULL_ACCESS,
  generateDeviceKey,
  generateSharedKey,
  type Identity,
  issueDeviceCertificate,
  issueSharedKeyCertificate,
  keyThumbprint,
  loadCertificateAuthority,
  loadSharedKey,
  type RevocationList,
  type SharedKey,
} from "@meshauth/core";
import {
  type AuthenticatedPeer,
  type ConnectPeerOptions,
  connectPeer,
  createPeerServer,
  type PeerServerOptions,
  type PeerTrust,
} from "@meshauth/peer";

const HOUR = 3600;

interface Device {
  key: string;
  certificate: string;
  peerKey: string;
}

async function appCa(appId: string, now?: Date) {
  const material = await createCertificateAuthority(now ? { appId, now } : { appId });
  const ca = await loadCertificateAuthority(material);
  return { ca, trust: { type: "ca", certificatePem: material.certificatePem } satisfies PeerTrust };
}

type Ca = Awaited<ReturnType<typeof appCa>>["ca"];

async function caDevice(
  ca: Ca,
  userId: string,
  options: { permissions?: Identity["permissions"]; now?: Date; exp?: number } = {},
): Promise<Device> {
  const keys = await generateDeviceKey();
  const peerKey = await keyThumbprint(keys.publicKey);
  const now = options.now ?? new Date();
  const identity: Identity = {
    appId: ca.appId,
    userId,
    peerKey,
    provider: "otp",
    permissions: options.permissions ?? {
      read: { everything: false, queriesByCollection: { cars: [`_id.owner == '${userId}'`] } },
      write: { everything: false, queriesByCollection: {} },
    },
    exp: options.exp ?? Math.floor(now.getTime() / 1000) + HOUR,
  };
  const issued = await issueDeviceCertificate({ ca, identity, publicKey: keys.publicKey, now });
  return { key: await exportPrivateKeyPem(keys.privateKey), certificate: issued.certificatePem, peerKey };
}

async function sharedKeyDevice(sharedKey: SharedKey, appId: string, deviceId: string): Promise<Device> {
  const keys = await generateDeviceKey();
  const issued = await issueSharedKeyCertificate({
    sharedKey,
    appId,
    devicePublicKey: keys.publicKey,
    deviceId,
  });
  return {
    key: await exportPrivateKeyPem(keys.privateKey),
    certificate: issued.certificatePem,
    peerKey: issued.keyThumbprint,
  };
}

interface Running {
  server: Server;
  port: number;
  /** Peers the connection listener received. */
  accepted: AuthenticatedPeer[];
  /** The first refusal the server reports. */
  rejected: Promise<Error>;
}

const servers: Server[] = [];
after(() => {
  for (const server of servers) server.close();
});

/** A peer server that greets every authenticated peer by name and closes. */
async function startServer(options: PeerServerOptions): Promise<Running> {
  const accepted: AuthenticatedPeer[] = [];
  const server = createPeerServer(options, (socket, peer) => {
    accepted.push(peer);
    socket.end(`hello ${peer.identity.userId}\n`);
  });
  servers.push(server);
  const rejected = once(server, "peerRejected").then(([error]) => error as Error);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { server, port: (server.address() as AddressInfo).port, accepted, rejected };
}

function clientOptions(
  running: Running,
  device: Device,
  trust: PeerTrust,
  appId: string,
  extra: Partial<ConnectPeerOptions> = {},
): ConnectPeerOptions {
  return {
    host: "127.0.0.1",
    port: running.port,
    key: device.key,
    certificate: device.certificate,
    trust,
    appId,
    ...extra,
  };
}

/** Reads what the server sends until it closes; rejects on a socket error. */
async function readAll(socket: TLSSocket): Promise<string> {
  let text = "";
  socket.setEncoding("utf8");
  socket.on("data", (chunk: string) => {
    text += chunk;
  });
  await once(socket, "end");
  socket.destroy();
  return text;
}

/**
 * The client's view of a connection the server refuses. In TLS 1.3 the client finishes its
 * handshake before the server has checked the client's certificate, so the refusal shows as
 * a rejected promise or as a connection closed without any data, depending on timing.
 */
async function refusedByServer(connecting: Promise<{ socket: TLSSocket }>): Promise<void> {
  let socket: TLSSocket;
  try {
    ({ socket } = await connecting);
  } catch {
    return;
  }
  let received = "";
  socket.setEncoding("utf8");
  socket.on("data", (chunk: string) => {
    received += chunk;
  });
  socket.on("error", () => {});
  await once(socket, "close");
  assert.equal(received, "", "a refused client must receive nothing");
}

async function assertRejection(error: Promise<Error>, reason: string): Promise<void> {
  const refused = await error;
  assert.ok(refused instanceof CertificateError, `expected a CertificateError, got ${refused}`);
  assert.equal(refused.reason, reason, refused.message);
}

describe("CA mode", () => {
  test("two devices of one app connect, and each sees the other's identity and permissions", async () => {
    const { ca, trust } = await appCa("app-a");
    const ada = await caDevice(ca, "ada");
    const bob = await caDevice(ca, "bob");
    const seenByServer: AuthenticatedPeer[] = [];
    const running = await startServer({
      key: ada.key,
      certificate: ada.certificate,
      trust,
      appId: "app-a",
      onPeer: (peer) => seenByServer.push(peer),
    });
    const { socket, peer } = await connectPeer(clientOptions(running, bob, trust, "app-a"));
    // The client verified the server: it is ada's device, with ada's permissions.
    assert.equal(peer.identity.userId, "ada");
    assert.equal(peer.identity.peerKey, ada.peerKey);
    assert.equal(peer.certificate.trust, "ca");
    assert.equal(peer.authorizer.canRead("cars", { _id: { owner: "ada" } }), true);
    assert.equal(peer.authorizer.canRead("cars", { _id: { owner: "bob" } }), false);
    assert.equal(socket.getProtocol(), "TLSv1.3");

    assert.equal(await readAll(socket), "hello bob\n");
    // The server verified the client: bob's device, bob's permissions.
    const [bobAtServer] = running.accepted;
    assert.ok(bobAtServer);
    assert.equal(bobAtServer.identity.userId, "bob");
    assert.equal(bobAtServer.identity.peerKey, bob.peerKey);
    assert.deepEqual(bobAtServer.identity.permissions.read.queriesByCollection, {
      cars: ["_id.owner == 'bob'"],
    });
    assert.equal(bobAtServer.authorizer.canRead("cars", { _id: { owner: "bob" } }), true);
    assert.equal(bobAtServer.authorizer.canWrite("cars", { _id: { owner: "bob" } }), false);
    assert.equal(seenByServer[0]?.identity.userId, "bob");
  });

  test("a device of app B is refused by a server of app A, and a client of app A refuses a server of app B", async () => {
    const a = await appCa("app-a");
    const b = await appCa("app-b");
    const serverA = await startServer({
      ...(await caDevice(a.ca, "ada")),
      trust: a.trust,
      appId: "app-a",
    });
    const intruder = await caDevice(b.ca, "mallory");
    // The intruder accepts server A, so only server A's check can refuse the connection.
    await refusedByServer(connectPeer(clientOptions(serverA, intruder, a.trust, "app-a")));
    await assertRejection(serverA.rejected, "untrusted_issuer");
    assert.equal(serverA.accepted.length, 0);

    const serverB = await startServer({ ...intruder, trust: b.trust, appId: "app-b" });
    const client = await caDevice(a.ca, "ada");
    await assert.rejects(
      connectPeer(clientOptions(serverB, client, a.trust, "app-a")),
      (error: unknown) => error instanceof CertificateError && error.reason === "untrusted_issuer",
    );
    assert.equal(serverB.accepted.length, 0);
  });

  test("a revoked device is refused, by peer key and by user, at the next handshake", async () => {
    const { ca, trust } = await appCa("app-a");
    const ada = await caDevice(ca, "ada");
    const bob = await caDevice(ca, "bob");
    let list: RevocationList = emptyRevocationList("app-a");
    const running = await startServer({ ...ada, trust, appId: "app-a", revocations: () => list });

    // Before revocation, bob gets in.
    const first = await connectPeer(clientOptions(running, bob, trust, "app-a"));
    assert.equal(await readAll(first.socket), "hello bob\n");

    list = { ...list, version: 1, entries: { ...list.entries, peerKeys: [bob.peerKey] } };
    await refusedByServer(connectPeer(clientOptions(running, bob, trust, "app-a")));
    await assertRejection(running.rejected, "revoked");
    assert.equal(running.accepted.length, 1);

    // The client side applies its list too: a server whose user is revoked is refused.
    const byUser: RevocationList = {
      ...emptyRevocationList("app-a"),
      version: 2,
      entries: { userIds: ["ada"], peerKeys: [], sessionIds: [], serials: [] },
    };
    await assert.rejects(
      connectPeer(clientOptions(running, bob, trust, "app-a", { revocations: () => byUser })),
      (error: unknown) => error instanceof CertificateError && error.reason === "revoked",
    );
  });

  test("an expired certificate is refused by OpenSSL in the handshake", async () => {
    const past = new Date(Date.now() - 2 * 86_400_000);
    const { ca, trust } = await appCa("app-a", past);
    const ada = await caDevice(ca, "ada");
    const issuedAt = new Date(Date.now() - 86_400_000);
    // Valid for one hour, a day ago.
    const expired = await caDevice(ca, "bob", {
      now: issuedAt,
      exp: Math.floor(issuedAt.getTime() / 1000) + HOUR,
    });
    const running = await startServer({ ...ada, trust, appId: "app-a" });
    await refusedByServer(connectPeer(clientOptions(running, expired, trust, "app-a")));
    await assertRejection(running.rejected, "expired");

    // And the client refuses an expired server.
    const expiredServer = await startServer({ ...expired, trust, appId: "app-a" });
    await assert.rejects(
      connectPeer(clientOptions(expiredServer, ada, trust, "app-a")),
      (error: unknown) => error instanceof CertificateError && error.reason === "expired",
    );
  });

  test("meshauth's own expiry check refuses what OpenSSL would accept, on the peer's clock", async () => {
    const { ca, trust } = await appCa("app-a");
    const ada = await caDevice(ca, "ada");
    const bob = await caDevice(ca, "bob");
    // This server's clock is two hours ahead: bob's one-hour certificate is over for it,
    // while OpenSSL (system clock) still accepts the chain.
    const running = await startServer({
      ...ada,
      trust,
      appId: "app-a",
      now: () => new Date(Date.now() + 2 * HOUR * 1000),
    });
    await refusedByServer(connectPeer(clientOptions(running, bob, trust, "app-a")));
    await assertRejection(running.rejected, "expired");
  });
});

describe("shared-key mode", () => {
  async function sharedKeyTrust(sharedKey: SharedKey, withRoot: boolean): Promise<PeerTrust> {
    return withRoot
      ? {
          type: "shared-key",
          publicKey: sharedKey.publicKey,
          rootCertificatePem: await createSharedKeyRootCertificate(sharedKey),
        }
      : { type: "shared-key", publicKey: sharedKey.publicKeyJwk };
  }

  for (const withRoot of [true, false]) {
    const label = withRoot ? "with a root certificate" : "with the bare public key";

    test(`devices of the same shared key connect (${label})`, async () => {
      const sharedKey = await loadSharedKey(await generateSharedKey());
      const trust = await sharedKeyTrust(sharedKey, withRoot);
      const one = await sharedKeyDevice(sharedKey, "app-s", "device-1");
      const two = await sharedKeyDevice(sharedKey, "app-s", "device-2");
      const running = await startServer({ ...one, trust, appId: "app-s" });
      const { socket, peer } = await connectPeer(clientOptions(running, two, trust, "app-s"));
      assert.equal(peer.identity.userId, "device-1");
      assert.equal(peer.identity.provider, "shared-key");
      assert.equal(peer.certificate.trust, "shared-key");
      assert.equal(peer.authorizer.canWrite("anything", { _id: "x" }), true);
      assert.equal(await readAll(socket), "hello device-2\n");
      assert.equal(running.accepted[0]?.identity.peerKey, two.peerKey);
    });

    test(`a certificate signed by another shared key is refused (${label})`, async () => {
      const sharedKey = await loadSharedKey(await generateSharedKey());
      const otherKey = await loadSharedKey(await generateSharedKey());
      const trust = await sharedKeyTrust(sharedKey, withRoot);
      const one = await sharedKeyDevice(sharedKey, "app-s", "device-1");
      const stranger = await sharedKeyDevice(otherKey, "app-s", "stranger");
      const running = await startServer({ ...one, trust, appId: "app-s" });
      await refusedByServer(connectPeer(clientOptions(running, stranger, trust, "app-s")));
      await assertRejection(running.rejected, "untrusted_issuer");
      assert.equal(running.accepted.length, 0);

      // And a client refuses a server certified by another shared key.
      const strangerServer = await startServer({
        ...stranger,
        trust: await sharedKeyTrust(otherKey, withRoot),
        appId: "app-s",
      });
      await assert.rejects(
        connectPeer(clientOptions(strangerServer, one, trust, "app-s")),
        (error: unknown) => error instanceof CertificateError && error.reason === "untrusted_issuer",
      );
    });
  }

  test("the same shared key used by another app: the chain is fine, the app is not", async () => {
    const sharedKey = await loadSharedKey(await generateSharedKey());
    const trust = await sharedKeyTrust(sharedKey, true);
    const one = await sharedKeyDevice(sharedKey, "app-s", "device-1");
    const otherApp = await sharedKeyDevice(sharedKey, "app-t", "device-2");
    const running = await startServer({ ...one, trust, appId: "app-s" });
    // The client accepts app-s servers, so only the server's check can refuse.
    await refusedByServer(connectPeer(clientOptions(running, otherApp, trust, "app-s")));
    await assertRejection(running.rejected, "wrong_app");
  });
});

describe("interoperability with the openssl CLI", () => {
  const dir = mkdtempSync(join(tmpdir(), "meshauth-peer-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, content: string): string => {
    const path = join(dir, name);
    writeFileSync(path, content);
    return path;
  };

  /** openssl s_client with a device certificate; resolves with its exit status and output. */
  async function sClient(port: number, device: Device, caPem: string, name: string, version = "-tls1_3") {
    const child = spawn(
      "openssl",
      [
        "s_client",
        "-connect",
        `127.0.0.1:${port}`,
        version,
        "-cert",
        write(`${name}.crt`, device.certificate),
        "-key",
        write(`${name}.key`, device.key),
        "-CAfile",
        write(`${name}-ca.crt`, caPem),
        "-verify_return_error",
        "-ign_eof",
      ],
      { stdio: ["pipe", "pipe", "pipe"] },
    );
    let stdout = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.resume();
    child.stdin.end();
    const [status] = (await once(child, "close")) as [number | null];
    return { status, stdout };
  }

  test("openssl s_client with a device certificate is accepted, and one of another app is not", async () => {
    const { ca, trust } = await appCa("app-a");
    const ada = await caDevice(ca, "ada");
    const bob = await caDevice(ca, "bob");
    const running = await startServer({ ...ada, trust, appId: "app-a" });
    const accepted = await sClient(running.port, bob, trust.certificatePem, "bob");
    assert.match(accepted.stdout, /hello bob\n/);
    assert.match(accepted.stdout, /Verify return code: 0 \(ok\)/);
    assert.equal(running.accepted[0]?.identity.userId, "bob");

    const other = await appCa("app-b");
    const mallory = await caDevice(other.ca, "mallory");
    const refused = await sClient(running.port, mallory, trust.certificatePem, "mallory");
    assert.doesNotMatch(refused.stdout, /hello/);
    await assertRejection(running.rejected, "untrusted_issuer");
    assert.equal(running.accepted.length, 1);
  });

  test("a TLS 1.2 client is refused, even with a valid device certificate", async () => {
    const { ca, trust } = await appCa("app-a");
    const running = await startServer({ ...(await caDevice(ca, "ada")), trust, appId: "app-a" });
    const old = await sClient(
      running.port,
      await caDevice(ca, "bob"),
      trust.certificatePem,
      "old",
      "-tls1_2",
    );
    assert.notEqual(old.status, 0);
    assert.doesNotMatch(old.stdout, /hello/);
    await running.rejected;
    assert.equal(running.accepted.length, 0);
  });

  test("connectPeer to openssl s_server that requires a client certificate", async () => {
    const { ca, trust } = await appCa("app-a");
    const ada = await caDevice(ca, "ada");
    const bob = await caDevice(ca, "bob");
    const child = spawn(
      "openssl",
      [
        "s_server",
        "-accept",
        "127.0.0.1:0",
        "-tls1_3",
        "-cert",
        write("s-ada.crt", ada.certificate),
        "-key",
        write("s-ada.key", ada.key),
        "-CAfile",
        write("s-ca.crt", trust.certificatePem),
        "-Verify",
        "1",
        "-verify_return_error",
        "-naccept",
        "1",
      ],
      { stdio: ["pipe", "pipe", "pipe"] },
    );
    after(() => child.kill());
    let stdout = "";
    child.stdout.setEncoding("utf8");
    const port = await new Promise<number>((resolve, reject) => {
      child.stdout.on("data", (chunk: string) => {
        stdout += chunk;
        const match = /ACCEPT 127\.0\.0\.1:(\d+)/.exec(stdout);
        if (match?.[1]) resolve(Number(match[1]));
      });
      child.once("exit", () => reject(new Error(`s_server exited: ${stdout}`)));
    });
    child.stderr.resume();
    const { socket, peer } = await connectPeer({
      host: "127.0.0.1",
      port,
      key: bob.key,
      certificate: bob.certificate,
      trust,
      appId: "app-a",
    });
    assert.equal(peer.identity.userId, "ada");
    assert.equal(peer.identity.peerKey, ada.peerKey);
    // s_server prints what the client sends once it has accepted the client's certificate.
    socket.write("ping from bob\n");
    await new Promise<void>((resolve) => {
      const check = (): void => {
        if (stdout.includes("ping from bob")) resolve();
      };
      child.stdout.on("data", check);
      check();
    });
    socket.destroy();
    child.stdin.end();
    await once(child, "exit");
  });
});

test("keys given as CryptoKeys, non-extractable included, work at both ends", async () => {
  const { ca, trust } = await appCa("app-a");
  const identityFor = async (userId: string, keys: CryptoKeyPair): Promise<Identity> => ({
    appId: "app-a",
    userId,
    peerKey: await keyThumbprint(keys.publicKey),
    provider: "otp",
    permissions: FULL_ACCESS,
    exp: Math.floor(Date.now() / 1000) + HOUR,
  });
  const adaKeys = await generateDeviceKey({ extractable: false });
  const bobKeys = await generateDeviceKey();
  const adaCert = await issueDeviceCertificate({
    ca,
    identity: await identityFor("ada", adaKeys),
    publicKey: adaKeys.publicKey,
  });
  const bobCert = await issueDeviceCertificate({
    ca,
    identity: await identityFor("bob", bobKeys),
    publicKey: bobKeys.publicKey,
  });
  const running = await startServer({
    key: adaKeys.privateKey,
    certificate: adaCert.certificatePem,
    trust,
    appId: "app-a",
  });
  const { socket, peer } = await connectPeer({
    host: "127.0.0.1",
    port: running.port,
    key: bobKeys.privateKey,
    certificate: bobCert.certificatePem,
    trust,
    appId: "app-a",
  });
  assert.equal(peer.identity.userId, "ada");
  assert.equal(await readAll(socket), "hello bob\n");
});
