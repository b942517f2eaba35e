/**
 * Device certificates per second, as the hub issues them at `POST /certificate`, against
 * the bare cost of one ECDSA P-256 signature (WebCrypto) measured in the same run; then
 * mutual-TLS 1.3 handshakes per second between two Node peers over loopback.
 *
 *   npm run bench -- certificates
 *
 * Every case runs sequentially (one operation at a time, awaited) for a fixed time, in
 * interleaved rounds; the table shows the median round. Both TLS ends live in this one
 * process, so a handshake row is the CPU of client and server together. ROUNDS and
 * ROUND_MS (environment) change the rounds (default 3 of 1500 ms).
 */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify,
} from "node:crypto";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { connect, createSecureContext, createServer, type TLSSocket } from "node:tls";
import {
  createCertificateAuthority,
  createCertificateSigningRequest,
  createDeviceCertificateIssuer,
  exportPrivateKeyPem,
  FULL_ACCESS,
  generateDeviceKey,
  type Identity,
  issueDeviceCertificate,
  keyThumbprint,
  loadCertificateAuthority,
  verifyCertificateSigningRequest,
} from "@meshauth/core";
import { connectPeer, createPeerServer, PeerSessionCache } from "@meshauth/peer";
import { measure, print } from "./lib/rounds.js";

const APP = "bench-app";

// --- issuing -------------------------------------------------------------------------

const material = await createCertificateAuthority({ appId: APP, name: "Bench" });
const ca = await loadCertificateAuthority({
  certificatePem: material.certificatePem,
  privateKeyPkcs8: material.privateKeyPkcs8,
});

const identityFor = (peerKey: string): Identity => ({
  appId: APP,
  userId: "ada",
  peerKey,
  provider: "otp",
  permissions: FULL_ACCESS,
  exp: Math.floor(Date.now() / 1000) + 3600,
});

// Devices make their CSRs; the hub's work starts when one arrives.
const csrs: { pem: string; jkt: string }[] = [];
for (let i = 0; i < 32; i++) {
  const keys = await generateDeviceKey({ extractable: false });
  const pem = await createCertificateSigningRequest({ keys, commonName: "ada" });
  csrs.push({ pem, jkt: await keyThumbprint(keys.publicKey) });
}
let next = 0;

const signer = await globalThis.crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, [
  "sign",
]);
// About the size of a device certificate's to-be-signed part.
const tbs = globalThis.crypto.getRandomValues(new Uint8Array(600));
const sessionId = "s-0123456789";

// The template issuer with node:crypto, as the hub uses it.
const caKey = createPrivateKey({ key: Buffer.from(material.privateKeyPkcs8), format: "der", type: "pkcs8" });
const issuer = await createDeviceCertificateIssuer(ca, {
  sign: (data) => sign("sha256", data, caKey),
  verify: (spki, data, signature) =>
    verify(
      "sha256",
      data,
      createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" }),
      signature,
    ),
  digest: (alg, data) =>
    createHash(alg === "SHA-1" ? "sha1" : "sha256")
      .update(data)
      .digest(),
});

const issuing = await measure([
  {
    name: "bare ECDSA P-256 signature (WebCrypto sign)",
    op: async () => {
      await globalThis.crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, signer.privateKey, tbs);
    },
  },
  {
    name: "CSR mode (verify CSR + issue)",
    op: async () => {
      const csr = csrs[next++ % csrs.length] as { pem: string; jkt: string };
      const verified = await verifyCertificateSigningRequest(csr.pem);
      if (verified.keyThumbprint !== csr.jkt) throw new Error("thumbprint mismatch");
      await issueDeviceCertificate({ ca, identity: identityFor(csr.jkt), csrPem: csr.pem, sessionId });
    },
  },
  {
    name: "template CSR mode (verify CSR + issue, node:crypto)",
    op: async () => {
      const csr = csrs[next++ % csrs.length] as { pem: string; jkt: string };
      const verified = await issuer.verifyCsr(csr.pem);
      if (verified.keyThumbprint !== csr.jkt) throw new Error("thumbprint mismatch");
      await issuer.issue({
        identity: identityFor(csr.jkt),
        publicKeySpki: verified.publicKeySpki,
        sessionId,
      });
    },
  },
  {
    name: "template generate-key mode (node:crypto)",
    op: async () => {
      const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
      const spki = publicKey.export({ format: "der", type: "spki" });
      const jwk = publicKey.export({ format: "jwk" });
      const jkt = createHash("sha256")
        .update(JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y }))
        .digest("base64url");
      await issuer.issue({ identity: identityFor(jkt), publicKeySpki: spki, sessionId });
      privateKey.export({ format: "pem", type: "pkcs8" });
    },
  },
  {
    name: "generate-key mode (generate + issue + export key)",
    op: async () => {
      const keys = await generateDeviceKey();
      await issueDeviceCertificate({
        ca,
        identity: identityFor(await keyThumbprint(keys.publicKey)),
        publicKey: keys.publicKey,
        sessionId,
      });
      await exportPrivateKeyPem(keys.privateKey);
    },
  },
]);
const bare = issuing.get("bare ECDSA P-256 signature (WebCrypto sign)") ?? 1;
const csrRatio =
  (issuing.get("template CSR mode (verify CSR + issue, node:crypto)") ?? 0) /
  (issuing.get("CSR mode (verify CSR + issue)") ?? 1);
const keyRatio =
  (issuing.get("template generate-key mode (node:crypto)") ?? 0) /
  (issuing.get("generate-key mode (generate + issue + export key)") ?? 1);
print(
  "Certificates issued per second (one at a time, one core)",
  [...issuing].map(([name, ops]) => [
    name,
    ops,
    name.startsWith("bare")
      ? "1.00 (baseline)"
      : `${(ops / bare).toFixed(4)} (one certificate costs ${(bare / ops).toFixed(0)} bare signatures)`,
  ]),
);

console.log(
  `\nTemplate issuer ÷ @peculiar/x509 builder: CSR mode ${csrRatio.toFixed(2)}x, generate-key mode ${keyRatio.toFixed(2)}x (goal: at least 4x)`,
);

// --- handshakes ----------------------------------------------------------------------

async function deviceCredentials(userId: string): Promise<{ key: string; certificate: string }> {
  const keys = await generateDeviceKey();
  const issued = await issueDeviceCertificate({
    ca,
    identity: { ...identityFor(await keyThumbprint(keys.publicKey)), userId },
    publicKey: keys.publicKey,
  });
  return { key: await exportPrivateKeyPem(keys.privateKey), certificate: issued.certificatePem };
}

const serverCreds = await deviceCredentials("server-device");
const clientCreds = await deviceCredentials("client-device");
const trust = { type: "ca" as const, certificatePem: material.certificatePem };

// @meshauth/peer: both ends verify the other's certificate with meshauth's rules.
let serverVerified: (() => void) | undefined;
const peerServer = createPeerServer({ ...serverCreds, trust, appId: APP }, (socket) => {
  serverVerified?.();
  // The client closes once it has verified this end too; closing here first could beat it.
  socket.on("error", () => undefined);
  socket.resume();
});
peerServer.listen(0, "127.0.0.1");
await once(peerServer, "listening");
const peerPort = (peerServer.address() as AddressInfo).port;

// Plain node:tls with the same certificates and TLS 1.3 settings (OpenSSL chain check
// only), each end with one secure context made up front, as @meshauth/peer keeps them.
const tlsBase = {
  ca: material.certificatePem,
  minVersion: "TLSv1.3" as const,
  maxVersion: "TLSv1.3" as const,
};
const plainClientContext = createSecureContext({
  ...tlsBase,
  key: clientCreds.key,
  cert: clientCreds.certificate,
});
let plainAccepted: (() => void) | undefined;
const plainServer = createServer(
  {
    ...tlsBase,
    key: serverCreds.key,
    cert: serverCreds.certificate,
    requestCert: true,
    rejectUnauthorized: true,
  },
  (socket) => {
    plainAccepted?.();
    // The client closes: a server that ends at once can lose the session tickets it sends
    // right after the handshake.
    socket.on("error", () => undefined);
    socket.resume();
  },
);
plainServer.listen(0, "127.0.0.1");
await once(plainServer, "listening");
const plainPort = (plainServer.address() as AddressInfo).port;

const counts = { plain: { attempts: 0, reused: 0 }, peer: { attempts: 0, reused: 0 } };
let plainSession: Buffer | undefined;

function plainHandshake(resume: boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const accepted = new Promise<void>((r) => {
      plainAccepted = r;
    });
    const socket: TLSSocket = connect({
      secureContext: plainClientContext,
      minVersion: "TLSv1.3",
      maxVersion: "TLSv1.3",
      host: "127.0.0.1",
      port: plainPort,
      checkServerIdentity: () => undefined,
      // The first connection's ticket (see below); node:tls accepts it again and again.
      ...(resume && plainSession ? { session: plainSession } : {}),
    });
    socket.once("error", reject);
    socket.resume();
    socket.once("secureConnect", () => {
      if (resume) {
        counts.plain.attempts++;
        if (socket.isSessionReused()) counts.plain.reused++;
      }
      accepted.then(() => {
        socket.destroy();
        resolve();
      }, reject);
    });
  });
}

const sessions = new PeerSessionCache();
async function peerHandshake(resume: boolean): Promise<void> {
  const verified = new Promise<void>((r) => {
    serverVerified = r;
  });
  const { socket, resumed } = await connectPeer({
    ...clientCreds,
    trust,
    appId: APP,
    host: "127.0.0.1",
    port: peerPort,
    ...(resume ? { sessions } : {}),
  });
  if (resume) {
    counts.peer.attempts++;
    if (resumed) counts.peer.reused++;
  }
  await verified;
  socket.destroy();
}

// First connections that stay until their session tickets have arrived.
await new Promise<void>((resolve, reject) => {
  const socket = connect({
    secureContext: plainClientContext,
    minVersion: "TLSv1.3",
    maxVersion: "TLSv1.3",
    host: "127.0.0.1",
    port: plainPort,
    checkServerIdentity: () => undefined,
  });
  socket.once("error", reject);
  socket.resume();
  socket.once("session", (s: Buffer) => {
    plainSession = s;
    socket.destroy();
    resolve();
  });
});
await peerHandshake(true);
await new Promise((r) => setTimeout(r, 50));
counts.plain = { attempts: 0, reused: 0 };
counts.peer = { attempts: 0, reused: 0 };

const FULL = "meshauth peer mutual TLS, full handshake";
const PLAIN = "plain node:tls mutual TLS, full handshake";
const RESUMED = "meshauth peer mutual TLS, session resumed";
const PLAIN_RESUMED = "plain node:tls mutual TLS, session resumed";
const handshakes = await measure([
  { name: FULL, op: () => peerHandshake(false) },
  { name: PLAIN, op: () => plainHandshake(false) },
  { name: RESUMED, op: () => peerHandshake(true) },
  { name: PLAIN_RESUMED, op: () => plainHandshake(true) },
]);
const full = handshakes.get(FULL) ?? 1;
const plainFull = handshakes.get(PLAIN) ?? 1;
print(
  "Mutual TLS 1.3 handshakes per second over loopback (both ends in one process)",
  [...handshakes].map(([name, ops]) => [
    name,
    ops,
    name === FULL ? "1.00 (baseline)" : `${(ops / full).toFixed(2)}x the meshauth full handshake`,
  ]),
);
const slowdown = plainFull / full;
const resumedRatio = (handshakes.get(RESUMED) ?? 0) / full;
console.log(
  `\nGoals: plain full ÷ meshauth full = ${slowdown.toFixed(2)} (at most 1.30: ${slowdown <= 1.3 ? "met" : "NOT met"}); ` +
    `meshauth resumed ÷ meshauth full = ${resumedRatio.toFixed(2)} (at least 5: ${resumedRatio >= 5 ? "met" : "NOT met"}).`,
);
console.log(
  `Resumption: meshauth ${counts.peer.reused} of ${counts.peer.attempts} connections resumed, plain ${counts.plain.reused} of ${counts.plain.attempts}; both ends re-check the stored certificate's expiry and revocation on every resumed connection.`,
);

peerServer.close();
plainServer.close();
