import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { createServer as createNetServer } from "node:net";
import { after, before, describe, test } from "node:test";
import { MeshauthError, type Permissions } from "@meshauth/core";
import { type CryptoKey, exportJWK, generateKeyPair, type JWTPayload, SignJWT, UnsecuredJWT } from "jose";
import type { OidcProvider } from "../src/apps/model.js";
import { type JwksCache, verifyOidcToken } from "../src/providers/oidc.js";

const AUDIENCE = "meshauth-app";
const NONE: Permissions = {
  read: { everything: false, queriesByCollection: {} },
  write: { everything: false, queriesByCollection: {} },
};
const ADMIN: Permissions = {
  read: { everything: true, queriesByCollection: {} },
  write: { everything: true, queriesByCollection: {} },
};
const STAFF: Permissions = {
  read: { everything: true, queriesByCollection: {} },
  write: { everything: false, queriesByCollection: { orders: ["true"] } },
};

/** A loopback port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

function rejected(reason: string) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof MeshauthError, `expected a MeshauthError, got ${String(e)}`);
    assert.equal(e.code, "provider_rejected", e.message);
    assert.equal(e.details.reason, reason, e.message);
    return true;
  };
}

function unavailable(e: unknown): boolean {
  assert.ok(e instanceof MeshauthError, `expected a MeshauthError, got ${String(e)}`);
  assert.equal(e.code, "provider_unavailable", e.message);
  return true;
}

describe("OIDC ID tokens against a test issuer (ES256, JWKS over HTTP)", () => {
  let server: Server;
  let issuer: string;
  let key: CryptoKey;
  let otherKey: CryptoKey;
  let jwksHits = 0;
  const cache: JwksCache = new Map();

  before(async () => {
    const pair = await generateKeyPair("ES256");
    key = pair.privateKey;
    const publicKey = pair.publicKey;
    ({ privateKey: otherKey } = await generateKeyPair("ES256"));
    const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256", use: "sig" };
    server = createServer((req, res) => {
      if (req.url === "/jwks.json") {
        jwksHits++;
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ keys: [jwk] }));
      } else if (req.url === "/broken.json") {
        res.writeHead(500);
        res.end("oops");
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("no port");
    issuer = `http://127.0.0.1:${address.port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const provider = (mapping: Partial<OidcProvider["mapping"]> = {}, extra: Partial<OidcProvider> = {}) => ({
    name: "corp",
    issuer,
    audience: AUDIENCE,
    jwksUri: `${issuer}/jwks.json`,
    createdAt: 0,
    mapping: {
      userIdClaim: "sub",
      userInfoClaims: ["email", "name"],
      permissionsClaim: "role",
      permissionsByClaimValue: { admin: ADMIN, staff: STAFF },
      defaultPermissions: NONE,
      ...mapping,
    },
    ...extra,
  });

  const sign = (
    claims: JWTPayload = {},
    opts: { signer?: CryptoKey; kid?: string; exp?: number; iss?: string; aud?: string } = {},
  ) => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ email: "ada@example.com", name: "Ada", ...claims })
      .setProtectedHeader({ alg: "ES256", kid: opts.kid ?? "k1" })
      .setIssuer(opts.iss ?? issuer)
      .setAudience(opts.aud ?? AUDIENCE)
      .setSubject("user-1")
      .setIssuedAt(now - 5)
      .setExpirationTime(opts.exp ?? now + 600)
      .sign(opts.signer ?? key);
  };

  const verify = (token: string, p: OidcProvider = provider(), jwksCache = cache) =>
    verifyOidcToken({ provider: p, token, jwksCache });

  test("valid token: identity with the role's permissions", async () => {
    const exp = Math.floor(Date.now() / 1000) + 600;
    const id = await verify(await sign({ role: "admin" }, { exp }));
    assert.equal(id.userId, "user-1");
    assert.deepEqual(id.userInfo, { email: "ada@example.com", name: "Ada" });
    assert.equal(id.permissionsFromWebhook, false);
    assert.deepEqual(id.permissions, ADMIN);
    assert.equal(id.expiresAt, exp * 1000);
  });

  test("the key set is fetched once and cached per URL", async () => {
    const before = jwksHits;
    await verify(await sign({ role: "staff" }));
    await verify(await sign({ role: "staff" }));
    assert.equal(jwksHits - before, 0, "no refetch while the cached key matches");
    assert.equal(cache.size, 1);
  });

  test("role claim as an array: first value with a rule wins", async () => {
    const id = await verify(await sign({ role: ["nobody", "staff", "admin"] }));
    assert.deepEqual(id.permissions, STAFF);
  });

  test("no matching role (or an Object.prototype name) gives the default permissions", async () => {
    assert.deepEqual((await verify(await sign({ role: "guest" }))).permissions, NONE);
    assert.deepEqual((await verify(await sign({ role: "constructor" }))).permissions, NONE);
    assert.deepEqual((await verify(await sign({}))).permissions, NONE);
  });

  test("userIdClaim and permissionsWebhook", async () => {
    const id = await verify(
      await sign({ role: "admin" }),
      provider({ userIdClaim: "email", permissionsWebhook: "perms" }),
    );
    assert.equal(id.userId, "ada@example.com");
    assert.equal(id.permissionsFromWebhook, true);
    assert.equal(id.permissions, null);
  });

  test("missing user claim", async () => {
    await assert.rejects(
      verify(await sign(), provider({ userIdClaim: "employee_id" })),
      rejected("missing_user_claim"),
    );
  });

  test("wrong audience", async () => {
    await assert.rejects(verify(await sign({}, { aud: "someone-else" })), rejected("wrong_audience"));
  });

  test("wrong issuer", async () => {
    await assert.rejects(verify(await sign({}, { iss: "https://evil.example" })), rejected("wrong_issuer"));
  });

  test("expired beyond the 30 s tolerance; within it is fine", async () => {
    const now = Math.floor(Date.now() / 1000);
    await assert.rejects(verify(await sign({}, { exp: now - 120 })), rejected("expired"));
    await verify(await sign({}, { exp: now - 10 }));
  });

  test("signed by another key (same kid, and unknown kid)", async () => {
    await assert.rejects(verify(await sign({}, { signer: otherKey })), rejected("bad_signature"));
    await assert.rejects(verify(await sign({}, { signer: otherKey, kid: "k2" })), rejected("unknown_key"));
  });

  test("alg none and HS256 are refused", async () => {
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: issuer, aud: AUDIENCE, sub: "user-1", iat: now, exp: now + 600 };
    await assert.rejects(verify(new UnsecuredJWT(claims).encode()), rejected("algorithm"));
    const hs = await new SignJWT(claims)
      .setProtectedHeader({ alg: "HS256", kid: "k1" })
      .sign(new TextEncoder().encode("a-shared-secret-that-is-long-enough-32"));
    await assert.rejects(verify(hs), rejected("algorithm"));
  });

  test("not a JWT at all", async () => {
    await assert.rejects(verify("hello"), rejected("malformed"));
  });

  test("missing iat is refused", async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: "ES256", kid: "k1" })
      .setIssuer(issuer)
      .setAudience(AUDIENCE)
      .setSubject("user-1")
      .setExpirationTime(now + 600)
      .sign(key);
    await assert.rejects(verify(token), rejected("bad_claims"));
  });

  test("JWKS server down is provider_unavailable", async () => {
    const port = await closedPort();
    await assert.rejects(
      verify(await sign(), provider({}, { jwksUri: `http://127.0.0.1:${port}/jwks.json` }), new Map()),
      unavailable,
    );
  });

  test("JWKS answering 500 is provider_unavailable", async () => {
    await assert.rejects(
      verify(await sign(), provider({}, { jwksUri: `${issuer}/broken.json` }), new Map()),
      unavailable,
    );
  });
});
