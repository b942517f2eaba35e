// The newest revocation list a device holds, kept as the hub signed it so it can be handed
// on to every peer it meets: lists only ever move forward (core's merge), and every link is
// told when a newer one arrives.
import {
  CertificateError,
  mergeRevocationLists,
  type RevocationList,
  type RevocationListKeys,
  verifyRevocationList,
} from "@meshauth/core";

/** Most bytes of a signed list accepted from a peer. */
export const MAX_REVOCATION_LIST_BYTES = 256 * 1024;

export interface RevocationStoreOptions {
  appId: string;
  /** The hub's keys (its JWKS, cached while online): lists signed by anyone else are refused. */
  keys: RevocationListKeys;
  /** A signed list to start from (e.g. the last one fetched from the hub). */
  initial?: string;
}

export interface RevocationStore {
  readonly appId: string;
  /** The newest verified list, or undefined before one has been seen. */
  current(): RevocationList | undefined;
  /** The same list as the hub signed it, to hand on to peers. */
  signed(): string | undefined;
  /**
   * Verifies a signed list and keeps it when it is newer. Resolves true when it replaced the
   * held one; rejects with a `CertificateError` (`invalid_revocation_list`) when it does not verify.
   */
  offer(jws: string): Promise<boolean>;
  /** Called with every newer list; returns an unsubscribe function. */
  subscribe(listener: (list: RevocationList) => void): () => void;
}

interface Held extends RevocationList {
  jws: string;
}

export async function createRevocationStore(options: RevocationStoreOptions): Promise<RevocationStore> {
  let held: Held | undefined;
  const listeners = new Set<(list: RevocationList) => void>();
  const store: RevocationStore = {
    appId: options.appId,
    current: () => held,
    signed: () => held?.jws,
    async offer(jws) {
      if (jws.length > MAX_REVOCATION_LIST_BYTES) {
        throw new CertificateError("invalid_revocation_list", "the revocation list is too large");
      }
      const list = await verifyRevocationList(jws, options.keys, { appId: options.appId });
      const incoming: Held = { ...list, jws };
      const next = mergeRevocationLists(held, incoming);
      if (next === held) return false;
      held = next;
      for (const listener of [...listeners]) listener(next);
      return true;
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
  if (options.initial !== undefined) await store.offer(options.initial);
  return store;
}
