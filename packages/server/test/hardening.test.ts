import assert from "node:assert/strict";
import { lookup } from "node:dns/promises";
import { createServer, type Server } from "node:http";
import { hostname } from "node:os";
import { Writable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { MeshauthError, TOKEN_EXCHANGE_GRANT, TOKEN_TYPES } from "@meshauth/core";
import Fastify, { type FastifyBaseLogger } from "fastify";
import { pino } from "pino";
import { normalizeEmail } from "../src/auth/otp-service.js";
import { installErrorHandling } from "../src/http/errors.js";
import type { Hub } from "../src/hub.js";
import { guardedFetch, isBlockedAddress } from "../src/providers/outbound.js";
import { newDevice, post } from "./helpers/client.js";
import { cleanup, engines } from "./helpers/engines.js";
import { admin, createApp, startTestHub } from "./helpers/hub.js";

after(cleanup);

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString("base64")}`;

/** A webhook answering `answer` as JSON, counting calls. */
async function webhook(answer: unknown): Promise<{ url: string; calls: number; close(): Promise<void> }> {
  const state = { calls: 0 };
  const server: Server = createServer((req, res) => {
    state.calls++;
    req.resume();
    req.on("end", () => res.setHeader("content-type", "application/json").end(JSON.stringify(answer)));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/auth`,
    get calls() {
      return state.calls;
    },
    close: () => new Promise((r) => server.close(() => r())),
  };
}

const ANSWER = {
  authenticated: true,
  userID: "ada",
  expirationSeconds: 3600,
  permissions: {
    read: { everything: true, queriesByCollection: {} },
    write: { everything: false, queriesByCollection: {} },
  },
};

describe("error logging", () => {
  test("a webhook's fault (502) is a warning without a stack; the hub's own fault an error with one", async () => {
    const lines: Array<{ level: number; err?: { stack?: string }; msg: string }> = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        for (const l of String(chunk).split("\n").filter(Boolean)) lines.push(JSON.parse(l));
        done();
      },
    });
    const http = Fastify({ loggerInstance: pino({ level: "info" }, sink) as FastifyBaseLogger });
    installErrorHandling(http);
    http.get("/hook", async () => {
      throw new MeshauthError("provider_unavailable", "auth webhook w: answered HTTP 500", {
        reason: "http_status",
      });
    });
    http.get("/bug", async () => {
      throw new TypeError("oops");
    });
    assert.equal((await http.inject({ url: "/hook" })).statusCode, 502);
    assert.equal((await http.inject({ url: "/bug" })).statusCode, 500);
    await http.close();
    const hook = lines.find((l) => l.msg.includes("answered HTTP 500"));
    assert.equal(hook?.level, 40, "warn");
    assert.equal(hook?.err, undefined, "no stack");
    const bug = lines.find((l) => l.msg === "unhandled error");
    assert.equal(bug?.level, 50);
    assert.match(String(bug?.err?.stack), /TypeError: oops/);
  });
});

describe("email addresses", () => {
  test("invisible characters are refused; NFC, case and IDNA forms are one address", () => {
    for (const bad of [
      "ada\u200b@example.com",
      "ada@exa\u202emple.com",
      "\u2066ada@example.com",
      "ada@example.com\u00ad",
    ])
      assert.throws(() => normalizeEmail(bad), /invisible or control character/, JSON.stringify(bad));
    assert.equal(normalizeEmail("Ada@EXAMPLE.com"), "ada@example.com");
    assert.equal(normalizeEmail("ada@ｅｘａｍｐｌｅ.com"), "ada@example.com", "full-width domain");
    assert.equal(normalizeEmail("ad\u0061\u0301@example.com"), normalizeEmail("ad\u00e1@example.com"), "NFC");
    assert.equal(
      normalizeEmail("ada@exаmple.com"),
      "ada@xn--exmple-4nf.com",
      "a Cyrillic а shows as punycode",
    );
    assert.throws(() => normalizeEmail("ada@exa mple.com"));
  });
});

describe("outbound addresses", () => {
  test("metadata, loopback and link-local in every spelling are blocked; private networks are not", () => {
    for (const a of [
      "169.254.169.254",
      "127.0.0.1",
      "::1",
      "::ffff:a9fe:a9fe",
      "::ffff:127.0.0.1",
      "64:ff9b::a9fe:a9fe",
      "fd00:ec2::254",
      "0.0.0.0",
      "::",
      "fe80::1",
      "224.0.0.1",
    ])
      assert.ok(isBlockedAddress(a), a);
    for (const a of ["10.0.0.5", "192.168.1.2", "93.184.216.34", "2606:4700::1111"])
      assert.ok(!isBlockedAddress(a), a);
  });

  test("at call time the address the connection goes to is checked (a name that resolves to loopback)", async (t) => {
    const name = hostname();
    const resolved = await lookup(name).catch(() => undefined);
    if (!resolved || !isBlockedAddress(resolved.address))
      return t.skip(`${name} does not resolve to loopback here`);
    const hook = await webhook(ANSWER);
    try {
      const port = new URL(hook.url).port;
      const f = guardedFetch({ allowAll: false, hubOrigin: "https://hub.example" });
      await assert.rejects(f(`http://${name}:${port}/auth`, { method: "POST", body: "{}" }));
      assert.equal(hook.calls, 0, "no connection was made");
      const open = guardedFetch({ allowAll: true, hubOrigin: "https://hub.example" });
      assert.equal((await open(`http://${name}:${port}/auth`, { method: "POST", body: "{}" })).status, 200);
    } finally {
      await hook.close();
    }
  });
});

for (const engine of engines()) {
  describe(`hardening on ${engine.name}`, () => {
    let hub: Hub & { url: string };
    let app: { id: string; clientSecret: string; playgroundToken?: string };
    before(async () => {
      hub = await startTestHub(engine, { demoApp: false });
      app = await createApp(hub, { name: "hard", providers: ["otp", "playground", "client", "webhook"] });
    });
    after(() => hub.close());

    test("deeply nested JSON is 400 invalid_request at every endpoint, not a stack overflow", async () => {
      const deep = `{"permissions":${"[".repeat(5000)}${"]".repeat(5000)},"grant_type":"client_credentials"}`;
      for (const url of ["/token", "/otp", "/revoke", "/introspect", "/admin/apps"]) {
        const res = await fetch(`${hub.url}${url}`, {
          method: "POST",
          headers: { "content-type": "application/json", ...admin(hub) },
          body: deep,
        });
        assert.equal(res.status, 400, url);
        const body = (await res.json()) as Record<string, string>;
        assert.equal(body.error, "invalid_request", url);
        assert.match(body.error_description as string, /nested deeper than/, url);
      }
    });

    test("every answer carries nosniff and the other API security headers", async () => {
      const answers = [
        await fetch(`${hub.url}/.well-known/oauth-authorization-server`),
        await fetch(`${hub.url}/nowhere`),
        await fetch(`${hub.url}/token`, { method: "POST" }),
        await fetch(`${hub.url}/admin/apps/${"x".repeat(4000)}`, { headers: admin(hub) }),
      ];
      for (const res of answers) {
        assert.equal(res.headers.get("x-content-type-options"), "nosniff", res.url);
        assert.equal(res.headers.get("x-frame-options"), "DENY");
        assert.equal(res.headers.get("referrer-policy"), "no-referrer");
        assert.match(String(res.headers.get("content-security-policy")), /frame-ancestors 'none'/);
      }
    });

    test("long path parameters: the hub's error shape, and users with the longest accepted IDs are manageable", async () => {
      const tooLong = await fetch(`${hub.url}/admin/apps/${"x".repeat(4000)}`, { headers: admin(hub) });
      assert.equal(tooLong.status, 400);
      const body = (await tooLong.json()) as Record<string, string>;
      assert.equal(body.error, "invalid_request");
      assert.doesNotMatch(JSON.stringify(body), /xxxxxxxx/, "the URL is not echoed");

      const sub = `user-${"é".repeat(250)}`;
      const login = await post(
        hub.url,
        "/token",
        { grant_type: "client_credentials", sub, dpop_jkt: (await newDevice()).jkt },
        undefined,
        { headers: { authorization: basic(app.id, app.clientSecret) } },
      );
      assert.equal(login.status, 200, JSON.stringify(login.body));
      const path = `/admin/apps/${app.id}/users/${encodeURIComponent(sub)}`;
      const sessions = await hub.http.inject({ method: "GET", url: `${path}/sessions`, headers: admin(hub) });
      assert.equal(sessions.statusCode, 200, sessions.body);
      assert.equal(sessions.json().sessions.length, 1);
      const disabled = await hub.http.inject({ method: "POST", url: `${path}/disable`, headers: admin(hub) });
      assert.equal(disabled.statusCode, 200, disabled.body);
    });

    test("an email with a zero-width space or a bidi override is refused at /otp", async () => {
      for (const email of ["ada\u200b@example.com", "ada@\u202eelpmaxe.com"]) {
        const res = await post(hub.url, "/otp", { client_id: app.id, email });
        assert.equal(res.status, 400);
        assert.match(String(res.body.error_description), /invisible/);
      }
    });

    test("__proto__ and constructor keys from a webhook never reach identities or certificates", async () => {
      const hook = await webhook({
        ...ANSWER,
        userID: "proto-user",
        clientInfo: JSON.parse(
          '{"name":"Ada","__proto__":{"admin":true},"constructor":{"prototype":{"x":1}},"nested":{"__proto__":{"y":2},"ok":1}}',
        ),
      });
      try {
        const added = await hub.http.inject({
          method: "POST",
          url: `/admin/apps/${app.id}/webhooks`,
          headers: admin(hub),
          payload: { name: "proto", url: hook.url },
        });
        assert.equal(added.statusCode, 201, added.body);
        const device = await newDevice();
        const res = await post(
          hub.url,
          "/token",
          {
            grant_type: TOKEN_EXCHANGE_GRANT,
            client_id: app.id,
            provider: "webhook:proto",
            subject_token: "t",
            subject_token_type: TOKEN_TYPES.accessToken,
          },
          device,
        );
        assert.equal(res.status, 200, JSON.stringify(res.body));
        const raw = JSON.stringify(res.body);
        assert.doesNotMatch(raw, /__proto__|constructor|"admin"|"y":2/);
        assert.deepEqual(res.body.client_info, { name: "Ada", nested: { ok: 1 } });
      } finally {
        await hook.close();
      }
    });
  });

  describe(`SSRF refusal in production mode on ${engine.name}`, () => {
    let hub: Hub & { url: string };
    let app: { id: string; clientSecret: string };
    before(async () => {
      hub = await startTestHub(engine, { demoApp: false, mode: "production" });
      app = await createApp(hub, { name: "ssrf", providers: ["webhook", "oidc"] });
    });
    after(() => hub.close());

    const register = (
      kind: "webhooks" | "oidc-providers",
      url: string,
      name = `p${Math.random().toString(36).slice(2, 8)}`,
    ) =>
      hub.http.inject({
        method: "POST",
        url: `/admin/apps/${app.id}/${kind}`,
        headers: admin(hub),
        payload:
          kind === "webhooks"
            ? { name, url }
            : { name, issuer: "https://idp.example", audience: "a", jwksUri: url },
      });

    test("webhook and JWKS URLs at metadata, loopback, link-local or the hub itself are refused at registration", async () => {
      const targets = [
        "http://169.254.169.254/latest/meta-data/",
        "http://2852039166/",
        "http://0xA9FEA9FE/",
        "http://0251.0376.0251.0376/",
        "http://169.254.43518/",
        "http://[::ffff:169.254.169.254]/",
        "http://[::ffff:a9fe:a9fe]/",
        "http://[fd00:ec2::254]/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://metadata.google.internal./",
        "http://127.0.0.1:8080/",
        "http://127.1/",
        "http://[::1]/",
        "http://localhost/",
        "http://0.0.0.0/",
        `${hub.url}/token`,
      ];
      for (const url of targets) {
        for (const kind of ["webhooks", "oidc-providers"] as const) {
          const res = await register(kind, url);
          assert.equal(res.statusCode, 400, `${kind} ${url}: ${res.body}`);
          assert.equal(res.json().error, "invalid_request");
        }
      }
      assert.equal((await register("webhooks", "https://auth.example.com/hook")).statusCode, 201);
      assert.equal(
        (await register("webhooks", "http://10.1.2.3:8080/hook")).statusCode,
        201,
        "private networks are allowed",
      );
    });

    test("a stored target that points inside is refused at call time, and the device learns one stable reason", async () => {
      const hook = await webhook(ANSWER);
      try {
        // As if registered before the rule, or a name that rebinds: the call itself is checked.
        await hub.store.insertWebhook(app.id, {
          name: "inside",
          url: hook.url,
          dittoSignature: false,
          timeoutMs: 2000,
          createdAt: 0,
          secretSealed: hub.box.seal(
            Buffer.from("whsec_c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0"),
            `webhook:${app.id}:inside`,
          ),
        } as Parameters<Hub["store"]["insertWebhook"]>[1]);
        const res = await post(
          hub.url,
          "/token",
          {
            grant_type: TOKEN_EXCHANGE_GRANT,
            client_id: app.id,
            provider: "webhook:inside",
            subject_token: "t",
            subject_token_type: TOKEN_TYPES.accessToken,
          },
          await newDevice(),
        );
        assert.equal(res.status, 502, JSON.stringify(res.body));
        assert.equal(res.body.error, "provider_unavailable");
        assert.equal(res.body.reason, "unavailable");
        assert.equal(res.body.status, undefined);
        assert.equal(res.body.cause, undefined);
        assert.equal(hook.calls, 0, "the hub never connected");
      } finally {
        await hook.close();
      }
    });

    test("MESHAUTH_ALLOW_INTERNAL_TARGETS allows them explicitly", async () => {
      const open = await startTestHub(engine, {
        demoApp: false,
        mode: "production",
        allowInternalTargets: true,
      });
      try {
        const a = await createApp(open, { name: "open", providers: ["webhook"] });
        const res = await open.http.inject({
          method: "POST",
          url: `/admin/apps/${a.id}/webhooks`,
          headers: admin(open),
          payload: { name: "local", url: "http://127.0.0.1:9/hook" },
        });
        assert.equal(res.statusCode, 201, res.body);
      } finally {
        await open.close();
      }
    });
  });
}
