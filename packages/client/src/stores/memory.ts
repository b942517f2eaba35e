// A ClientStore that keeps everything in memory: for tests, kiosks and short-lived
// scripts. Nothing survives the process or tab. Runs anywhere WebCrypto does.
import { generateDpopKeyPair } from "@meshauth/core";
import type { StoredSession } from "../session.js";
import { serialLock } from "./serial-lock.js";
import type { ClientStore, StoredCertificate } from "./types.js";

/**
 * Keeps the device key (private part non-extractable), session, certificate and pending
 * revocations in memory. Stored objects are copied in and out, so callers never share
 * them with the store. `exclusive` serialises callers of this store per lock name. There is no
 * `watch`: only its own holder can change a memory store.
 */
export function memoryStore(): ClientStore {
  let keys: CryptoKeyPair | undefined;
  let session: StoredSession | undefined;
  let certificate: StoredCertificate | undefined;
  let pendingRevocations: string[] = [];
  const exclusive = serialLock();

  return {
    async loadKey() {
      return keys && { privateKey: keys.privateKey, publicKey: keys.publicKey };
    },
    async createKey() {
      keys = await generateDpopKeyPair("ES256", { extractable: false });
      return { privateKey: keys.privateKey, publicKey: keys.publicKey };
    },
    async deleteKey() {
      keys = undefined;
    },

    async loadSession() {
      return session && structuredClone(session);
    },
    async saveSession(value) {
      session = structuredClone(value);
    },
    async deleteSession() {
      session = undefined;
    },

    async loadCertificate() {
      return certificate && structuredClone(certificate);
    },
    async saveCertificate(value) {
      certificate = structuredClone(value);
    },
    async deleteCertificate() {
      certificate = undefined;
    },

    async loadPendingRevocations() {
      return [...pendingRevocations];
    },
    async savePendingRevocations(tokens) {
      pendingRevocations = [...tokens];
    },

    exclusive,
  };
}
