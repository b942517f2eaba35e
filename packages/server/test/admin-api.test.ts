import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Hub } from "../src/hub.js";
import { cleanup, engines } from "./helpers/engines.js";
import { admin, startTestHub } from "./helpers/hub.js";

after(cleanup);

for (const engine of engines()) {
  describe(`admin API on ${engine.name}`, () => {
    let hub: Hub;
    before(async () => {
      hub = await startTestHub(engine, { demoApp: false });
    });
    after(() => hub.close());

    const call = (
      method: "GET" | "POST" | "PATCH" | "DELETE",
      url: string,
      payload?: unknown,
      headers?: Record<string, string>,
    ) =>
      hub.http.inject({
        method,
        url,
        headers: headers ?? admin(hub),
        ...(payload === undefined ? {} : { payload: payload as object }),
      });

    async function appNames(): Promise<string[]> {
      return (await call("GET", "/admin/apps")).json().apps.map((a: { name: string }) => a.name);
    }

    test("no, malformed or wrong admin token: 401 and nothing changes", async () => {
      for (const headers of [
        {} as Record<string, string>,
        { authorization: "Basic abc" },
        { authorization: `Bearer ${hub.adminToken}x` },
        { authorization: "Bearer " },
      ]) {
        const res = await call("POST", "/admin/apps", { name: "sneaky" }, headers);
        assert.equal(res.statusCode, 401);
        assert.equal(res.json().error, "unauthorized");
        assert.match(res.headers["www-authenticate"] as string, /^Bearer/);
      }
      assert.ok(!(await appNames()).includes("sneaky"));
    });

    test("create, show (by ID or name), update, list and delete an app", async () => {
      const created = await call("POST", "/admin/apps", {
        name: "shop",
        corsOrigins: ["https://shop.example"],
        accessTokenTtl: 600,
      });
      assert.equal(created.statusCode, 201);
      const { app, playgroundToken } = created.json();
      assert.match(app.id, /^[0-9a-f-]{36}$/);
      assert.deepEqual(app.providers, ["otp", "playground"]);
      assert.equal(app.accessTokenTtl, 600);
      assert.equal(app.sessionAbsoluteTtl, 90 * 86_400);
      assert.equal(app.sessionIdleTtl, 30 * 86_400);
      assert.equal(app.hasPlaygroundToken, true);
      assert.match(playgroundToken, /^mp_/);
      assert.equal(JSON.stringify(app).includes(playgroundToken), false);

      assert.equal((await call("GET", `/admin/apps/${app.id}`)).json().name, "shop");
      assert.equal((await call("GET", "/admin/apps/shop")).json().id, app.id);

      const updated = await call("PATCH", "/admin/apps/shop", {
        name: "store",
        providers: ["otp", "client"],
        sessionIdleTtl: 3600,
      });
      assert.equal(updated.statusCode, 200);
      assert.equal(updated.json().name, "store");
      assert.deepEqual(updated.json().providers, ["otp", "client"]);
      assert.equal(updated.json().sessionIdleTtl, 3600);
      assert.ok((await appNames()).includes("store"));

      const deleted = await call("DELETE", `/admin/apps/${app.id}`);
      assert.equal(deleted.statusCode, 200);
      assert.equal((await call("GET", `/admin/apps/${app.id}`)).statusCode, 404);
      assert.equal((await hub.http.inject(`/apps/${app.id}/ca.pem`)).statusCode, 404);
    });

    test("a duplicate name is 409 and changes nothing", async () => {
      await call("POST", "/admin/apps", { name: "dup" });
      const again = await call("POST", "/admin/apps", { name: "dup", accessTokenTtl: 60 });
      assert.equal(again.statusCode, 409);
      assert.equal(again.json().error, "conflict");
      assert.match(again.json().error_description, /dup/);
      assert.equal((await appNames()).filter((n) => n === "dup").length, 1);
      await call("POST", "/admin/apps", { name: "dup2" });
      const rename = await call("PATCH", "/admin/apps/dup2", { name: "dup" });
      assert.equal(rename.statusCode, 409);
      assert.ok((await appNames()).includes("dup2"));
    });

    test("an unknown app is 404 for every operation", async () => {
      for (const [method, url] of [
        ["GET", "/admin/apps/nope"],
        ["PATCH", "/admin/apps/nope"],
        ["DELETE", "/admin/apps/nope"],
        ["POST", "/admin/apps/nope/playground-token"],
        ["POST", "/admin/apps/nope/secrets"],
      ] as const) {
        const res = await call(method, url, method === "PATCH" ? { name: "x" } : undefined);
        assert.equal(res.statusCode, 404, `${method} ${url}`);
        assert.equal(res.json().error, "not_found");
        assert.match(res.json().error_description, /nope/);
      }
    });

    test("bad fields are 400 naming the field, and change nothing", async () => {
      const cases: [unknown, RegExp][] = [
        [{}, /^name: expected/],
        [{ name: "" }, /^name: expected/],
        [{ name: "has space" }, /^name: expected/],
        [{ name: "ok1", accessTokenTtl: 5 }, /^accessTokenTtl: expected an integer from 60 to 86400/],
        [{ name: "ok2", accessTokenTtl: "900" }, /^accessTokenTtl/],
        [{ name: "ok3", providers: ["otp", "password"] }, /^providers\[1\]: expected one of/],
        [{ name: "ok4", corsOrigins: ["https://a.example/path"] }, /^corsOrigins\[0\]: expected an origin/],
        [
          { name: "ok5", sessionIdleTtl: 86_400 * 200 },
          /^sessionIdleTtl: expected at most sessionAbsoluteTtl/,
        ],
        [{ name: "ok6", emial: {} }, /^emial: expected no such member/],
        [{ name: "ok7", email: { magicLinkUrl: "javascript:alert(1)" } }, /^email.magicLinkUrl/],
        [[1, 2], /^body: expected a JSON object/],
      ];
      for (const [payload, pattern] of cases) {
        const res = await call("POST", "/admin/apps", payload);
        assert.equal(res.statusCode, 400, JSON.stringify(payload));
        assert.equal(res.json().error, "invalid_request");
        assert.match(res.json().error_description, pattern);
      }
      assert.deepEqual(
        (await appNames()).filter((n) => /^ok\d$/.test(n)),
        [],
      );
    });

    test("an invalid permission query in defaultPermissions is refused with its position", async () => {
      const res = await call("POST", "/admin/apps", {
        name: "perm",
        defaultPermissions: {
          read: { everything: false, queriesByCollection: { cars: ["_id.owner == "] } },
          write: { everything: false, queriesByCollection: {} },
        },
      });
      assert.equal(res.statusCode, 400);
      assert.equal(res.json().error, "invalid_permissions");
      assert.match(res.json().error_description, /^defaultPermissions: /);
      assert.match(res.json().error_description, /column/);
      assert.ok(!(await appNames()).includes("perm"));
      const mutable = await call("POST", "/admin/apps", {
        name: "perm",
        defaultPermissions: {
          read: { everything: false, queriesByCollection: { cars: ["owner == 'u1'"] } },
          write: { everything: false, queriesByCollection: {} },
        },
      });
      assert.equal(mutable.statusCode, 400);
      assert.match(mutable.json().error_description, /_id/);
    });

    test("oversized, non-JSON and wrongly typed bodies get clear 4xx errors", async () => {
      const big = await call("POST", "/admin/apps", {
        name: "big",
        email: { html: "x".repeat(hub.config.bodyLimit + 10) },
      });
      assert.equal(big.statusCode, 413);
      assert.equal(big.json().error, "payload_too_large");

      const notJson = await hub.http.inject({
        method: "POST",
        url: "/admin/apps",
        headers: { ...admin(hub), "content-type": "application/json" },
        payload: "{ name: nope",
      });
      assert.equal(notJson.statusCode, 400);
      assert.equal(notJson.json().error, "invalid_request");
      assert.match(notJson.json().error_description, /JSON/);

      const xml = await hub.http.inject({
        method: "POST",
        url: "/admin/apps",
        headers: { ...admin(hub), "content-type": "application/xml" },
        payload: "<app/>",
      });
      assert.equal(xml.statusCode, 415);
      assert.equal(xml.json().error, "unsupported_media_type");

      const poisoned = await hub.http.inject({
        method: "POST",
        url: "/admin/apps",
        headers: { ...admin(hub), "content-type": "application/json" },
        payload: '{"name":"p","__proto__":{"admin":true}}',
      });
      assert.equal(poisoned.statusCode, 400);
      assert.ok(!(await appNames()).includes("big") && !(await appNames()).includes("p"));

      const route = await call("GET", "/admin/nothing-here");
      assert.equal(route.statusCode, 404);
      assert.equal(route.json().error, "not_found");
    });

    test("rotating the playground token returns a new one once", async () => {
      await call("POST", "/admin/apps", { name: "play" });
      const r1 = (await call("POST", "/admin/apps/play/playground-token")).json();
      const r2 = (await call("POST", "/admin/apps/play/playground-token")).json();
      assert.match(r1.playgroundToken, /^mp_/);
      assert.notEqual(r1.playgroundToken, r2.playgroundToken);
      const details = (await call("GET", "/admin/apps/play")).body;
      assert.ok(!details.includes(r1.playgroundToken) && !details.includes(r2.playgroundToken));
    });

    test("client secrets: several, stored hashed, each revocable", async () => {
      await call("POST", "/admin/apps", { name: "backend" });
      const a = await call("POST", "/admin/apps/backend/secrets", { label: "api" });
      const b = await call("POST", "/admin/apps/backend/secrets");
      assert.equal(a.statusCode, 201);
      const sa = a.json();
      const sb = b.json();
      assert.ok(sa.clientSecret.startsWith(`${sa.secret.id}.`));
      assert.equal(sa.secret.label, "api");
      const shown = await call("GET", "/admin/apps/backend");
      assert.deepEqual(
        shown.json().secrets.map((s: { id: string }) => s.id),
        [sa.secret.id, sb.secret.id],
      );
      assert.ok(!shown.body.includes(sa.clientSecret.split(".")[1]));

      assert.equal((await call("DELETE", `/admin/apps/backend/secrets/${sa.secret.id}`)).statusCode, 204);
      const again = await call("DELETE", `/admin/apps/backend/secrets/${sa.secret.id}`);
      assert.equal(again.statusCode, 404);
      const secrets = (await call("GET", "/admin/apps/backend")).json().secrets;
      assert.ok(secrets.find((s: { id: string }) => s.id === sa.secret.id).revokedAt);
      assert.equal(secrets.find((s: { id: string }) => s.id === sb.secret.id).revokedAt, null);
    });

    test("webhook and OIDC providers: add, list, refuse duplicates, remove", async () => {
      await call("POST", "/admin/apps", { name: "hooks" });
      const hook = await call("POST", "/admin/apps/hooks/webhooks", {
        name: "auth0",
        url: "https://hooks.example/auth",
      });
      assert.equal(hook.statusCode, 201);
      assert.match(hook.json().signingSecret, /^whsec_/);
      assert.equal(hook.json().webhook.timeoutMs, 5000);
      assert.equal(
        (await call("POST", "/admin/apps/hooks/webhooks", { name: "auth0", url: "https://x.example" }))
          .statusCode,
        409,
      );
      const badUrl = await call("POST", "/admin/apps/hooks/webhooks", {
        name: "x",
        url: "file:///etc/passwd",
      });
      assert.equal(badUrl.statusCode, 400);
      assert.match(badUrl.json().error_description, /^url: /);

      const oidc = await call("POST", "/admin/apps/hooks/oidc-providers", {
        name: "clerk",
        issuer: "https://clerk.example",
        audience: "my-app",
        jwksUri: "https://clerk.example/.well-known/jwks.json",
        mapping: {
          userIdClaim: "sub",
          permissionsClaim: "role",
          permissionsByClaimValue: {
            admin: {
              read: { everything: true, queriesByCollection: {} },
              write: { everything: true, queriesByCollection: {} },
            },
          },
        },
      });
      assert.equal(oidc.statusCode, 201, oidc.body);
      const details = (await call("GET", "/admin/apps/hooks")).json();
      assert.deepEqual(
        details.webhooks.map((w: { name: string }) => w.name),
        ["auth0"],
      );
      assert.equal(details.webhooks[0].secretSealed, undefined);
      assert.ok(!JSON.stringify(details).includes(hook.json().signingSecret));
      assert.equal(details.oidcProviders[0].mapping.permissionsClaim, "role");

      assert.equal((await call("DELETE", "/admin/apps/hooks/webhooks/auth0")).statusCode, 204);
      assert.equal((await call("DELETE", "/admin/apps/hooks/oidc-providers/clerk")).statusCode, 204);
      assert.equal((await call("DELETE", "/admin/apps/hooks/oidc-providers/clerk")).statusCode, 404);
    });

    test("signing keys: list and rotate", async () => {
      const listed = (await call("GET", "/admin/keys")).json().keys;
      assert.equal(listed.filter((k: { status: string }) => k.status === "active").length, 1);
      const rotated = (await call("POST", "/admin/keys/rotate")).json();
      const after = (await call("GET", "/admin/keys")).json().keys;
      // Published first, signing later: the old key signs until the new one has been seen.
      assert.equal(after.find((k: { status: string }) => k.status === "next").kid, rotated.kid);
      assert.equal(after.find((k: { status: string }) => k.status === "active").kid, listed[0].kid);
      const urgent = (await call("POST", "/admin/keys/rotate", { immediate: true })).json();
      const now = (await call("GET", "/admin/keys")).json().keys;
      assert.equal(now.find((k: { status: string }) => k.status === "active").kid, urgent.kid);
      assert.ok(
        now.some((k: { status: string; kid: string }) => k.status === "retiring" && k.kid === listed[0].kid),
      );
      assert.equal((await call("POST", "/admin/keys/rotate", { immediate: "yes" })).statusCode, 400);
    });
  });
}
