export type {
  AndNode,
  BooleanNode,
  CompareNode,
  ComparisonOperator,
  IndexSegment,
  InNode,
  KeySegment,
  LiteralNode,
  LiteralValue,
  Location,
  NotNode,
  OrNode,
  PathNode,
  PathSegment,
  Position,
  QueryNode,
  RegexNode,
  StringTestName,
  TestNode,
} from "./ast.js";
export { LEGACY_STRING_TESTS, STRING_TESTS } from "./ast.js";
export {
  type Authorizer,
  type CollectionScope,
  type Decision,
  type DecisionReason,
  type DenialDecision,
  describeDecision,
  type EverythingDecision,
  type QueryDecision,
} from "./authorizer.js";
export {
  type CompileOptions,
  compilePermissions,
  createPermissionCompiler,
  PERMISSION_CACHE_SIZE,
  type PermissionCompiler,
  type PermissionCompilerOptions,
} from "./cache.js";
export { PermissionQueryError, PermissionsError, type PermissionsErrorLocation } from "./errors.js";
export {
  DEFAULT_PERMISSION_LIMITS,
  type LimitOptions,
  MAX_COLLECTION_NAME_LENGTH,
  MAX_COLLECTIONS,
  MAX_PERMISSIONS_BYTES,
  MAX_QUERIES_PER_COLLECTION,
  MAX_QUERY_DEPTH,
  MAX_QUERY_LENGTH,
  MAX_REGEX_INPUT_LENGTH,
  MAX_REGEX_PATTERN_LENGTH,
  type PermissionLimits,
} from "./limits.js";
export { printQuery } from "./printer.js";
export { compileQuery, type DocumentPredicate, parseQuery } from "./query.js";
export type { Direction, MeshDocument, PermissionRules, Permissions } from "./types.js";
export { validatePermissions } from "./validate.js";
