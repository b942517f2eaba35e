// An app's own API as docs/verify.md writes it: Fastify with @meshauth/verify, nonces
// on (RFC 9449 §9), so the SDK's fetch wrapper meets a real challenge.
import { createVerifier, type MeshauthUser, meshauthFastify } from "@meshauth/verify";
import Fastify from "fastify";

export interface ResourceServer {
  url: string;
  /** Requests seen, with the status each got. */
  log: { path: string; status: number }[];
  close(): Promise<void>;
}

export async function startResourceServer(hubUrl: string, appId: string): Promise<ResourceServer> {
  const log: ResourceServer["log"] = [];
  let url = "";
  const auth = createVerifier({ hub: hubUrl, appId, publicUrl: () => url, nonces: true, corsOrigins: "*" });
  const app = Fastify();
  app.addHook("onRequest", meshauthFastify(auth));
  app.addHook("onResponse", async (req, reply) => {
    log.push({ path: req.url, status: reply.statusCode });
  });
  app.all("/*", async (req) => {
    const user = (req as { meshauth?: MeshauthUser }).meshauth;
    return { sub: user?.userId, jkt: user?.peerKey };
  });
  url = await app.listen({ port: 0, host: "127.0.0.1" });
  return { url, log, close: () => app.close() };
}
