export type { PermissionRules, Permissions } from "./types.js";
