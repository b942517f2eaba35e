// Devices of one app for signed-revision and peer tests: a real app CA, real device
// certificates (or shared-key ones) and a hub-signed revocation list.
import {
  createCertificateAuthority,
  createSharedKeyRootCertificate,
  emptyRevocationList,
  exportPrivateKeyPem,
  generateDeviceKey,
  generateSharedKey,
  type Identity,
  issueDeviceCertificate,
  issueSharedKeyCertificate,
  keyThumbprint,
  loadCertificateAuthority,
  loadSharedKey,
  type RevocationEntries,
  type RevocationList,
  signRevocationList,
  type TrustAnchor,
} from "@meshauth/core";

export type Permissions = Identity["permissions"];

export interface MeshDevice {
  userId: string;
  peerKey: string;
  identity: Identity;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  privateKeyPem: string;
  certificatePem: string;
  serialNumber: string;
}

export const HOUR = 3600;

/** Rules on `_id.owner`: each user reads the shared list and its own, writes its own. */
export function ownerRules(userId: string, collection = "todos"): Permissions {
  return {
    read: {
      everything: false,
      queriesByCollection: { [collection]: [`_id.owner == '${userId}'`, "_id.owner == 'shared'"] },
    },
    write: { everything: false, queriesByCollection: { [collection]: [`_id.owner == '${userId}'`] } },
  };
}

export function readOnlyRules(collection = "todos"): Permissions {
  return {
    read: { everything: false, queriesByCollection: { [collection]: ["true"] } },
    write: { everything: false, queriesByCollection: {} },
  };
}

export function allRules(collection = "todos"): Permissions {
  return {
    read: { everything: false, queriesByCollection: { [collection]: ["true"] } },
    write: { everything: false, queriesByCollection: { [collection]: ["true"] } },
  };
}

export interface DeviceOptions {
  permissions?: Permissions;
  /** Certificate validity start (default now). */
  now?: Date;
  /** Identity end, seconds (default now + 1 h). */
  exp?: number;
}

/** An app with a CA, a hub key for revocation lists and a device factory. */
export async function createTestApp(appId = "app-mesh") {
  const material = await createCertificateAuthority({ appId });
  const ca = await loadCertificateAuthority(material);
  const hubKeys = (await globalThis.crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ])) as CryptoKeyPair;
  const hubJwk = {
    ...(await globalThis.crypto.subtle.exportKey("jwk", hubKeys.publicKey)),
    kid: "hub-1",
    alg: "ES256",
  };
  let version = 0;
  const revoked: RevocationEntries = { userIds: [], peerKeys: [], sessionIds: [], serials: [] };
  const trust: TrustAnchor = { type: "ca", certificatePem: material.certificatePem };
  return {
    appId,
    ca,
    caCertificatePem: material.certificatePem,
    trust,
    hubJwks: { keys: [hubJwk] },
    async device(userId: string, options: DeviceOptions = {}): Promise<MeshDevice> {
      const keys = await generateDeviceKey();
      const peerKey = await keyThumbprint(keys.publicKey);
      const now = options.now ?? new Date();
      const identity: Identity = {
        appId,
        userId,
        peerKey,
        provider: "otp",
        permissions: options.permissions ?? ownerRules(userId),
        exp: options.exp ?? Math.floor(now.getTime() / 1000) + HOUR,
      };
      const issued = await issueDeviceCertificate({ ca, identity, publicKey: keys.publicKey, now });
      return {
        userId,
        peerKey,
        identity,
        privateKey: keys.privateKey,
        publicKey: keys.publicKey,
        privateKeyPem: await exportPrivateKeyPem(keys.privateKey),
        certificatePem: issued.certificatePem,
        serialNumber: issued.serialNumber,
      };
    },
    /** The hub revokes more and signs the next list (issued now, or at `issuedAt` seconds). */
    async revoke(entries: Partial<RevocationEntries>, issuedAt = Math.floor(Date.now() / 1000)) {
      for (const key of Object.keys(entries) as (keyof RevocationEntries)[])
        revoked[key].push(...(entries[key] ?? []));
      version += 1;
      const list: RevocationList = {
        ...emptyRevocationList(appId),
        version,
        issuedAt,
        entries: structuredClone(revoked),
      };
      return { list, jws: await signRevocationList(list, hubKeys.privateKey, "hub-1") };
    },
  };
}

export type TestApp = Awaited<ReturnType<typeof createTestApp>>;

/** An app in shared-key mode: every device certifies itself with the shared key. */
export async function createSharedKeyApp(appId = "app-shared") {
  const sharedKey = await loadSharedKey(await generateSharedKey());
  const rootCertificatePem = await createSharedKeyRootCertificate(sharedKey);
  const trust: TrustAnchor = { type: "shared-key", publicKey: sharedKey.publicKey };
  return {
    appId,
    sharedKey,
    trust,
    rootCertificatePem,
    async device(deviceId: string): Promise<MeshDevice> {
      const keys = await generateDeviceKey();
      const issued = await issueSharedKeyCertificate({
        sharedKey,
        appId,
        devicePublicKey: keys.publicKey,
        deviceId,
      });
      const identity: Identity = {
        appId,
        userId: deviceId,
        peerKey: issued.keyThumbprint,
        provider: "shared-key",
        permissions: {
          read: { everything: true, queriesByCollection: {} },
          write: { everything: true, queriesByCollection: {} },
        },
        exp: Math.floor(Date.now() / 1000) + 30 * 86400,
      };
      return {
        userId: deviceId,
        peerKey: issued.keyThumbprint,
        identity,
        privateKey: keys.privateKey,
        publicKey: keys.publicKey,
        privateKeyPem: await exportPrivateKeyPem(keys.privateKey),
        certificatePem: issued.certificatePem,
        serialNumber: issued.serialNumber,
      };
    },
  };
}
