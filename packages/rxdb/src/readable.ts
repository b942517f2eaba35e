import type { LoggedInUser } from "@meshauth/client";
import { compilePermissions } from "@meshauth/core";
import type { CollectionSpec, DocumentId } from "@meshauth/sync";

/** A document's `_id` as the hub's rules see it: the only ID field's value, or an object of them. */
export function documentIdOf(spec: CollectionSpec, doc: Readonly<Record<string, unknown>>): DocumentId {
  if (spec.idFields.length === 1) return String(doc[spec.idFields[0]!]);
  return Object.fromEntries(spec.idFields.map((field) => [field, String(doc[field])]));
}

/** Whether `user` may read a document of the collection (the same decision the hub makes). */
export function readCheck(
  spec: CollectionSpec,
  user: LoggedInUser,
): (doc: Readonly<Record<string, unknown>>) => boolean {
  const authorizer = compilePermissions(user.permissions);
  return (doc) => authorizer.canRead(spec.name, { _id: documentIdOf(spec, doc) });
}
