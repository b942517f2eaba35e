import type { LoggedInUser } from "@meshauth/client";
import { type CollectionSpec, type DocumentId, enforcerFor, idFromKeys } from "@meshauth/sync";

/** A document's `_id` as the hub's rules see it: the only ID field's value, or an object of them. */
export function documentIdOf(spec: CollectionSpec, doc: Readonly<Record<string, unknown>>): DocumentId {
  return idFromKeys(
    spec,
    spec.idFields.map((field) => String(doc[field])),
  );
}

/**
 * Whether `user` may read a document of the collection: @meshauth/sync's enforcement, the
 * same decision the hub makes, so the local copy follows the hub's rules exactly.
 */
export function readCheck(
  spec: CollectionSpec,
  user: LoggedInUser,
): (doc: Readonly<Record<string, unknown>>) => boolean {
  const enforcer = enforcerFor(user.permissions, spec);
  return (doc) => enforcer.canRead(documentIdOf(spec, doc));
}
