// An app's own API as a developer would write it with standard parts: the access token
// checked against the hub's JWKS (jose), the DPoP proof checked with a nonce the API
// issues (RFC 9449 §9), so the SDK's fetch wrapper meets a real challenge.
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createNonceService, DpopError, MemoryReplayCache, verifyDpopProof } from "@meshauth/core";
import { createRemoteJWKSet, jwtVerify } from "jose";

export interface ResourceServer {
  url: string;
  /** Requests seen, with the status each got. */
  log: { path: string; status: number }[];
  close(): Promise<void>;
}

export async function startResourceServer(hubUrl: string, appId: string): Promise<ResourceServer> {
  const jwks = createRemoteJWKSet(new URL(`${hubUrl}/jwks.json`));
  const nonces = createNonceService({ secret: randomBytes(32) });
  const replay = new MemoryReplayCache();
  const log: ResourceServer["log"] = [];
  let url = "";

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, {
      "content-type": "application/json",
      "access-control-allow-origin": "*",
      "access-control-allow-headers": "authorization, dpop, content-type",
      "access-control-expose-headers": "dpop-nonce, www-authenticate",
      ...headers,
    });
    res.end(JSON.stringify(body));
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<number> {
    if (req.method === "OPTIONS") {
      send(res, 204, {});
      return 204;
    }
    const token = /^DPoP (\S+)$/.exec(req.headers.authorization ?? "")?.[1];
    const proof = req.headers.dpop;
    if (!token || typeof proof !== "string") {
      send(res, 401, { error: "invalid_token" }, { "www-authenticate": 'DPoP error="invalid_token"' });
      return 401;
    }
    let claims: Awaited<ReturnType<typeof jwtVerify>>["payload"];
    try {
      ({ payload: claims } = await jwtVerify(token, jwks, {
        issuer: hubUrl,
        audience: appId,
        typ: "at+jwt",
      }));
    } catch {
      send(res, 401, { error: "invalid_token" }, { "www-authenticate": 'DPoP error="invalid_token"' });
      return 401;
    }
    try {
      const verified = await verifyDpopProof(proof, {
        htm: req.method ?? "GET",
        htu: new URL(req.url ?? "/", url),
        accessToken: token,
        expectedJkt: (claims["cnf"] as { jkt: string }).jkt,
        nonce: { required: true, check: (n) => nonces.check(n), issue: () => nonces.issue() },
        replay,
      });
      send(res, 200, { sub: claims.sub, jkt: verified.jkt }, { "dpop-nonce": await nonces.issue() });
      return 200;
    } catch (e) {
      if (e instanceof DpopError && e.code === "use_dpop_nonce") {
        send(
          res,
          401,
          { error: "use_dpop_nonce" },
          {
            "www-authenticate": 'DPoP error="use_dpop_nonce"',
            "dpop-nonce": await nonces.issue(),
          },
        );
        return 401;
      }
      send(res, 401, { error: "invalid_dpop_proof", detail: (e as Error).message });
      return 401;
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).then(
      (status) => log.push({ path: req.url ?? "/", status }),
      () => send(res, 500, { error: "internal_error" }),
    );
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return { url, log, close: () => new Promise((r) => server.close(() => r())) };
}
