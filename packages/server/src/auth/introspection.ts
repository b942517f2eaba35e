import type { App } from "../apps/model.js";
import { hashSecret } from "../crypto/secrets.js";
import type { Store } from "../storage/store.js";
import type { TokenService } from "./tokens.js";

/** RFC 7662: what the hub knows about one of the app's tokens; `{active: false}` for anything else. */
export async function introspect(
  store: Store,
  tokens: TokenService,
  app: App,
  token: string,
): Promise<Record<string, unknown>> {
  if (token.split(".").length === 3) {
    const claims = await tokens.verifyAccessToken(token, app).catch(() => undefined);
    if (!claims || !(await tokens.sessionIsLive(app.id, claims.sid, claims.sub))) return { active: false };
    return { active: true, token_type: "DPoP", ...claims };
  }
  const found = await store.sessions.findByRefreshHash(hashSecret(token));
  if (
    !found ||
    found.session.appId !== app.id ||
    found.usedAt !== null ||
    !(await tokens.sessionIsLive(app.id, found.session.id, found.session.userId))
  ) {
    return { active: false };
  }
  const s = found.session;
  return {
    active: true,
    token_type: "refresh_token",
    client_id: app.id,
    sub: s.userId,
    sid: s.id,
    exp: s.expiresAt,
    iat: s.createdAt,
    cnf: { jkt: s.jkt },
  };
}
