// The hub is a receiver like any peer: a pushed document that carries a signature
// (`meshauthSig`, see docs/mesh.md) is verified before it is stored, against the app's CA
// and the hub's own revocation list, and refused per document when it does not verify.
// Unsigned documents are decided by the pusher's rules alone, as before. Signed ones need
// both: a valid signature by an author who may write them, and the pusher's write rules
// (the hub keeps Ditto's relay rule; peers relax it, docs/mesh.md).
import type { RevocationList } from "@meshauth/core";
import {
  type CheckedRow,
  type CollectionSpec,
  checkRevision,
  createRevisionVerifier,
  enforcerFor,
  idFromKeys,
  keysOf,
  type Refusal,
  SIGNATURE_FIELD,
} from "@meshauth/sync";
import type { Store } from "../storage/store.js";

export class SignedWrites {
  constructor(private readonly store: Store) {}

  async #list(appId: string): Promise<RevocationList> {
    const state = await this.store.revocations.state(appId);
    return {
      appId,
      version: state.version,
      issuedAt: state.updatedAt,
      entries: {
        userIds: state.entries.user,
        peerKeys: state.entries.device,
        sessionIds: state.entries.session,
        serials: state.entries.serial,
      },
    };
  }

  /** The rows to store, and refusals for signed rows that do not verify. */
  async check(
    appId: string,
    spec: CollectionSpec,
    rows: readonly CheckedRow[],
  ): Promise<{ rows: CheckedRow[]; refused: Refusal[] }> {
    if (!rows.some((r) => r.doc[SIGNATURE_FIELD] !== undefined)) return { rows: [...rows], refused: [] };
    const authority = await this.store.findAuthority(appId);
    const list = await this.#list(appId);
    const refused: Refusal[] = [];
    const kept: CheckedRow[] = [];
    const verifier = authority
      ? createRevisionVerifier({
          appId,
          trust: { type: "ca", certificatePem: authority.certificatePem },
          revocations: () => list,
          canWrite: (author, _name, doc) =>
            enforcerFor(author.permissions, spec).canWrite(idFromKeys(spec, keysOf(spec, doc))),
        })
      : undefined;
    const results = await Promise.all(
      rows.map((row) =>
        row.doc[SIGNATURE_FIELD] === undefined
          ? undefined
          : verifier
            ? checkRevision(verifier, { collection: spec.name, id: row.id, document: row.doc })
            : Promise.resolve({
                ok: false as const,
                code: "untrusted_author" as const,
                message: "this app has no certificate authority to check authors against",
              }),
      ),
    );
    rows.forEach((row, i) => {
      const result = results[i];
      if (result === undefined || result.ok) kept.push(row);
      else refused.push({ id: row.id, code: result.code, message: result.message });
    });
    return { rows: kept, refused };
  }
}
