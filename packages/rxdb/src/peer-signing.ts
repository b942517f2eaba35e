// Signing in RxDB: every local insert, change and delete gets this device's signature
// through collection hooks, before it is stored, so a revision exists once however many
// links carry it. Replication writes bypass hooks, so received documents keep their
// authors' signatures.
import {
  type CollectionSpec,
  compareRevisions,
  type RevisionSigner,
  readSignature,
  SIGNATURE_FIELD,
} from "@meshauth/sync";
import type { RxCollection, RxConflictHandler, WithDeleted } from "rxdb";
import { defaultConflictHandler } from "rxdb";
import { documentIdOf } from "./readable.js";

/** The collection as meshauth sees it: its name and the fields that form `_id`. */
export function collectionSpecOf(collection: RxCollection): CollectionSpec {
  const primaryKey = collection.schema.jsonSchema.primaryKey as string | { fields: readonly string[] };
  const idFields = typeof primaryKey === "string" ? [primaryKey] : [...primaryKey.fields];
  return { name: collection.name, idFields };
}

type Data = Record<string, unknown>;

/**
 * Signs every local write of the collection with this device's key (its schema must declare
 * `meshauthSig`: see `signedSchema`). Call once per collection, before writing.
 */
export function signLocalWrites(collection: RxCollection, signer: RevisionSigner): void {
  const spec = collectionSpecOf(collection);
  const primaryPath = collection.schema.primaryPath as string;
  const composite = typeof collection.schema.jsonSchema.primaryKey !== "string";
  const sign = async (data: Data, previous: Data | null): Promise<void> => {
    // RxDB fills a composite key after the hooks: fill it now so it is part of what is signed.
    if (composite) data[primaryPath] = collection.schema.getPrimaryOfDocumentData(data as never);
    const signed = await signer.sign({
      collection: spec.name,
      id: documentIdOf(spec, data),
      document: data,
      previous,
    });
    data[SIGNATURE_FIELD] = signed[SIGNATURE_FIELD];
  };
  collection.preInsert((data: Data) => sign(data, null), false);
  collection.preSave((data: Data, previous: Data) => sign(data, previous), false);
  collection.preRemove(async (data: Data) => {
    // The hook sees the state before RxDB sets `_deleted`: sign the tombstone.
    const previous = { ...data };
    const tombstone: Data = { ...data, _deleted: true };
    await sign(tombstone, previous);
    data[SIGNATURE_FIELD] = tombstone[SIGNATURE_FIELD];
  }, false);
}

/**
 * RxDB conflict handler for signed collections: of two states, the revision every peer
 * ranks higher (`compareRevisions`: generation, time, signature) wins, never a merge, so the
 * result keeps a valid signature and all peers converge on the same state.
 */
export function signedConflictHandler<RxDocType>(): RxConflictHandler<RxDocType> {
  return {
    isEqual: (a, b, context) => defaultConflictHandler.isEqual(a, b, context),
    async resolve(input) {
      const fork = readSignature(input.newDocumentState as Data);
      const master = readSignature(input.realMasterState as Data);
      return (
        compareRevisions(fork, master) > 0 ? input.newDocumentState : input.realMasterState
      ) as WithDeleted<RxDocType>;
    },
  };
}
