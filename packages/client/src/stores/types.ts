import type { StoredSession } from "../session.js";

/** A device certificate as the hub issued it (PEM), kept for peer-to-peer use. */
export interface StoredCertificate {
  certificate: string;
  caCertificates: string[];
  /** Milliseconds since the epoch. */
  expiresAt: number;
}

/**
 * Where the SDK keeps one app's device key, session and certificate on one device.
 * Browsers use IndexedDB (`indexedDbStore`), Node a directory (`fileStore`), tests and
 * kiosks may use `memoryStore`. Every method may throw `store_corrupted`
 * (a MeshauthClientError naming what is unreadable); saving over a corrupted entry
 * must succeed, so logging in again repairs it.
 */
export interface ClientStore {
  /** The device key pair; the private key should be non-extractable where possible. */
  loadKey(): Promise<CryptoKeyPair | undefined>;
  /** Makes and keeps a new P-256 key pair, replacing any other (explicit reset only). */
  createKey(): Promise<CryptoKeyPair>;
  deleteKey(): Promise<void>;
  /**
   * Node only: the device private key as PKCS#8 PEM, for TLS with a device
   * certificate. Browser stores keep keys non-extractable and leave this out.
   */
  exportPrivateKeyPem?(): Promise<string>;

  loadSession(): Promise<StoredSession | undefined>;
  saveSession(session: StoredSession): Promise<void>;
  deleteSession(): Promise<void>;

  loadCertificate(): Promise<StoredCertificate | undefined>;
  saveCertificate(certificate: StoredCertificate): Promise<void>;
  deleteCertificate(): Promise<void>;

  /** Refresh tokens whose revocation could not reach the hub yet (logout offline). */
  loadPendingRevocations(): Promise<string[]>;
  savePendingRevocations(tokens: string[]): Promise<void>;

  /**
   * Runs `fn` while holding an exclusive lock shared by every tab or process using
   * this store, so only one of them refreshes a session at a time. Not re-entrant
   * (like Web Locks): calling it again with the same name inside `fn` never returns.
   */
  exclusive<T>(name: string, fn: () => Promise<T>): Promise<T>;

  /** Called when another tab or process changed the session; returns an unsubscribe. */
  watch?(onChange: () => void): () => void;

  /** Releases handles (database connections, channels). */
  close?(): Promise<void>;
}
