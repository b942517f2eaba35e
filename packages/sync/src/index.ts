export {
  type CheckedRow,
  type CollectionEnforcer,
  checkCollectionSpec,
  enforcerFor,
  idFromKeys,
  keyOf,
  keysOf,
  type PushDecision,
  SyncInputError,
  sameJson,
  utf8Length,
} from "./enforce.js";
export {
  evaluateKeyFilter,
  INEXACT_CONSTRUCTS,
  isStorableKey,
  type KeyExpr,
  type KeyFilter,
  keyFilterOf,
} from "./key-filter.js";
export * from "./signing.js";
export * from "./wire.js";
