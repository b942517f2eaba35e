export * from "./dpop/index.js";
export { type ErrorCode, MeshauthError } from "./errors.js";
export { FULL_ACCESS, type Identity, NO_ACCESS, type ProviderId } from "./identity.js";
export * from "./peer/index.js";
export * from "./permissions/index.js";
export * from "./protocol.js";
export * from "./x509/index.js";

export const VERSION = "0.1.0";
