export { APP_DEFAULTS, AppService, type CreatedApp } from "./apps/app-service.js";
export type {
  App,
  AppDetails,
  AppSecretInfo,
  EmailSettings,
  OidcClaimMapping,
  OidcProvider,
  ProviderKind,
  WebhookProvider,
} from "./apps/model.js";
export { CONFIG_KEYS, ConfigError, type HubConfig, loadConfig } from "./config/config.js";
export { buildHttp, createHub, type Hub, type HubCore, openHubCore, type StartupReport } from "./hub.js";
export { RETIRED_KEY_PUBLISH_SECONDS, SigningKeys } from "./keys/signing-keys.js";
export { Store } from "./storage/store.js";
