import assert from "node:assert/strict";
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createNetServer } from "node:net";
import { after, before, describe, test } from "node:test";
import { MeshauthError } from "@meshauth/core";
import type { WebhookProvider } from "../src/apps/model.js";
import { callAuthWebhook } from "../src/providers/webhook.js";

const APP_ID = "app_test";
const WHSEC = `whsec_${randomBytes(32).toString("base64url")}`;
/** Ditto hands out random bytes, base64-encoded, not a whsec_ secret. */
const DITTO_SECRET = randomBytes(96).toString("base64");

interface TestServer {
  url: string;
  hits: number;
  close(): Promise<void>;
}

async function startServer(handler: (req: IncomingMessage, res: ServerResponse, body: string) => void) {
  const server: Server = createServer((req, res) => {
    state.hits++;
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => handler(req, res, Buffer.concat(chunks).toString("utf8")));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  const state: TestServer = {
    url: `http://127.0.0.1:${address.port}/auth`,
    hits: 0,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return state;
}

/** A loopback port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** What a webhook developer writes: Standard Webhooks verification (as in the spec's libraries). */
function standardWebhooksValid(req: IncomingMessage, body: string, secret: string): boolean {
  const id = req.headers["webhook-id"];
  const ts = req.headers["webhook-timestamp"];
  const sigs = req.headers["webhook-signature"];
  if (typeof id !== "string" || typeof ts !== "string" || typeof sigs !== "string") return false;
  if (Math.abs(Date.now() / 1000 - Number(ts)) > 300) return false;
  // Written out here, not imported, so the test checks the hub against the spec: whsec_ + base64 key.
  const key = secret.startsWith("whsec_") ? Buffer.from(secret.slice(6), "base64") : Buffer.from(secret);
  const expected = createHmac("sha256", key).update(`${id}.${ts}.${body}`).digest("base64");
  return sigs.split(" ").some((s) => safeEqual(s, `v1,${expected}`));
}

/**
 * What a Ditto webhook does, as Ditto documents it: `ditto-signature: t=..,v1=..`, HMAC-SHA256
 * over "<t>.<body>" "using a base64-decoded shared secret key". `textKey`: a webhook that
 * was written against the hub's earlier behaviour, HMAC with the secret's text.
 */
function dittoSignatureValid(req: IncomingMessage, body: string, secret: string, textKey = false): boolean {
  const header = req.headers["ditto-signature"];
  if (typeof header !== "string") return false;
  const parts = header.split(",").map((p) => p.split("=", 2) as [string, string]);
  const t = parts.find(([k]) => k === "t")?.[1];
  if (t === undefined || Math.abs(Date.now() / 1000 - Number(t)) > 300) return false;
  const key = textKey
    ? Buffer.from(secret, "utf8")
    : Buffer.from(secret.startsWith("whsec_") ? secret.slice(6) : secret, "base64");
  const expected = createHmac("sha256", key).update(`${t}.${body}`).digest("hex");
  return parts.some(([k, v]) => k === "v1" && safeEqual(v, expected));
}

const customer = (id: string) => ({
  read: { everything: false, queriesByCollection: { orders: [`_id.userID == '${id}'`] } },
  write: { everything: false, queriesByCollection: { orders: [`_id.userID == '${id}'`] } },
});
const manager = {
  read: { everything: true, queriesByCollection: {} },
  write: { everything: true, queriesByCollection: {} },
};
const employee = {
  read: { everything: true, queriesByCollection: {} },
  write: { everything: false, queriesByCollection: { orders: ["true"] } },
};

/** Ditto's public three-role sample, plus the request checks a careful webhook makes. */
function sampleWebhook(secret: string, requireDitto: boolean, received: unknown[], textKey = false) {
  return (req: IncomingMessage, res: ServerResponse, body: string) => {
    const reply = (status: number, value: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(value));
    };
    if (
      !standardWebhooksValid(req, body, secret) ||
      (requireDitto && !dittoSignatureValid(req, body, secret, textKey))
    ) {
      return reply(401, { error: "bad signature" });
    }
    const request = JSON.parse(body) as { token: string };
    received.push(request);
    const users: Record<string, { userID: string; permissions: unknown; role: string }> = {
      "customer-token": { userID: "c1", permissions: customer("c1"), role: "customer" },
      "manager-token": { userID: "m1", permissions: manager, role: "manager" },
      "employee-token": { userID: "e1", permissions: employee, role: "employee" },
    };
    const user = users[request.token];
    if (user === undefined) return reply(401, { authenticate: false, userInfo: "unknown token" });
    reply(200, {
      authenticate: true,
      expirationSeconds: 28800,
      userID: user.userID,
      permissions: user.permissions,
      userInfo: { role: user.role },
    });
  };
}

function provider(url: string, extra: Partial<WebhookProvider> = {}): WebhookProvider {
  return {
    name: "sample",
    url,
    dittoSignature: true,
    dittoSignatureKey: "base64",
    timeoutMs: 2000,
    createdAt: 0,
    ...extra,
  };
}

/** Asserts a MeshauthError with that code (and reason), and that no secret leaks into it. */
function fails(code: string, reason?: string, check?: (e: MeshauthError) => void) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof MeshauthError, `expected a MeshauthError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (reason !== undefined) assert.equal(e.details.reason, reason, e.message);
    const shown = `${e.message} ${JSON.stringify(e.details)} ${e.stack ?? ""}`;
    for (const s of [WHSEC, DITTO_SECRET, WHSEC.slice(6)])
      assert.ok(!shown.includes(s), "error shows the secret");
    check?.(e);
    return true;
  };
}

const call = (url: string, token: string, secret = WHSEC, extra: Partial<WebhookProvider> = {}) =>
  callAuthWebhook({ appId: APP_ID, provider: provider(url, extra), secret, token, peerKey: "pk-thumb" });

describe("auth webhook against a Ditto-style sample (whsec_ secret, both signatures)", () => {
  let hook: TestServer;
  const received: unknown[] = [];
  before(async () => {
    hook = await startServer(sampleWebhook(WHSEC, true, received));
  });
  after(() => hook.close());

  test("customer: own orders only, legacy spellings read", async () => {
    const id = await call(hook.url, "customer-token");
    assert.equal(id.userId, "c1");
    assert.equal(id.expirationSeconds, 28800);
    assert.deepEqual(id.permissions, customer("c1"));
    assert.deepEqual(id.clientInfo, { role: "customer" });
    assert.ok(Object.isFrozen(id.permissions), "validated (frozen) by the permission engine");
    assert.deepEqual(received.at(-1), {
      version: "1",
      databaseID: APP_ID,
      appID: APP_ID,
      provider: "sample",
      token: "customer-token",
      peerKey: "pk-thumb",
    });
  });

  test("manager: everything", async () => {
    const id = await call(hook.url, "manager-token");
    assert.equal(id.userId, "m1");
    assert.deepEqual(id.permissions, manager);
  });

  test("employee: read everything, write all orders", async () => {
    const id = await call(hook.url, "employee-token");
    assert.deepEqual(id.permissions, employee);
  });

  test("unknown token: 401 authenticate:false is provider_rejected", async () => {
    await assert.rejects(call(hook.url, "who-knows"), fails("provider_rejected"));
  });

  test("a hub with the wrong signing secret is refused by the webhook", async () => {
    const before = received.length;
    const wrong = `whsec_${randomBytes(32).toString("base64url")}`;
    await assert.rejects(
      call(hook.url, "manager-token", wrong),
      fails("provider_unavailable", "http_status", (e) => assert.equal(e.details.status, 401)),
    );
    assert.equal(received.length, before, "the webhook did not accept the request");
  });

  test("without the ditto-signature header a Ditto webhook refuses", async () => {
    await assert.rejects(
      call(hook.url, "manager-token", WHSEC, { dittoSignature: false }),
      fails("provider_unavailable", "http_status"),
    );
  });
});

describe("auth webhook with a raw Ditto secret", () => {
  let hook: TestServer;
  before(async () => {
    hook = await startServer(sampleWebhook(DITTO_SECRET, true, []));
  });
  after(() => hook.close());

  test("both signatures verify with a non-whsec secret", async () => {
    const id = await call(hook.url, "employee-token", DITTO_SECRET);
    assert.equal(id.userId, "e1");
  });

  test("a wrong raw secret is refused", async () => {
    await assert.rejects(
      call(hook.url, "employee-token", randomBytes(96).toString("base64")),
      fails("provider_unavailable", "http_status"),
    );
  });

  test("HMAC with the secret's text (the hub's old key) is refused by a webhook that verifies as Ditto documents", async () => {
    await assert.rejects(
      call(hook.url, "employee-token", DITTO_SECRET, { dittoSignatureKey: "utf8" }),
      fails("provider_unavailable", "http_status"),
    );
  });
});

describe("auth webhook registered before dittoSignatureKey (text key)", () => {
  let hook: TestServer;
  before(async () => {
    hook = await startServer(sampleWebhook(DITTO_SECRET, true, [], true));
  });
  after(() => hook.close());

  test("keeps verifying with dittoSignatureKey utf8, which migrated registrations get", async () => {
    const id = await call(hook.url, "employee-token", DITTO_SECRET, { dittoSignatureKey: "utf8" });
    assert.equal(id.userId, "e1");
    await assert.rejects(
      call(hook.url, "employee-token", DITTO_SECRET, { dittoSignatureKey: "base64" }),
      fails("provider_unavailable", "http_status"),
    );
  });
});

describe("auth webhook failures", () => {
  const servers: TestServer[] = [];
  const serve = async (handler: (req: IncomingMessage, res: ServerResponse, body: string) => void) => {
    const s = await startServer(handler);
    servers.push(s);
    return s;
  };
  const json =
    (value: unknown, status = 200) =>
    (_req: IncomingMessage, res: ServerResponse) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(typeof value === "string" ? value : JSON.stringify(value));
    };
  const ok = (extra: Record<string, unknown> = {}) => ({
    authenticated: true,
    expirationSeconds: 60,
    userID: "u1",
    permissions: manager,
    ...extra,
  });
  after(() => Promise.all(servers.map((s) => s.close())));

  test("current spellings: authenticated, clientInfo, identityServiceMetadata", async () => {
    const s = await serve(json(ok({ clientInfo: { name: "Ada" }, identityServiceMetadata: { team: "x" } })));
    const id = await call(s.url, "t");
    assert.deepEqual(id.clientInfo, { name: "Ada" });
    assert.deepEqual(id.identityServiceMetadata, { team: "x" });
  });

  test("authenticated:false with 200 is provider_rejected", async () => {
    const s = await serve(json({ authenticated: false }));
    await assert.rejects(call(s.url, "t"), fails("provider_rejected"));
  });

  test("a server that never answers times out", async () => {
    const s = await serve(() => {});
    const started = Date.now();
    await assert.rejects(
      call(s.url, "t", WHSEC, { timeoutMs: 200 }),
      fails("provider_unavailable", "timeout"),
    );
    assert.ok(Date.now() - started < 2000, "gave up near the timeout");
  });

  test("a body that stalls half way times out too", async () => {
    const s = await serve((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.write('{"authenticated":');
    });
    await assert.rejects(
      call(s.url, "t", WHSEC, { timeoutMs: 200 }),
      fails("provider_unavailable", "timeout"),
    );
  });

  test("500 is http_status with the status", async () => {
    const s = await serve(json({ error: "boom" }, 500));
    await assert.rejects(
      call(s.url, "t"),
      fails("provider_unavailable", "http_status", (e) => assert.equal(e.details.status, 500)),
    );
  });

  test("401 without authenticate:false is an outage, not a rejection", async () => {
    const s = await serve(json("denied", 401));
    await assert.rejects(call(s.url, "t"), fails("provider_unavailable", "http_status"));
  });

  test("302 is never followed", async () => {
    const target = await serve(json(ok()));
    const s = await serve((_req, res) => {
      res.writeHead(302, { location: target.url });
      res.end();
    });
    await assert.rejects(
      call(s.url, "t"),
      fails("provider_unavailable", "redirect", (e) => assert.equal(e.details.status, 302)),
    );
    assert.equal(target.hits, 0, "the redirect target was not contacted");
  });

  test("307 is never followed either", async () => {
    const target = await serve(json(ok()));
    const s = await serve((_req, res) => {
      res.writeHead(307, { location: target.url });
      res.end();
    });
    await assert.rejects(call(s.url, "t"), fails("provider_unavailable", "redirect"));
    assert.equal(target.hits, 0);
  });

  test("non-JSON is malformed", async () => {
    const s = await serve(json("<html>hello</html>"));
    await assert.rejects(call(s.url, "t"), fails("provider_unavailable", "malformed"));
  });

  test("1 MiB answer with content-length is too_large", async () => {
    const s = await serve(json({ ...ok(), pad: "x".repeat(1024 * 1024) }));
    await assert.rejects(call(s.url, "t"), fails("provider_unavailable", "too_large"));
  });

  test("1 MiB chunked answer (no content-length) is too_large, stream aborted", async () => {
    let aborted = false;
    const s = await serve((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.on("close", () => {
        aborted = !res.writableFinished;
      });
      res.write('{"pad":"');
      const chunk = "x".repeat(16 * 1024);
      let sent = 0;
      const more = () => {
        // Keeps writing (up to 8 MiB) until the client hangs up.
        while (sent < 8 * 1024 * 1024 && !res.destroyed) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once("drain", more);
        }
        if (!res.destroyed) res.end('"}');
      };
      more();
    });
    await assert.rejects(call(s.url, "t"), fails("provider_unavailable", "too_large"));
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(aborted, "the hub stopped reading");
  });

  test("deeply nested answer is malformed", async () => {
    const deep = `${"[".repeat(100)}${"]".repeat(100)}`;
    const s = await serve(
      json(`{"authenticated":true,"expirationSeconds":60,"userID":"u","clientInfo":${deep}}`),
    );
    await assert.rejects(
      call(s.url, "t"),
      fails("provider_unavailable", "malformed", (e) => assert.match(e.message, /deeper than 32/)),
    );
  });

  for (const [label, answer] of [
    ["authenticated missing", { expirationSeconds: 60, userID: "u", permissions: manager }],
    ["authenticated a string", { ...ok(), authenticated: "yes" }],
    ["expirationSeconds missing", { ...ok(), expirationSeconds: undefined }],
    ["expirationSeconds zero", { ...ok(), expirationSeconds: 0 }],
    ["expirationSeconds fractional", { ...ok(), expirationSeconds: 1.5 }],
    ["userID missing", { ...ok(), userID: undefined }],
    ["userID a number", { ...ok(), userID: 7 }],
    ["permissions missing", { ...ok(), permissions: undefined }],
    ["an array", [ok()]],
  ] as const) {
    test(`wrong field types are malformed: ${label}`, async () => {
      const s = await serve(json(answer));
      await assert.rejects(call(s.url, "t"), fails("provider_unavailable", "malformed"));
    });
  }

  test("invalid permission query is invalid_permissions naming the query and position", async () => {
    const bad = {
      read: { everything: false, queriesByCollection: { cars: ["true", "_id.owner = 'u1'"] } },
      write: { everything: false, queriesByCollection: {} },
    };
    const s = await serve(json(ok({ permissions: bad })));
    await assert.rejects(
      call(s.url, "t"),
      fails("invalid_permissions", undefined, (e) => {
        assert.match(e.message, /^webhook answer: permissions\.read\.queriesByCollection\.cars\[1\]: /);
        assert.match(e.message, /"_id\.owner = 'u1'"/);
        assert.match(e.message, /line 1, column 11/);
        assert.equal(e.details.query, "_id.owner = 'u1'");
      }),
    );
  });

  test("permissions without write are invalid_permissions", async () => {
    const s = await serve(json(ok({ permissions: { read: manager.read } })));
    await assert.rejects(
      call(s.url, "t"),
      fails("invalid_permissions", undefined, (e) => assert.match(e.message, /^webhook answer: permissions/)),
    );
  });

  test("unreachable port", async () => {
    const port = await closedPort();
    await assert.rejects(
      call(`http://127.0.0.1:${port}/auth`, "t"),
      fails("provider_unavailable", "unreachable", (e) => assert.match(e.message, /ECONNREFUSED/)),
    );
  });
});
