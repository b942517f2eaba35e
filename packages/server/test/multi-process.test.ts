/**
 * Several `meshauth start` processes on one PostgreSQL database and one data folder
 * (so they share the master key and the admin token), as behind a load balancer.
 *
 * A and B each have their own issuer (their own URL): a DPoP proof names the issuer's
 * URL (`htu`), so a proof made for A is never valid at B, and tokens from A carry
 * `iss` A while tokens from B carry `iss` B. C has A's URL as its issuer, like a second
 * replica behind A's public address, so a proof made for A is valid at C as well: that
 * is where a proof replayed across processes is tested.
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
if (!postgres) {
  console.log(
    "# multi-process tests skipped: they need PostgreSQL; set TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres",
  );
}

describe("several hub processes on one PostgreSQL database", { skip: !postgres }, () => {
  let a: HubProcess;
  let b: HubProcess;
  let c: HubProcess;
  const hubs: HubProcess[] = [];
  let app: { id: string; secret: string };

  before(async () => {
    if (!postgres) return;
    const { url: databaseUrl } = (await postgres.database()) as { kind: "postgres"; url: string };
    const dataDir = tempDir();
    const [portA, portB, portC] = [await freePort(), await freePort(), await freePort()];
    // Started at once on an empty database: migrations and the shared secrets race here.
    const started = await Promise.allSettled([
      spawnHub({ port: portA, dataDir, databaseUrl }),
      spawnHub({ port: portB, dataDir, databaseUrl }),
      spawnHub({ port: portC, issuer: `http://127.0.0.1:${portA}`, dataDir, databaseUrl }),
    ]);
    for (const s of started) if (s.status === "fulfilled") hubs.push(s.value);
    const failed = started.find((s) => s.status === "rejected");
    if (failed) throw (failed as PromiseRejectedResult).reason;
    [a, b, c] = hubs as [HubProcess, HubProcess, HubProcess];

    const adminToken = readFileSync(join(dataDir, "admin-token"), "utf8").trim();
    const auth = { authorization: `Bearer ${adminToken}`, "content-type": "application/json" };
    const created = await fetch(`${a.url}/admin/apps`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ name: "multi", providers: ["client"] }),
    });
    assert.equal(created.status, 201, await created.clone().text());
    const { app: made } = (await created.json()) as { app: { id: string } };
    // The secret is made through B: every process sees what another wrote.
    const secret = await fetch(`${b.url}/admin/apps/${made.id}/secrets`, {
      method: "POST",
      headers: auth,
      body: "{}",
    });
    assert.equal(secret.status, 201, await secret.clone().text());
    app = { id: made.id, secret: ((await secret.json()) as { clientSecret: string }).clientSecret };
  });

  after(async () => {
    await Promise.all(hubs.map((h) => h.stop()));
    await cleanup();
  });

  /** The custom-auth grant at `hub`: the app's backend vouches for `sub` and names the device key. */
  async function login(hub: HubProcess, device: TestDevice, sub = "u1"): Promise<FormResponse> {
    const res = await sendForm(hub.url, "/token", {
      grant_type: "client_credentials",
      client_id: app.id,
      client_secret: app.secret,
      sub,
      dpop_jkt: device.jkt,
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(typeof res.body.refresh_token, "string");
    return res;
  }

  /** A refresh_token grant at `hub` with exactly the proof given. */
  function refresh(hub: HubProcess, refreshToken: string, proof: string): Promise<FormResponse> {
    return sendForm(
      hub.url,
      "/token",
      { grant_type: "refresh_token", client_id: app.id, refresh_token: refreshToken },
      proof,
    );
  }

  const okOrError = (r: FormResponse) => (r.status === 200 ? "200" : `${r.status} ${String(r.body.error)}`);

  test("a DPoP nonce issued by A is accepted in a proof sent to B", async () => {
    const device = await newDevice();
    const loggedIn = await login(a, device);
    const nonceFromA = loggedIn.headers.get("dpop-nonce");
    assert.ok(nonceFromA, "A sends a DPoP-Nonce with every answer");

    // B does check nonces: one it cannot verify is refused, and the refresh token is untouched.
    const forged = `${nonceFromA.slice(0, 10)}${nonceFromA[10] === "A" ? "B" : "A"}${nonceFromA.slice(11)}`;
    const refused = await refresh(
      b,
      loggedIn.body.refresh_token as string,
      await proofFor(device, `${b.issuer}/token`, forged),
    );
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error, "use_dpop_nonce");

    const res = await refresh(
      b,
      loggedIn.body.refresh_token as string,
      await proofFor(device, `${b.issuer}/token`, nonceFromA),
    );
    assert.equal(res.status, 200, JSON.stringify(res.body));
    // Each process signs with its own issuer.
    assert.equal(jwtPayload(loggedIn.body.access_token as string).iss, a.issuer);
    assert.equal(jwtPayload(res.body.access_token as string).iss, b.issuer);

    // And the other way round: B's nonce at A.
    const nonceFromB = res.headers.get("dpop-nonce");
    assert.ok(nonceFromB);
    const back = await refresh(
      a,
      res.body.refresh_token as string,
      await proofFor(device, `${a.issuer}/token`, nonceFromB),
    );
    assert.equal(back.status, 200, JSON.stringify(back.body));
  });

  test("rotation at B, then replay of the old token at A ends the session everywhere", async () => {
    const device = await newDevice();
    const first = (await login(a, device)).body.refresh_token as string;

    const rotated = await refresh(b, first, await proofFor(device, `${b.issuer}/token`));
    assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
    const second = rotated.body.refresh_token as string;
    assert.notEqual(second, first);

    const again = await refresh(b, second, await proofFor(device, `${b.issuer}/token`));
    assert.equal(again.status, 200, JSON.stringify(again.body));
    const newest = again.body.refresh_token as string;

    // Reuse of a rotated token at the other process: reuse detection revokes the session.
    const replay = await refresh(a, first, await proofFor(device, `${a.issuer}/token`));
    assert.equal(replay.status, 400);
    assert.equal(replay.body.meshauth_error, "session_revoked");

    const afterwards = await refresh(b, newest, await proofFor(device, `${b.issuer}/token`));
    assert.equal(afterwards.status, 400);
    assert.equal(afterwards.body.meshauth_error, "session_revoked");
    const atA = await refresh(a, newest, await proofFor(device, `${a.issuer}/token`));
    assert.equal(atA.body.meshauth_error, "session_revoked");
  });

  test("the same proof sent twice to B at once: exactly one is served", async () => {
    const device = await newDevice();
    const token = (await login(a, device)).body.refresh_token as string;
    const proof = await proofFor(device, `${b.issuer}/token`);
    const results = await Promise.all([refresh(b, token, proof), refresh(b, token, proof)]);
    const ok = results.filter((r) => r.status === 200);
    assert.equal(ok.length, 1, results.map(okOrError).join(", "));
    const refused = results.find((r) => r.status !== 200)!;
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error, "invalid_dpop_proof");
    // The replayed proof was stopped before the refresh token was looked at: the session lives on.
    const next = await refresh(
      a,
      ok[0]!.body.refresh_token as string,
      await proofFor(device, `${a.issuer}/token`),
    );
    assert.equal(next.status, 200, JSON.stringify(next.body));
  });

  test("a proof used at A is refused at C (another process behind the same URL)", async () => {
    const device = await newDevice();
    const token = (await login(a, device)).body.refresh_token as string;
    const proof = await proofFor(device, `${a.issuer}/token`);
    const first = await refresh(a, token, proof);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    // A fresh refresh token, so only the proof can be the reason for a refusal.
    const replayed = await refresh(c, first.body.refresh_token as string, proof);
    assert.equal(replayed.status, 400);
    assert.equal(replayed.body.error, "invalid_dpop_proof");
    assert.match(String(replayed.body.error_description), /already used/);
    // C serves the same token with a proof of its own.
    const own = await refresh(
      c,
      first.body.refresh_token as string,
      await proofFor(device, `${c.issuer}/token`),
    );
    assert.equal(own.status, 200, JSON.stringify(own.body));
    assert.equal(jwtPayload(own.body.access_token as string).iss, a.issuer);
  });

  test("the same proof sent to A and C at once: exactly one is served", async () => {
    for (let round = 0; round < 5; round++) {
      const device = await newDevice();
      const token = (await login(a, device)).body.refresh_token as string;
      const proof = await proofFor(device, `${a.issuer}/token`);
      const results = await Promise.all([refresh(a, token, proof), refresh(c, token, proof)]);
      assert.equal(results.filter((r) => r.status === 200).length, 1, results.map(okOrError).join(", "));
      const refused = results.find((r) => r.status !== 200)!;
      assert.equal(refused.body.error, "invalid_dpop_proof");
    }
  });

  test("one refresh token at A and at B at once, each with its own proof: one rotation wins", async (t) => {
    const outcomes: string[] = [];
    for (let round = 0; round < 8; round++) {
      const device = await newDevice();
      const token = (await login(a, device)).body.refresh_token as string;
      const [proofA, proofB] = [
        await proofFor(device, `${a.issuer}/token`),
        await proofFor(device, `${b.issuer}/token`),
      ];
      const results = await Promise.all([refresh(a, token, proofA), refresh(b, token, proofB)]);
      const ok = results.filter((r) => r.status === 200);
      const summary = results.map(okOrError).join(", ");
      const loser = results.find((r) => r.status !== 200);
      if (loser) {
        assert.equal(ok.length, 1, summary);
        assert.equal(loser.status, 400);
        // invalid_grant: it lost the atomic update and the session lives on.
        // session_revoked: it read the token after the winner had marked it used and
        // could not take the lost-answer grace (reuse detection).
        assert.ok(
          loser.body.error === "invalid_grant" || loser.body.meshauth_error === "session_revoked",
          JSON.stringify(loser.body),
        );
      } else {
        // The later one read the token after the winner had rotated it and was taken for a
        // retry after a lost answer: it superseded the winner's new token and got its own.
        assert.equal(ok.length, 2, summary);
      }
      outcomes.push(loser ? String(loser.body.error) : "grace");
      // The session's current token: the only one introspection calls active.
      const active: string[] = [];
      for (const r of ok) {
        const intro = await sendForm(b.url, "/introspect", {
          client_id: app.id,
          client_secret: app.secret,
          token: r.body.refresh_token as string,
        });
        if (intro.body.active === true) active.push(r.body.refresh_token as string);
      }
      if (loser?.body.meshauth_error === "session_revoked") {
        assert.deepEqual(active, []);
        const next = await refresh(
          b,
          ok[0]!.body.refresh_token as string,
          await proofFor(device, `${b.issuer}/token`),
        );
        assert.equal(next.body.meshauth_error, "session_revoked");
      } else {
        assert.equal(active.length, 1, summary);
        const next = await refresh(b, active[0]!, await proofFor(device, `${b.issuer}/token`));
        assert.equal(next.status, 200, JSON.stringify(next.body));
      }
    }
    t.diagnostic(`losers: ${outcomes.join(", ")}`);
  });

  test("every process exits cleanly on SIGTERM", async () => {
    const exits = await Promise.all(hubs.map((h) => h.stop()));
    for (const [i, exit] of exits.entries()) {
      assert.deepEqual(exit, { code: 0, signal: null }, hubs[i]?.output());
    }
  });
});
