// meshauth as a Ditto app's identity service: the device trades its session for a
// one-time ticket, hands it to Ditto, and Ditto redeems it at the hub's auth webhook URL.
// The "Ditto" here sends exactly the documented request shapes and signature header.
import assert from "node:assert/strict";
import { createHmac, randomBytes } from "node:crypto";
import { after, describe, test } from "node:test";
import { createDpopProof, generateDeviceKey, jwkThumbprint } from "@meshauth/core";
import { hashSecret } from "../src/crypto/secrets.js";
import { createHub } from "../src/hub.js";
import { post, type TestDevice } from "./helpers/client.js";
import { cleanup, engines } from "./helpers/engines.js";
import { admin, createApp, startTestHub } from "./helpers/hub.js";

after(cleanup);

type TestHub = Awaited<ReturnType<typeof startTestHub>>;

/** Ditto's portal hands out 128 random bytes, base64-encoded. */
const DITTO_SECRET = randomBytes(128).toString("base64");

async function login(hub: TestHub, app: { id: string; playgroundToken?: string }) {
  const keys = await generateDeviceKey();
  const device: TestDevice = { keys, jkt: await jwkThumbprint(keys.publicKey) };
  const res = await post(
    hub.url,
    "/token",
    {
      grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
      client_id: app.id,
      provider: "playground",
      subject_token: String(app.playgroundToken),
      subject_token_type: "urn:ietf:params:oauth:token-type:access_token",
    },
    device,
  );
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return { device, accessToken: String(res.body.access_token), refreshToken: String(res.body.refresh_token) };
}

async function getTicket(hub: TestHub, who: Awaited<ReturnType<typeof login>>): Promise<Response> {
  const dpop = await createDpopProof({
    privateKey: who.device.keys.privateKey,
    publicKey: who.device.keys.publicKey,
    htm: "POST",
    htu: `${hub.url}/ditto/tickets`,
    accessToken: who.accessToken,
  });
  return fetch(`${hub.url}/ditto/tickets`, {
    method: "POST",
    headers: { authorization: `DPoP ${who.accessToken}`, dpop },
  });
}

async function ticketFor(hub: TestHub, who: Awaited<ReturnType<typeof login>>): Promise<string> {
  const res = await getTicket(hub, who);
  assert.equal(res.status, 200);
  const body = (await res.json()) as { ticket: string; expires_in: number };
  assert.equal(body.expires_in, 60);
  assert.ok(Buffer.from(body.ticket.replace(/^mdt_/, ""), "base64url").length >= 16, "at least 128 bits");
  return body.ticket;
}

/** What Ditto's cloud sends to an auth webhook (current or legacy body), signed as Ditto documents. */
async function dittoCalls(
  url: string,
  token: string,
  opts: { legacy?: boolean; secret?: string; timestamp?: number; header?: string } = {},
) {
  const body = JSON.stringify(
    opts.legacy
      ? { appID: "2a5b1c3d-ditto-app", provider: "meshauth", token }
      : { databaseID: "2a5b1c3d-ditto-app", version: "1", provider: "meshauth", token },
  );
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (opts.secret) {
    const t = String(opts.timestamp ?? Math.floor(Date.now() / 1000));
    const hex = createHmac("sha256", Buffer.from(opts.secret, "base64")).update(`${t}.${body}`).digest("hex");
    headers["ditto-signature"] = `t=${t},v1=${hex}`;
  }
  if (opts.header !== undefined) headers["ditto-signature"] = opts.header;
  const res = await fetch(url, { method: "POST", headers, body });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function enable(hub: TestHub, appId: string, webhookSecret?: string) {
  const res = await hub.http.inject({
    method: "PUT",
    url: `/admin/apps/${appId}/ditto-identity-service`,
    headers: admin(hub),
    payload: webhookSecret === undefined ? {} : { webhookSecret },
  });
  assert.equal(res.statusCode, 200, res.body);
  return res.json();
}

for (const engine of engines()) {
  describe(`Ditto identity service (${engine.name})`, () => {
    test("current and legacy requests, unsigned: the session's identity, once per ticket", async () => {
      const hub = await startTestHub(engine);
      try {
        const app = await createApp(hub, { name: "ditto-unsigned" });
        const who = await login(hub, app);
        // Not enabled: no tickets.
        const off = await getTicket(hub, who);
        assert.equal(off.status, 403);
        assert.equal(((await off.json()) as { error: string }).error, "provider_disabled");

        assert.deepEqual(await enable(hub, app.id), { enabled: true, signed: false });
        const webhook = `${hub.url}/apps/${app.id}/ditto/auth`;
        const session = (await hub.store.sessions.findByRefreshHash(hashSecret(who.refreshToken)))?.session;
        assert.ok(session);

        for (const legacy of [false, true]) {
          const ticket = await ticketFor(hub, who);
          const ok = await dittoCalls(webhook, ticket, { legacy });
          assert.equal(ok.status, 200, JSON.stringify(ok.body));
          assert.equal(ok.body.authenticate, true);
          assert.equal(ok.body.authenticated, true);
          assert.equal(ok.body.userID, session.userId);
          assert.deepEqual(ok.body.permissions, session.permissions);
          const exp = Number(ok.body.expirationSeconds);
          assert.ok(exp > 0 && exp <= session.expiresAt - Math.floor(Date.now() / 1000) + 1, String(exp));
          assert.ok(exp > 89 * 86_400, "until the session's absolute end, not the access token's");
          assert.deepEqual(ok.body.identityServiceMetadata, {});
          assert.deepEqual(ok.body.clientInfo, {});

          const again = await dittoCalls(webhook, ticket, { legacy });
          assert.equal(again.status, 401);
          assert.deepEqual(again.body, {
            authenticated: false,
            authenticate: false,
            reason: "ticket already used",
          });
        }

        // Concurrent redemptions of one ticket: exactly one identity.
        const raced = await ticketFor(hub, who);
        const answers = await Promise.all(Array.from({ length: 8 }, () => dittoCalls(webhook, raced)));
        assert.equal(answers.filter((a) => a.body.authenticate === true).length, 1);
        assert.equal(answers.filter((a) => a.body.reason === "ticket already used").length, 7);

        const bogus = await dittoCalls(webhook, `mdt_${randomBytes(32).toString("base64url")}`);
        assert.deepEqual(bogus.body, { authenticated: false, authenticate: false, reason: "unknown ticket" });
        // A ticket is for the app it was made for.
        const other = await createApp(hub, { name: "ditto-other" });
        await enable(hub, other.id);
        const stray = await dittoCalls(`${hub.url}/apps/${other.id}/ditto/auth`, await ticketFor(hub, who));
        assert.equal(stray.body.reason, "unknown ticket");
        // Not Ditto's shape: a clear 400.
        const bad = await fetch(webhook, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ token: "x" }),
        });
        assert.equal(bad.status, 400);
        assert.match(((await bad.json()) as { error_description: string }).error_description, /databaseID/);
      } finally {
        await hub.close();
      }
    });

    test("a configured secret: Ditto's signature accepted, a wrong, missing or stale one refused", async () => {
      const hub = await startTestHub(engine);
      try {
        const app = await createApp(hub, { name: "ditto-signed" });
        assert.deepEqual(await enable(hub, app.id, DITTO_SECRET), { enabled: true, signed: true });
        const who = await login(hub, app);
        const webhook = `${hub.url}/apps/${app.id}/ditto/auth`;
        const ticket = await ticketFor(hub, who);

        const wrongKey = randomBytes(128).toString("base64");
        const refusals: Array<[Parameters<typeof dittoCalls>[2], string]> = [
          [{}, "missing ditto-signature header"],
          [{ secret: wrongKey }, "ditto-signature does not match"],
          // The secret's text instead of its base64-decoded bytes: not Ditto's scheme.
          [
            { header: `t=${Math.floor(Date.now() / 1000)},v1=${"0".repeat(64)}` },
            "ditto-signature does not match",
          ],
          [
            { secret: DITTO_SECRET, timestamp: Math.floor(Date.now() / 1000) - 301 },
            "ditto-signature timestamp outside the allowed window",
          ],
        ];
        for (const [opts, reason] of refusals) {
          const res = await dittoCalls(webhook, ticket, opts);
          assert.equal(res.status, 401);
          assert.deepEqual(res.body, { authenticated: false, authenticate: false, reason });
        }
        // The refused calls did not spend the ticket; a correctly signed one (legacy body too) does.
        const ok = await dittoCalls(webhook, ticket, { secret: DITTO_SECRET, legacy: true });
        assert.equal(ok.status, 200, JSON.stringify(ok.body));
        assert.equal(ok.body.authenticate, true);
        // Rotation: several v1 values, one of them right.
        const body = JSON.stringify({
          databaseID: "x",
          version: "1",
          provider: "meshauth",
          token: await ticketFor(hub, who),
        });
        const t = String(Math.floor(Date.now() / 1000));
        const right = createHmac("sha256", Buffer.from(DITTO_SECRET, "base64"))
          .update(`${t}.${body}`)
          .digest("hex");
        const rotated = await fetch(webhook, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            "ditto-signature": `t=${t},v1=${"ab".repeat(32)},v1=${right}`,
          },
          body,
        });
        assert.equal(rotated.status, 200);
      } finally {
        await hub.close();
      }
    });

    test("an expired ticket (hub clock) and an ended session are refused", async () => {
      const hub = await startTestHub(engine);
      try {
        const app = await createApp(hub, { name: "ditto-ends" });
        await enable(hub, app.id);
        const who = await login(hub, app);
        const webhook = `${hub.url}/apps/${app.id}/ditto/auth`;

        // The same database, a hub whose clock is 61 s ahead.
        const ticket = await ticketFor(hub, who);
        const later = await createHub({ ...hub.config, clockOffsetSeconds: 61 });
        try {
          const res = await later.http.inject({
            method: "POST",
            url: `/apps/${app.id}/ditto/auth`,
            headers: { "content-type": "application/json" },
            payload: JSON.stringify({ databaseID: "d", version: "1", provider: "meshauth", token: ticket }),
          });
          assert.equal(res.statusCode, 401);
          assert.equal(res.json().reason, "ticket expired");
        } finally {
          await later.close();
        }

        // Logout after the ticket was made: Ditto gets no identity from it.
        const pending = await ticketFor(hub, who);
        const out = await post(hub.url, "/revoke", { client_id: app.id, token: who.refreshToken });
        assert.equal(out.status, 200);
        const res = await dittoCalls(webhook, pending);
        assert.equal(res.status, 401);
        assert.deepEqual(res.body, {
          authenticated: false,
          authenticate: false,
          reason: "the session behind this ticket has ended",
        });
        // And the ended session cannot get new tickets.
        assert.equal((await getTicket(hub, who)).status, 401);
      } finally {
        await hub.close();
      }
    });
  });
}
