import { type Identity, MeshauthError } from "@meshauth/core";
import type { FastifyInstance } from "fastify";
import type { DeviceCertificates } from "../../auth/device-certificates.js";
import type { DpopGuard } from "../../auth/dpop-guard.js";
import type { TokenService } from "../../auth/tokens.js";
import type { Store } from "../../storage/store.js";
import type { Discovery } from "../discovery.js";

export interface CertificateRoutesOptions {
  store: Store;
  tokens: TokenService;
  dpop: DpopGuard;
  certificates: DeviceCertificates;
  discovery: Discovery;
}

/** POST /certificate: a device trades its DPoP-bound access token for an X.509 certificate. */
export async function certificateRoutes(
  http: FastifyInstance,
  opts: CertificateRoutesOptions,
): Promise<void> {
  const { store, tokens, dpop, certificates, discovery } = opts;
  discovery.add({ certificate_endpoint: discovery.url("/certificate") });

  http.post("/certificate", async (req, reply) => {
    reply.header("cache-control", "no-store");
    const m = /^DPoP\s+(\S+)$/i.exec(req.headers.authorization ?? "");
    if (!m?.[1]) {
      reply.header("www-authenticate", 'DPoP algs="ES256 EdDSA"');
      throw new MeshauthError("invalid_token", "send the access token as Authorization: DPoP <token>");
    }
    const accessToken = m[1];
    const claims = await tokens.verifyAccessToken(accessToken);
    // The proof must be by the token's key and cover this token (ath).
    await dpop.verify(req, "/certificate", { accessToken, expectedJkt: claims.cnf.jkt });
    const app = await store.findApp(claims.aud);
    if (!app || !(await tokens.sessionIsLive(app.id, claims.sid, claims.sub))) {
      throw new MeshauthError("invalid_token", "the session behind this access token has ended");
    }
    const body = (req.body ?? {}) as Record<string, unknown>;
    if (typeof body !== "object" || Array.isArray(body))
      throw new MeshauthError("invalid_request", "send a JSON object");
    if (body.csr !== undefined && typeof body.csr !== "string")
      throw new MeshauthError("invalid_request", "csr: expected a PEM string");
    const identity: Identity = {
      appId: app.id,
      userId: claims.sub,
      peerKey: claims.cnf.jkt,
      provider: claims.provider,
      permissions: claims.permissions,
      ...(claims.user_info ? { userInfo: claims.user_info } : {}),
      exp: claims.identity_exp,
    };
    return certificates.issue(identity, claims.sid, {
      ...(typeof body.csr === "string" ? { csr: body.csr } : {}),
      generateKey: body.generate_key === true,
    });
  });
}
