import type { Migration } from "kysely";
import * as m001 from "./001_initial.js";
import * as m002 from "./002_sessions.js";
import * as m003 from "./003_revocations.js";
import * as m004 from "./004_refresh_superseded.js";
import * as m005 from "./005_certificates_ditto.js";
import * as m006 from "./006_sync.js";
import * as m007 from "./007_token_audiences.js";
import * as m009 from "./009_ditto_identity_service.js";

/** Every migration, in order. Names sort lexically; never rename or edit a released one. */
export const migrations: Record<string, Migration> = {
  "001_initial": m001,
  "002_sessions": m002,
  "003_revocations": m003,
  "004_refresh_superseded": m004,
  "005_certificates_ditto": m005,
  "006_sync": m006,
  "007_token_audiences": m007,
  "009_ditto_identity_service": m009,
};
