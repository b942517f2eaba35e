// A spec-strict third-party client (panva's oauth4webapi) against a real hub: discovery,
// client_credentials and refresh with DPoP and nonces, revocation and introspection. The
// only relaxation is plain http on loopback (allowInsecureRequests).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import * as oauth from "oauth4webapi";
import type { Hub } from "../src/hub.js";
import { cleanup, engines } from "./helpers/engines.js";
import { createApp, startTestHub } from "./helpers/hub.js";

after(cleanup);

/** What oauth4webapi rejects an OAuth error body with: the `error` code. */
async function oauthError(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof oauth.ResponseBodyError, `expected an OAuth error body, got ${error}`);
    return error.error;
  }
  assert.fail("the request succeeded");
}

for (const engine of engines()) {
  describe(`oauth4webapi against the hub on ${engine.name}`, () => {
    let hub: Hub & { url: string };
    let as: oauth.AuthorizationServer;
    let client: oauth.Client;
    let clientAuth: oauth.ClientAuth;
    let secret: string;
    const insecure = { [oauth.allowInsecureRequests]: true } as const;

    before(async () => {
      hub = await startTestHub(engine, { demoApp: false });
      const app = await createApp(hub, { name: "o4w", providers: ["client"] });
      client = { client_id: app.id };
      secret = app.clientSecret;
      clientAuth = oauth.ClientSecretBasic(secret);
      const issuer = new URL(hub.url);
      as = await oauth.processDiscoveryResponse(
        issuer,
        await oauth.discoveryRequest(issuer, { algorithm: "oauth2", ...insecure }),
      );
    });
    after(() => hub.close());

    /** A device key pair and a session for it through the backend's custom auth. */
    async function session(keyPair: CryptoKeyPair, sub: string): Promise<string> {
      const jkt = await oauth.DPoP(client, keyPair).calculateThumbprint();
      const res = await fetch(`${hub.url}/token`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({
          grant_type: "client_credentials",
          client_id: client.client_id,
          client_secret: secret,
          sub,
          dpop_jkt: jkt,
        }),
      });
      const body = (await res.json()) as { refresh_token?: string };
      assert.equal(res.status, 200, JSON.stringify(body));
      return String(body.refresh_token);
    }

    /** A refresh as oauth4webapi's docs write it: retry once on a nonce challenge. */
    async function refresh(dpop: oauth.DPoPHandle, refreshToken: string) {
      const go = async () =>
        oauth.processRefreshTokenResponse(
          as,
          client,
          await oauth.refreshTokenGrantRequest(as, client, clientAuth, refreshToken, {
            DPoP: dpop,
            ...insecure,
          }),
        );
      try {
        return await go();
      } catch (error) {
        if (oauth.isDPoPNonceError(error)) return go();
        throw error;
      }
    }

    test("discovery: the hub's metadata passes the issuer check and names its endpoints", () => {
      assert.equal(as.issuer, hub.url);
      assert.equal(as.token_endpoint, `${hub.url}/token`);
      assert.equal(as.revocation_endpoint, `${hub.url}/revoke`);
      assert.equal(as.introspection_endpoint, `${hub.url}/introspect`);
      assert.ok(as.grant_types_supported?.includes("client_credentials"));
      assert.ok(as.grant_types_supported?.includes("refresh_token"));
      assert.ok(as.dpop_signing_alg_values_supported?.includes("ES256"));
    });

    test("client_credentials with DPoP: a DPoP-bound token, after a nonce challenge when the client's nonce is stale", async () => {
      const keyPair = await oauth.generateKeyPair("ES256");
      const dpop = oauth.DPoP(client, keyPair);
      const statuses: number[] = [];
      let stale = true;
      const options = {
        DPoP: dpop,
        ...insecure,
        // The first answer's DPoP-Nonce is replaced by one the hub never issued (as one
        // past its lifetime would be): the next proof carries it and the hub challenges.
        [oauth.customFetch]: async (url: string, init: RequestInit) => {
          const res = await fetch(url, init);
          statuses.push(res.status);
          if (!stale) return res;
          stale = false;
          const headers = new Headers(res.headers);
          headers.set("dpop-nonce", "a-nonce-this-hub-never-issued");
          return new Response(await res.arrayBuffer(), { status: res.status, headers });
        },
      };
      const grant = async () =>
        oauth.processClientCredentialsResponse(
          as,
          client,
          await oauth.clientCredentialsGrantRequest(as, client, clientAuth, new URLSearchParams(), options),
        );
      const first = await grant();
      assert.equal(first.token_type, "dpop");

      let challenged = false;
      let second: oauth.TokenEndpointResponse;
      try {
        second = await grant();
      } catch (error) {
        assert.ok(oauth.isDPoPNonceError(error), `expected use_dpop_nonce, got ${error}`);
        challenged = true;
        second = await grant();
      }
      assert.ok(challenged, "the stale nonce was challenged");
      assert.deepEqual(statuses, [200, 400, 200]);
      assert.equal(second.token_type, "dpop");
      const claims = JSON.parse(Buffer.from(second.access_token.split(".")[1]!, "base64url").toString()) as {
        cnf?: { jkt?: string };
      };
      assert.equal(claims.cnf?.jkt, await dpop.calculateThumbprint());
    });

    test("refresh_token with DPoP rotates; a rotated token is refused with invalid_grant", async () => {
      const keyPair = await oauth.generateKeyPair("ES256");
      const rt0 = await session(keyPair, "refresh-user");
      const dpop = oauth.DPoP(client, keyPair);
      const one = await refresh(dpop, rt0);
      assert.equal(one.token_type, "dpop");
      assert.ok(one.refresh_token && one.refresh_token !== rt0, "a rotated refresh token");
      const two = await refresh(dpop, one.refresh_token);
      assert.equal(two.token_type, "dpop");
      assert.ok(two.refresh_token && two.refresh_token !== one.refresh_token);

      assert.equal(await oauthError(refresh(dpop, rt0)), "invalid_grant");
      // Reuse ends the session: the newest token goes with it.
      assert.equal(await oauthError(refresh(dpop, two.refresh_token)), "invalid_grant");
    });

    test("a refresh with another key's proof is refused with invalid_grant", async () => {
      const rt = await session(await oauth.generateKeyPair("ES256"), "key-user");
      const other = oauth.DPoP(client, await oauth.generateKeyPair("ES256"));
      assert.equal(await oauthError(refresh(other, rt)), "invalid_grant");
    });

    for (const [method, auth] of [
      ["client_secret_basic", (s: string) => oauth.ClientSecretBasic(s)],
      ["client_secret_post", (s: string) => oauth.ClientSecretPost(s)],
    ] as const) {
      test(`revocation and introspection with ${method}: a revoked token is inactive`, async () => {
        const keyPair = await oauth.generateKeyPair("ES256");
        const rt0 = await session(keyPair, `revoke-user-${method}`);
        const tokens = await refresh(oauth.DPoP(client, keyPair), rt0);
        const rt = String(tokens.refresh_token);
        const introspect = async (token: string) =>
          oauth.processIntrospectionResponse(
            as,
            client,
            await oauth.introspectionRequest(as, client, auth(secret), token, insecure),
          );

        const live = await introspect(tokens.access_token);
        assert.equal(live.active, true);
        assert.equal(live.client_id, client.client_id);
        assert.equal((await introspect(rt)).active, true);

        const revoked = await oauth.revocationRequest(as, client, auth(secret), rt, insecure);
        assert.equal(await oauth.processRevocationResponse(revoked), undefined);

        assert.equal((await introspect(rt)).active, false);
        assert.equal((await introspect(tokens.access_token)).active, false);
        assert.equal(await oauthError(refresh(oauth.DPoP(client, keyPair), rt)), "invalid_grant");
      });
    }

    test("introspection with a wrong client secret is refused with invalid_client", async () => {
      const wrong = oauth.ClientSecretBasic(`${secret}x`);
      const res = await oauth.introspectionRequest(as, client, wrong, "anything", insecure);
      await assert.rejects(oauth.processIntrospectionResponse(as, client, res), (error) => {
        assert.ok(
          error instanceof oauth.ResponseBodyError || error instanceof oauth.WWWAuthenticateChallengeError,
          String(error),
        );
        assert.equal(error.status, 401);
        return true;
      });
    });
  });
}
