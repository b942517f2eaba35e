/**
 * Three `meshauth start` processes on one PostgreSQL database behind a round-robin (each
 * request goes to the next process), as several replicas behind a load balancer: every
 * limit and every single-use check holds across processes, because their state lives in
 * the database, and a key rotation made through one process reaches the others.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { newDevice, type TestDevice } from "./helpers/client.js";
import { cleanup, engines, tempDir } from "./helpers/engines.js";
import { freePort } from "./helpers/hub.js";
import {
  type FormResponse,
  type HubProcess,
  jwtPayload,
  proofFor,
  sendForm,
  spawnHub,
} from "./helpers/multi.js";

const postgres = engines().find((e) => e.name === "postgres");
if (!postgres) console.log("# round-robin tests skipped: they need PostgreSQL (TEST_DATABASE_URL)");

/** How long a process trusts its cached view of the signing keys (keys/signing-keys.ts), plus slack. */
const KEY_CACHE_BOUND_MS = 45_000;

describe("three hub processes behind a round-robin", { skip: !postgres }, () => {
  const hubs: HubProcess[] = [];
  let turn = 0;
  /** The next process, in turn. */
  const next = () => hubs[turn++ % hubs.length] as HubProcess;
  let app: { id: string; secret: string };
  let admin: Record<string, string>;

  before(async () => {
    if (!postgres) return;
    const { url: databaseUrl } = (await postgres.database()) as { kind: "postgres"; url: string };
    const dataDir = tempDir();
    // One public URL for all three, as behind a load balancer: a proof made for it is
    // valid at every process, so single use must hold across them.
    const ports = [await freePort(), await freePort(), await freePort()];
    const issuer = `http://127.0.0.1:${ports[0]}`;
    const started = await Promise.allSettled(
      ports.map((port) =>
        spawnHub({ port, issuer, dataDir, databaseUrl, env: { MESHAUTH_MODE: "development" } }),
      ),
    );
    for (const s of started) if (s.status === "fulfilled") hubs.push(s.value);
    const failed = started.find((s) => s.status === "rejected");
    if (failed) throw (failed as PromiseRejectedResult).reason;
    admin = {
      authorization: `Bearer ${readFileSync(join(dataDir, "admin-token"), "utf8").trim()}`,
      "content-type": "application/json",
    };
    const created = await fetch(`${next().url}/admin/apps`, {
      method: "POST",
      headers: admin,
      body: JSON.stringify({ name: "round-robin", providers: ["otp", "client"] }),
    });
    assert.equal(created.status, 201, await created.clone().text());
    const { app: made } = (await created.json()) as { app: { id: string } };
    const secret = await fetch(`${next().url}/admin/apps/${made.id}/secrets`, {
      method: "POST",
      headers: admin,
      body: "{}",
    });
    assert.equal(secret.status, 201);
    app = { id: made.id, secret: ((await secret.json()) as { clientSecret: string }).clientSecret };
  });

  after(async () => {
    await Promise.all(hubs.map((h) => h.stop()));
    await cleanup();
  });

  function requestCode(hub: HubProcess, email: string): Promise<FormResponse> {
    return sendForm(hub.url, "/otp", { client_id: app.id, email });
  }

  async function codeAt(hub: HubProcess, email: string): Promise<string> {
    const res = await fetch(`${hub.url}/dev/mailbox.json?to=${encodeURIComponent(email)}`);
    const { messages } = (await res.json()) as { messages: { code?: string }[] };
    const code = messages[0]?.code;
    assert.ok(code, `no code for ${email} in ${hub.url}'s mailbox`);
    return code;
  }

  async function exchange(
    hub: HubProcess,
    device: TestDevice,
    otpId: string,
    otp: string,
  ): Promise<FormResponse> {
    return sendForm(
      hub.url,
      "/token",
      { grant_type: "urn:meshauth:grant-type:otp", client_id: app.id, otp_id: otpId, otp },
      await proofFor(device, `${hub.issuer}/token`),
    );
  }

  async function login(hub: HubProcess, device: TestDevice, sub: string): Promise<FormResponse> {
    const res = await sendForm(hub.url, "/token", {
      grant_type: "client_credentials",
      client_id: app.id,
      client_secret: app.secret,
      sub,
      dpop_jkt: device.jkt,
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res;
  }

  test("a code's wrong attempts count across processes: after 5, even the right code is refused", async () => {
    const email = "guess@example.com";
    const sentBy = next();
    const sent = await requestCode(sentBy, email);
    assert.equal(sent.status, 200, JSON.stringify(sent.body));
    const otpId = String(sent.body.otp_id);
    const right = await codeAt(sentBy, email);
    const wrong = right === "00000000" ? "11111111" : "00000000";
    const device = await newDevice();
    const seen: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await exchange(next(), device, otpId, wrong.slice(0, right.length));
      seen.push(`${res.status} ${String(res.body.error)}`);
    }
    assert.deepEqual(seen, [
      "400 invalid_otp",
      "400 invalid_otp",
      "400 invalid_otp",
      "400 invalid_otp",
      "429 too_many_attempts",
    ]);
    for (const hub of hubs) {
      const res = await exchange(hub, device, otpId, right);
      assert.equal(res.status, 429, `${hub.url}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error, "too_many_attempts");
    }
  });

  test("the send limit per address holds across processes", async () => {
    const email = "limit@example.com";
    const first = await requestCode(next(), email);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    for (let i = 0; i < hubs.length; i++) {
      const again = await requestCode(next(), email);
      assert.equal(again.status, 429, JSON.stringify(again.body));
      assert.equal(again.body.error, "rate_limited");
      assert.ok(Number(again.headers.get("retry-after")) > 0);
    }
  });

  test("a code is single-use across processes", async () => {
    const email = "once@example.com";
    const sentBy = next();
    const sent = await requestCode(sentBy, email);
    const code = await codeAt(sentBy, email);
    const device = await newDevice();
    const ok = await exchange(next(), device, String(sent.body.otp_id), code);
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    const again = await exchange(next(), device, String(sent.body.otp_id), code);
    assert.equal(again.status, 400);
    assert.equal(again.body.error, "invalid_otp");
  });

  test("a DPoP proof used at one process is refused at every other; a nonce from one is taken by the others", async () => {
    const device = await newDevice();
    const loggedIn = await login(next(), device, "rr-proof");
    const issuer = (hubs[0] as HubProcess).issuer;
    const proof = await proofFor(device, `${issuer}/token`);
    const form = {
      grant_type: "refresh_token",
      client_id: app.id,
      refresh_token: String(loggedIn.body.refresh_token),
    };
    const first = await sendForm(next().url, "/token", form, proof);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    const refreshed = { ...form, refresh_token: String(first.body.refresh_token) };
    for (let i = 0; i < hubs.length; i++) {
      const replay = await sendForm(next().url, "/token", refreshed, proof);
      assert.equal(replay.status, 400, JSON.stringify(replay.body));
      assert.equal(replay.body.error, "invalid_dpop_proof");
    }
    // The refused replays left the refresh token alone; a nonce from one process works at the next.
    const nonce = first.headers.get("dpop-nonce");
    assert.ok(nonce);
    const withNonce = await sendForm(
      next().url,
      "/token",
      refreshed,
      await proofFor(device, `${issuer}/token`, nonce),
    );
    assert.equal(withNonce.status, 200, JSON.stringify(withNonce.body));
  });

  test("a key rotation through one process is published and used by every process", async () => {
    const rotatedBy = next();
    // Emergency rotation: the new key signs at once (a normal one waits for cached JWKS to expire).
    const rotated = await fetch(`${rotatedBy.url}/admin/keys/rotate`, {
      method: "POST",
      headers: admin,
      body: '{"immediate":true}',
    });
    assert.equal(rotated.status, 200, await rotated.clone().text());
    const keys = (await (await fetch(`${rotatedBy.url}/admin/keys`, { headers: admin })).json()) as {
      keys: { kid: string; retiredAt: number | null }[];
    };
    const active = keys.keys.find((k) => k.retiredAt === null);
    assert.ok(active, "an active key after the rotation");

    for (const hub of hubs) {
      // Other processes cache the key set for a bounded time; each must get there.
      const deadline = Date.now() + KEY_CACHE_BOUND_MS;
      let kid = "";
      let published = false;
      while (Date.now() < deadline) {
        const jwks = (await (await fetch(`${hub.url}/jwks.json`)).json()) as { keys: { kid: string }[] };
        published = jwks.keys.some((k) => k.kid === active.kid);
        const device = await newDevice();
        const token = await login(hub, device, "rr-rotation");
        const header = JSON.parse(
          Buffer.from(String(token.body.access_token).split(".")[0] ?? "", "base64url").toString("utf8"),
        ) as { kid: string };
        kid = header.kid;
        if (published && kid === active.kid) break;
        await new Promise((r) => setTimeout(r, 1000));
      }
      assert.ok(published, `${hub.url} publishes the new key`);
      assert.equal(kid, active.kid, `${hub.url} signs with the new key`);
      assert.equal(
        jwtPayload(String((await login(hub, await newDevice(), "rr-iss")).body.access_token)).iss,
        hub.issuer,
      );
    }
  });
});
