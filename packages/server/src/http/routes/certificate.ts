import { MeshauthError } from "@meshauth/core";
import type { FastifyInstance } from "fastify";
import type { DeviceCertificates } from "../../auth/device-certificates.js";
import type { DpopContext, DpopHooks } from "../../auth/dpop-hook.js";
import { identityFromClaims } from "../../auth/identity.js";
import type { Discovery } from "../discovery.js";

export interface CertificateRoutesOptions {
  dpopHooks: DpopHooks;
  certificates: DeviceCertificates;
  discovery: Discovery;
}

/** POST /certificate: a device trades its DPoP-bound access token for an X.509 certificate. */
export async function certificateRoutes(
  http: FastifyInstance,
  opts: CertificateRoutesOptions,
): Promise<void> {
  const { dpopHooks, certificates, discovery } = opts;
  discovery.add({ certificate_endpoint: discovery.url("/certificate") });

  http.post(
    "/certificate",
    {
      onRequest: async (_req, reply) => {
        reply.header("cache-control", "no-store");
      },
      preHandler: dpopHooks.require({ accessToken: true }),
    },
    async (req) => {
      const { claims, app } = (req.dpop as Required<DpopContext>).token;
      const body = (req.body ?? {}) as Record<string, unknown>;
      if (typeof body !== "object" || Array.isArray(body))
        throw new MeshauthError("invalid_request", "send a JSON object");
      if (body.csr !== undefined && typeof body.csr !== "string")
        throw new MeshauthError("invalid_request", "csr: expected a PEM string");
      return certificates.issue(identityFromClaims(claims, app.id), claims.sid, {
        ...(typeof body.csr === "string" ? { csr: body.csr } : {}),
        generateKey: body.generate_key === true,
      });
    },
  );
}
