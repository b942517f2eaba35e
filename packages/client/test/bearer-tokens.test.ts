// client.getTokenFor(audience): an RFC 8693 exchange of the live DPoP session for a
// short-lived bearer JWT, verified the way another engine does (jose's
// createRemoteJWKSet with the JWKS found through OpenID discovery), against a real hub.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createDpopProof, generateDpopKeyPair } from "@meshauth/core";
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import { createClient, type MeshauthClient, type MeshauthClientError, memoryStore } from "../src/node.js";
import { type SdkTestHub, startSdkHub } from "./helpers/hub.js";

let t: SdkTestHub;
const POWERSYNC = "https://powersync.example.com";
const SUPABASE = "authenticated";
const clients: MeshauthClient[] = [];
let tokenRequests = 0;

before(async () => {
  t = await startSdkHub();
  const add = async (body: Record<string, unknown>) => {
    const res = await t.admin("POST", `/apps/${t.app.id}/token-audiences`, body);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body;
  };
  await add({ audience: POWERSYNC, ttlSeconds: 600, claims: { tenant_id: "acme" } });
  await add({
    audience: SUPABASE,
    role: "authenticated",
    permissionsClaim: null,
    userInfoClaims: { email: "email" },
  });
});
after(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await t.close();
});

function newClient(): MeshauthClient {
  const client = createClient({
    hub: t.hub.url,
    appId: t.app.id,
    store: memoryStore(),
    customLoginGui: true,
    fetch: async (input, init) => {
      const request = new Request(input, init);
      if (request.url.endsWith("/token")) tokenRequests++;
      return fetch(request);
    },
  });
  clients.push(client);
  return client;
}

/** What a JWKS-verifying engine does: discovery, then the JWKS, then the usual checks. */
async function verifyAsEngine(token: string, audience: string) {
  const discovery = (await (await fetch(`${t.hub.url}/.well-known/openid-configuration`)).json()) as {
    issuer: string;
    jwks_uri: string;
  };
  const jwks = createRemoteJWKSet(new URL(discovery.jwks_uri));
  return jwtVerify(token, jwks, { issuer: discovery.issuer, audience, algorithms: ["ES256", "EdDSA"] });
}

describe("getTokenFor", () => {
  test("mints a bearer JWT a JWKS-verifying engine accepts, with the audience's claim shape", async () => {
    const client = newClient();
    const user = await client.login(t.app.playgroundToken!, "playground");
    const token = await client.getTokenFor(POWERSYNC);
    const { payload, protectedHeader } = await verifyAsEngine(token, POWERSYNC);
    assert.equal(protectedHeader.typ, "JWT", "not an at+jwt: never mistaken for a meshauth access token");
    assert.equal(payload.sub, user.userId);
    assert.equal(payload.aud, POWERSYNC);
    assert.equal(payload["role"], "authenticated");
    assert.deepEqual(payload["permissions"], ["read:*", "write:*"], "playground: full access, flattened");
    assert.equal(payload["app_id"], t.app.id);
    assert.equal(payload["tenant_id"], "acme");
    assert.match(String(payload["sid"]), /^ses_/);
    assert.equal(payload["cnf"], undefined, "a bearer token");
    assert.ok(payload.exp! - payload.iat! <= 600 && payload.exp! - payload.iat! > 590);
  });

  test("is cached until near expiry, per audience, and follows each audience's shape", async () => {
    const client = newClient();
    await client.login(t.app.playgroundToken!, "playground");
    const before = tokenRequests;
    const first = await client.getTokenFor(POWERSYNC);
    const [again, parallel] = await Promise.all([
      client.getTokenFor(POWERSYNC),
      client.getTokenFor(POWERSYNC),
    ]);
    assert.equal(again, first);
    assert.equal(parallel, first);
    assert.equal(tokenRequests - before, 1, "one exchange for three calls");
    const supabase = await client.getTokenFor(SUPABASE);
    const { payload } = await verifyAsEngine(supabase, SUPABASE);
    assert.equal(payload["permissions"], undefined, "permissionsClaim: null leaves it out");
    assert.equal(payload.exp! - payload.iat!, 300, "the default lifetime");
    assert.equal(tokenRequests - before, 2);
  });

  test("is refused for an audience the app does not have, and once the session has ended", async () => {
    const client = newClient();
    await client.login(t.app.playgroundToken!, "playground");
    await assert.rejects(
      client.getTokenFor("https://elsewhere.example.com"),
      (e: MeshauthClientError) => e.code === "invalid_target" && /no tokens for audience/.test(e.message),
    );
    const token = await client.getTokenFor(POWERSYNC);
    const sid = (await verifyAsEngine(token, POWERSYNC)).payload["sid"] as string;
    const revoked = await t.admin("POST", `/apps/${t.app.id}/revocations`, { kind: "session", value: sid });
    assert.equal(revoked.status, 201);
    // The access token is still unexpired; the session behind it is not live.
    await assert.rejects(
      client.getTokenFor(SUPABASE),
      (e: MeshauthClientError) => e.code === "session_revoked" && e.status === 400,
    );
  });

  test("after logout there is no token to get", async () => {
    const client = newClient();
    await client.login(t.app.playgroundToken!, "playground");
    await client.getTokenFor(POWERSYNC);
    await client.logout();
    await assert.rejects(
      client.getTokenFor(POWERSYNC),
      (e: MeshauthClientError) => e.code === "not_logged_in",
    );
  });
});

describe("the exchange refuses", () => {
  async function exchange(subject: string, key: CryptoKeyPair, audience = POWERSYNC) {
    const url = `${t.hub.url}/token`;
    const body = new URLSearchParams({
      grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
      client_id: t.app.id,
      subject_token: subject,
      subject_token_type: "urn:ietf:params:oauth:token-type:access_token",
      requested_token_type: "urn:ietf:params:oauth:token-type:jwt",
      audience,
    });
    const post = (nonce?: string) =>
      createDpopProof({ ...key, htm: "POST", htu: url, ...(nonce ? { nonce } : {}) }).then((dpop) =>
        fetch(url, {
          method: "POST",
          headers: { dpop, "content-type": "application/x-www-form-urlencoded" },
          body,
        }),
      );
    let res = await post();
    if (res.status === 400 && res.headers.get("dpop-nonce") && !(await res.clone().json()).access_token) {
      const error = ((await res.clone().json()) as { error: string }).error;
      if (error === "use_dpop_nonce") res = await post(res.headers.get("dpop-nonce")!);
    }
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  test("a copied access token with a proof by another key", async () => {
    const client = newClient();
    await client.login(t.app.playgroundToken!, "playground");
    const stolen = await client.getAccessToken();
    const thief = await generateDpopKeyPair();
    const res = await exchange(stolen, thief);
    assert.equal(res.status, 400);
    assert.equal(res.body["error"], "invalid_dpop_proof");
  });

  test("a bearer token used as the subject, or presented to the app's own DPoP checks", async () => {
    const client = newClient();
    await client.login(t.app.playgroundToken!, "playground");
    const bearer = await client.getTokenFor(POWERSYNC);
    const res = await exchange(bearer, await generateDpopKeyPair());
    assert.equal(res.status, 400);
    assert.equal(res.body["error"], "invalid_request");
    assert.equal(decodeProtectedHeader(bearer).typ, "JWT");
  });

  test("audiences that would be confused with the app or that live longer than 15 minutes", async () => {
    for (const body of [
      { audience: t.app.id },
      { audience: t.hub.url },
      { audience: "https://x.example.com", ttlSeconds: 901 },
      { audience: "https://x.example.com", claims: { sub: "admin" } },
      { audience: "has space" },
    ]) {
      const res = await t.admin("POST", `/apps/${t.app.id}/token-audiences`, body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(res.body["error"], "invalid_request");
    }
  });
});

test("openid-configuration names the JWKS and claims no OpenID features the hub lacks", async () => {
  const doc = (await (await fetch(`${t.hub.url}/.well-known/openid-configuration`)).json()) as Record<
    string,
    unknown
  >;
  assert.equal(doc["issuer"], t.hub.url);
  assert.equal(doc["jwks_uri"], `${t.hub.url}/jwks.json`);
  for (const absent of [
    "authorization_endpoint",
    "userinfo_endpoint",
    "id_token_signing_alg_values_supported",
  ]) {
    assert.equal(doc[absent], undefined, absent);
  }
});
