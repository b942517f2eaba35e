export { createClient } from "./create-client.js";
export { type ClientErrorCode, isAbortError, MeshauthClientError } from "./errors.js";
export type {
  Alert,
  EmailInteraction,
  Field,
  FieldType,
  GenericInteraction,
  LoginOption,
  LogoutConfirmationInteraction,
  MessageAlertInteraction,
  MessageCode,
  OtpInteraction,
  ProviderInteraction,
  UserInteraction,
  UserInteractionType,
} from "./interaction/types.js";
export { resolveText } from "./interaction/types.js";
export type { ObservableValue, Observer, Subscription } from "./observable.js";
export type { AnonymousUser, CurrentUser, LoggedInUser, SessionStatus, StoredSession } from "./session.js";
export { type IndexedDbStoreOptions, indexedDbStore } from "./stores/indexeddb.js";
export { memoryStore } from "./stores/memory.js";
export type { ClientStore, StoredCertificate } from "./stores/types.js";
export type {
  ClientEvents,
  ClientOptions,
  FetchTokens,
  FetchTokensContext,
  LoginHints,
  LoginMethod,
  LogoutOptions,
  LogoutResult,
  MeshauthClient,
  PromptRequest,
  TokenResponse,
} from "./types.js";
