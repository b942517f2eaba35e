// The SDK in Node against a real hub and a real SMTP server, keys and tokens in a
// directory: the flows an app developer relies on, as a user of the API sees them.
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { createDpopProof, generateDpopKeyPair } from "@meshauth/core";
import { tempDir } from "../../server/test/helpers/engines.js";
import { deviceCertificates } from "../src/certificates.js";
import {
  type CurrentUser,
  createClient,
  isAbortError,
  type MeshauthClient,
  MeshauthClientError,
  resolveText,
} from "../src/node.js";
import { type SdkTestHub, startSdkHub } from "./helpers/hub.js";
import { nextInteraction } from "./helpers/interact.js";
import { startResourceServer } from "./helpers/resource-server.js";

let t: SdkTestHub;
let counter = 0;
const clients: MeshauthClient[] = [];

before(async () => {
  t = await startSdkHub();
});
after(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await t.close();
});

function newClient(
  dir = tempDir("meshauth-client-"),
  extra: Partial<Parameters<typeof createClient>[0]> = {},
) {
  const client = createClient({ hub: t.hub.url, appId: t.app.id, dir, customLoginGui: true, ...extra });
  clients.push(client);
  return Object.assign(client, { dir });
}

const freshEmail = () => `person${++counter}@example.com`;

/** The whole email login, answered through userInteraction like a custom dialog. */
async function emailLogin(client: MeshauthClient, email = freshEmail()): Promise<CurrentUser> {
  const done = client.login();
  const ask = await nextInteraction(client, "email");
  assert.equal(ask.fields["email"]?.type, "email");
  ask.onSubmit({ email });
  const otp = await nextInteraction(client, "otp");
  assert.equal(otp.alerts[0]?.messageCode, "OTP_SENT");
  assert.equal(otp.alerts[0]?.messageParams["email"], email);
  otp.onSubmit({ otp: await t.codeFor(email) });
  return done;
}

function storedRefreshToken(dir: string): string {
  return (JSON.parse(readFileSync(`${dir}/session.json`, "utf8")) as { refreshToken: string }).refreshToken;
}

describe("email login", () => {
  test("logs in through userInteraction and stays logged in across a restart", async () => {
    const client = newClient();
    const required: string[] = [];
    client.on("authenticationRequired", (e) => required.push(e.code));
    assert.equal((await client.ready()).isLoggedIn, false);
    assert.deepEqual(required, ["not_logged_in"], "told at startup that nobody is logged in");
    const email = freshEmail();
    const user = await emailLogin(client, email);
    assert.equal(user.isLoggedIn, true);
    assert.equal(user.email, email);
    assert.equal(user.provider, "otp");
    assert.deepEqual(user.permissions.read.queriesByCollection, { notes: ["_id.owner == 'me'"] });
    assert.ok(user.sessionExpiresAt && user.sessionExpiresAt.getTime() > Date.now() + 86_400_000);
    assert.equal(client.userInteraction.value, undefined, "the dialog is gone after login");
    assert.equal(client.currentUser.value, user);

    // A restart: a new client over the same directory is logged in without asking anything.
    const again = newClient(client.dir);
    again.on("authenticationRequired", (e) => required.push(e.code));
    const restored = await again.ready();
    assert.equal(required.length, 1, "a restored session needs no login");
    assert.equal(restored.isLoggedIn, true);
    assert.equal(restored.userId, user.userId);
    assert.equal(await again.deviceKeyThumbprint(), await client.deviceKeyThumbprint());
    await again.refresh();
    assert.equal(again.currentUser.value.status, "active");
  });

  test("keeps the key and session files private (0600 in a 0700 directory)", async () => {
    const client = newClient();
    await emailLogin(client);
    assert.equal(statSync(client.dir).mode & 0o777, 0o700);
    for (const name of ["device-key.pem", "session.json"]) {
      assert.equal(statSync(`${client.dir}/${name}`).mode & 0o777, 0o600, name);
    }
  });

  test("a wrong code shows INVALID_OTP and the right one still works", async () => {
    const client = newClient();
    const email = freshEmail();
    const done = client.login({ email });
    const otp = await nextInteraction(client, "otp");
    otp.onSubmit({ otp: "00000000" });
    const retry = await nextInteraction(client, "otp");
    assert.equal(retry.alerts[0]?.messageCode, "INVALID_OTP");
    assert.equal(retry.alerts[0]?.type, "error");
    retry.onSubmit({ otp: await t.codeFor(email) });
    assert.equal((await done).email, email);
  });

  test("a malformed address is caught with INVALID_EMAIL and asked again", async () => {
    const client = newClient();
    const done = client.login();
    (await nextInteraction(client, "email")).onSubmit({ email: "not-an-address" });
    const again = await nextInteraction(client, "email");
    assert.equal(again.alerts[0]?.messageCode, "INVALID_EMAIL");
    assert.equal(again.fields["email"]?.value, "not-an-address");
    again.onCancel();
    await assert.rejects(done, (e: Error) => isAbortError(e));
  });

  test("cancelling rejects login() with an AbortError and stores no session", async () => {
    const client = newClient();
    const done = client.login();
    const ask = await nextInteraction(client, "email");
    ask.onSubmit({ email: freshEmail() });
    const otp = await nextInteraction(client, "otp");
    otp.onCancel();
    await assert.rejects(done, (e: MeshauthClientError) => e.name === "AbortError" && e.code === "aborted");
    assert.equal(client.currentUser.value.isLoggedIn, false);
    assert.equal(client.userInteraction.value, undefined);
    assert.ok(!readdirSync(client.dir).includes("session.json"));
    // A late answer to the cancelled dialog changes nothing.
    otp.onSubmit({ otp: "12345678" });
    assert.equal(client.currentUser.value.isLoggedIn, false);
  });

  test("without a custom dialog, Node refuses interactive login with a clear error", async () => {
    const client = newClient(undefined, { customLoginGui: false });
    await assert.rejects(
      client.login(),
      (e: MeshauthClientError) => e.code === "no_dialog" && /customLoginGui/.test(e.message),
    );
  });
});

describe("sessions", () => {
  test("refresh() rotates the refresh token and picks up changed permissions", async () => {
    const client = newClient();
    const before = await emailLogin(client);
    const oldRefresh = storedRefreshToken(client.dir);
    const changed = {
      read: { everything: false, queriesByCollection: { notes: ["_id.owner == 'me'"], tags: ["true"] } },
      write: { everything: false, queriesByCollection: { notes: ["_id.owner == 'me'"] } },
    };
    assert.equal((await t.admin("PATCH", `/apps/${t.app.id}`, { defaultPermissions: changed })).status, 200);
    const after = await client.refresh();
    assert.deepEqual(after.permissions, changed);
    assert.notEqual(storedRefreshToken(client.dir), oldRefresh);
    assert.equal(after.userId, before.userId);
    assert.equal(await t.isActive(oldRefresh), false, "the rotated token is spent");
    await t.admin("PATCH", `/apps/${t.app.id}`, {
      defaultPermissions: {
        read: { everything: false, queriesByCollection: { notes: ["_id.owner == 'me'"] } },
        write: { everything: false, queriesByCollection: {} },
      },
    });
  });

  test("two processes refreshing at the same moment keep one valid session", async () => {
    const first = newClient();
    await emailLogin(first);
    const second = newClient(first.dir);
    await second.ready();
    for (let round = 0; round < 3; round++) {
      const results = await Promise.allSettled([first.refresh(), second.refresh()]);
      assert.deepEqual(
        results.map((r) => r.status),
        ["fulfilled", "fulfilled"],
        JSON.stringify(results.map((r) => (r.status === "rejected" ? String(r.reason) : "ok"))),
      );
    }
    assert.equal(await t.isActive(storedRefreshToken(first.dir)), true);
    assert.equal(first.currentUser.value.isLoggedIn, true);
  });

  test("a refresh token copied out of the store is refused from another key", async () => {
    const client = newClient();
    await emailLogin(client);
    const stolen = storedRefreshToken(client.dir);
    const thief = await generateDpopKeyPair();
    const tokenUrl = `${t.hub.url}/token`;
    const proof = await createDpopProof({
      privateKey: thief.privateKey,
      publicKey: thief.publicKey,
      htm: "POST",
      htu: tokenUrl,
    });
    const res = await fetch(tokenUrl, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", dpop: proof },
      body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: stolen, client_id: t.app.id }),
    });
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as { error: string }).error, "invalid_grant");
    // The owner is not affected.
    assert.equal((await client.refresh()).isLoggedIn, true);
  });

  test("logout() revokes the session on the hub and forgets it locally", async () => {
    const client = newClient();
    await emailLogin(client);
    const token = storedRefreshToken(client.dir);
    const thumbprint = await client.deviceKeyThumbprint();
    const result = await client.logout();
    assert.deepEqual(result, { revokedOnHub: true, pending: false });
    assert.equal(await t.isActive(token), false);
    assert.equal(client.currentUser.value.isLoggedIn, false);
    assert.ok(!readdirSync(client.dir).includes("session.json"));
    assert.equal(await client.deviceKeyThumbprint(), thumbprint, "the device key stays by default");
    await assert.rejects(client.getAccessToken(), (e: MeshauthClientError) => e.code === "not_logged_in");
  });

  test("logout({clearLocalData}) asks to confirm unsynced changes, clears app data and replaces the key", async () => {
    let cleared = 0;
    const client = newClient(undefined, { unsyncedChanges: () => 3, clearLocalData: () => void cleared++ });
    await emailLogin(client);
    const thumbprint = await client.deviceKeyThumbprint();

    const cancelled = client.logout();
    const confirm = await nextInteraction(client, "logout-confirmation");
    assert.equal(confirm.unsyncedChanges, 3);
    assert.equal(confirm.alerts[0]?.messageCode, "UNSYNCED_CHANGES");
    confirm.onCancel();
    await assert.rejects(cancelled, (e: Error) => isAbortError(e));
    assert.equal(client.currentUser.value.isLoggedIn, true, "cancel keeps the session");

    const done = client.logout({ clearLocalData: true });
    (await nextInteraction(client, "logout-confirmation")).onSubmit({});
    assert.equal((await done).revokedOnHub, true);
    assert.equal(cleared, 1);
    assert.notEqual(await client.deviceKeyThumbprint(), thumbprint);
  });

  test("logout while the hub is unreachable is reported and retried when it is back", async () => {
    let offline = false;
    const client = newClient(undefined, {
      fetch: (input, init) => (offline ? Promise.reject(new TypeError("fetch failed")) : fetch(input, init)),
    });
    await emailLogin(client);
    const token = storedRefreshToken(client.dir);
    offline = true;
    assert.deepEqual(await client.logout(), { revokedOnHub: false, pending: true });
    assert.equal(client.currentUser.value.isLoggedIn, false);
    assert.equal(await t.isActive(token), true, "not revoked yet");
    offline = false;
    const next = newClient(client.dir);
    await next.ready();
    for (let i = 0; i < 50 && (await t.isActive(token)); i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(await t.isActive(token), false, "revoked on the next start");
  });

  test("offline: refresh fails softly, the user stays logged in, and it recovers", async () => {
    let offline = false;
    const errors: string[] = [];
    const client = newClient(undefined, {
      fetch: (input, init) => (offline ? Promise.reject(new TypeError("fetch failed")) : fetch(input, init)),
    });
    client.on("error", (e) => errors.push(e.code));
    await emailLogin(client);
    offline = true;
    await assert.rejects(client.refresh(), (e: MeshauthClientError) => e.code === "network_error");
    assert.equal(client.currentUser.value.isLoggedIn, true, "local data stays reachable");
    assert.equal(client.currentUser.value.status, "offline");
    offline = false;
    assert.equal((await client.refresh()).status, "active");
  });

  test("a refresh whose answer was lost is retried without losing the session", async () => {
    let dropNextTokenAnswer = false;
    const client = newClient(undefined, {
      fetch: async (input, init) => {
        const res = await fetch(input, init);
        const url = input instanceof Request ? input.url : String(input);
        if (dropNextTokenAnswer && url.endsWith("/token")) {
          dropNextTokenAnswer = false;
          throw new TypeError("connection reset"); // the hub rotated; the answer never arrived
        }
        return res;
      },
    });
    await emailLogin(client);
    dropNextTokenAnswer = true;
    await assert.rejects(client.refresh(), (e: MeshauthClientError) => e.code === "network_error");
    const user = await client.refresh();
    assert.equal(user.isLoggedIn, true);
    assert.equal(user.status, "active");
    assert.equal(await t.isActive(storedRefreshToken(client.dir)), true);
  });

  test("a session revoked on the hub raises authenticationRequired and logs out", async () => {
    const client = newClient();
    const user = await emailLogin(client);
    const reasons: string[] = [];
    client.on("authenticationRequired", (e) => reasons.push(e.code));
    const revoked = await t.admin(
      "DELETE",
      `/apps/${t.app.id}/users/${encodeURIComponent(user.userId!)}/sessions`,
    );
    assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
    await assert.rejects(client.refresh());
    assert.equal(reasons.length, 1);
    assert.equal(client.currentUser.value.isLoggedIn, false);
  });

  test("authenticationExpiringSoon says how many seconds the session has left", async () => {
    const client = newClient(undefined, { expiringSoonSeconds: 10 * 365 * 86_400 });
    const remaining: number[] = [];
    client.on("authenticationExpiringSoon", (s) => remaining.push(s));
    const user = await emailLogin(client);
    for (let i = 0; i < 50 && remaining.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(remaining.length, 1);
    const expected = Math.round((user.sessionExpiresAt!.getTime() - Date.now()) / 1000);
    assert.ok(Math.abs(remaining[0]! - expected) < 5, `${remaining[0]} vs ${expected}`);
    await client.refresh();
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(remaining.length, 1, "a refresh does not repeat it: the session end is the same");
  });

  test("a clock far off is corrected from the hub's clock_skew answer", async () => {
    const skewed = await startSdkHub({ hub: { clockOffsetSeconds: 3600 } });
    try {
      const client = createClient({
        hub: skewed.hub.url,
        appId: skewed.app.id,
        dir: tempDir(),
        customLoginGui: true,
      });
      clients.push(client);
      const user = await client.login(skewed.app.playgroundToken!, "playground");
      assert.equal(user.provider, "playground");
      await client.refresh();
      assert.equal(client.currentUser.value.status, "active");
    } finally {
      await skewed.close();
    }
  });
});

describe("other providers", () => {
  test("login(token, 'playground') gives full access", async () => {
    const client = newClient();
    const user = await client.login(t.app.playgroundToken!, "playground");
    assert.equal(user.provider, "playground");
    assert.equal(user.permissions.read.everything, true);
  });

  test("a wrong playground token is a typed error, nothing stored", async () => {
    const client = newClient();
    await assert.rejects(
      client.login("wrong-token", "playground"),
      (e: MeshauthClientError) => e instanceof MeshauthClientError && e.code === "provider_rejected",
    );
    assert.equal(client.currentUser.value.isLoggedIn, false);
  });

  test("the app backend flow: multi-step prompt, tokens bound to the device key, combined with email", async () => {
    const seenJkts: string[] = [];
    const client = newClient(undefined, {
      loginMethods: [
        { type: "email" },
        {
          type: "backend",
          id: "corp",
          displayName: "Company account",
          async fetchTokens({ jkt, prompt }) {
            seenJkts.push(jkt);
            const step1 = await prompt({
              title: "Company login",
              fields: { user: { type: "text", label: "User" } },
            });
            const step2 = await prompt({
              title: "Second factor",
              fields: { pin: { type: "password", label: "PIN" } },
            });
            if (step2["pin"] !== "4242") throw new Error("wrong pin");
            // What the app's backend does with its client secret (the custom-auth grant).
            return t.customAuth({ sub: `corp|${step1["user"]}`, name: String(step1["user"]), dpop_jkt: jkt });
          },
        },
      ],
    });
    const done = client.login();
    const picker = await nextInteraction(client, "provider");
    assert.deepEqual(
      picker.options.map((o) => o.value),
      ["email", "corp"],
    );
    picker.onSubmit({ method: "corp" });
    (await nextInteraction(client, "generic")).onSubmit({ user: "ada" });
    const second = await nextInteraction(client, "generic");
    assert.equal(second.fields["pin"]?.type, "password");
    second.onSubmit({ pin: "4242" });
    const user = await done;
    assert.equal(user.userId, "corp|ada");
    assert.equal(user.name, "ada");
    assert.deepEqual(seenJkts, [await client.deviceKeyThumbprint()]);
    // The session refreshes from the device, with its own key, like any other.
    assert.equal((await client.refresh()).userId, "corp|ada");
  });

  test("a backend answer bound to another key is refused with a clear error", async () => {
    const other = await generateDpopKeyPair();
    const { jwkThumbprint } = await import("@meshauth/core");
    const client = newClient(undefined, {
      async fetchTokens() {
        return t.customAuth({ sub: "someone", dpop_jkt: await jwkThumbprint(other.publicKey) });
      },
    });
    const done = client.login();
    const alert = await nextInteraction(client, "message-alert");
    assert.match(resolveText(alert.alerts[0]!), /not bound to this device's key/);
    alert.onSubmit({});
    await assert.rejects(done, (e: MeshauthClientError) => e.code === "invalid_response");
    assert.equal(client.currentUser.value.isLoggedIn, false);
  });
});

describe("wrong codes", () => {
  test("each wrong code says how many attempts are left; after the last, a new code reads as a wait", async () => {
    const client = newClient();
    const email = freshEmail();
    const done = client.login();
    (await nextInteraction(client, "email")).onSubmit({ email });
    const code = await t.codeFor(email);
    const wrong = code === "00000000" ? "11111111" : "00000000";
    const texts: string[] = [];
    for (let i = 0; i < 4; i++) {
      const otp = await nextInteraction(client, "otp");
      if (i > 0) texts.push(resolveText(otp.alerts[0]!));
      otp.onSubmit({ otp: wrong });
    }
    const last = await nextInteraction(client, "otp");
    texts.push(resolveText(last.alerts[0]!));
    assert.deepEqual(texts, [
      "That code is not right. Check the email and try again: 4 attempts left.",
      "That code is not right. Check the email and try again: 3 attempts left.",
      "That code is not right. Check the email and try again: 2 attempts left.",
      "That code is not right. Check the email and try again: 1 attempt left.",
    ]);
    assert.equal(last.alerts[0]?.messageParams["attempts_left"], "1");
    last.onSubmit({ otp: wrong });

    const back = await nextInteraction(client, "email");
    assert.equal(resolveText(back.alerts[0]!), "Too many wrong codes. Send yourself a new one.");
    assert.equal(back.submitLabel, "Send a new code");
    assert.equal(back.fields["email"]?.value, email, "the address is kept");
    back.onSubmit({ email });
    // Within the hub's 30 s between two codes to one address: a wait, not another failure.
    const wait = await nextInteraction(client, "email");
    assert.equal(wait.alerts[0]?.type, "warning");
    assert.equal(wait.alerts[0]?.messageCode, "RATE_LIMITED");
    assert.match(resolveText(wait.alerts[0]!), /^You can ask for a new code in \d+ seconds\.$/);
    assert.equal(wait.submitLabel, "Send a new code");
    wait.onCancel();
    await assert.rejects(done, (e: Error) => isAbortError(e));
  });
});

describe("currentUser while the stored session is read", () => {
  test("starts as loading, then becomes the stored user without passing through anonymous", async () => {
    const first = newClient();
    assert.equal(first.currentUser.value.status, "loading");
    assert.equal(first.currentUser.value.isLoggedIn, false);
    assert.equal((await first.ready()).status, "anonymous", "nobody stored: anonymous once read");
    await emailLogin(first);
    await first.close();

    const reloaded = newClient(first.dir);
    const seen: string[] = [];
    reloaded.currentUser.subscribe((u) => seen.push(u.status));
    await reloaded.ready();
    assert.deepEqual(seen, ["loading", "active"], "a logged-in user is never shown as logged out");
  });
});

describe("calling the app's API", () => {
  test("client.fetch sends a DPoP-bound token and answers the API's nonce challenge", async () => {
    const api = await startResourceServer(t.hub.url, t.app.id);
    try {
      const client = newClient(undefined, { apiOrigins: [api.url] });
      const user = await emailLogin(client);
      const res = await client.fetch(`${api.url}/notes?x=1`);
      assert.equal(res.status, 200);
      const body = (await res.json()) as { sub: string; jkt: string };
      assert.equal(body.sub, user.userId);
      assert.equal(body.jkt, await client.deviceKeyThumbprint());
      assert.deepEqual(
        api.log.map((l) => l.status),
        [401, 200],
        "one nonce challenge, one retry",
      );
      // The next call reuses the nonce: no challenge.
      assert.equal((await client.fetch(`${api.url}/notes`, { method: "POST", body: "{}" })).status, 200);
      assert.equal(api.log.length, 3);
    } finally {
      await api.close();
    }
  });
});

describe("calling other origins", () => {
  test("client.fetch refuses to send the token to an origin not in apiOrigins", async () => {
    const api = await startResourceServer(t.hub.url, t.app.id);
    try {
      const client = newClient();
      await emailLogin(client);
      await assert.rejects(
        client.fetch(`${api.url}/notes`),
        (e: MeshauthClientError) => e.code === "invalid_request" && e.message.includes("apiOrigins"),
      );
      assert.equal(api.log.length, 0, "nothing was sent");
    } finally {
      await api.close();
    }
  });

  test("an API that always answers invalid_token costs one refresh, not one per call", async () => {
    const { createServer } = await import("node:http");
    const api = createServer((_req, res) => {
      res.writeHead(401, { "www-authenticate": 'DPoP error="invalid_token"' }).end();
    });
    await new Promise<void>((r) => api.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(api.address() as { port: number }).port}`;
    try {
      const client = newClient(undefined, { apiOrigins: [url] });
      await emailLogin(client);
      const first = storedRefreshToken(client.dir);
      assert.equal((await client.fetch(`${url}/x`)).status, 401);
      const second = storedRefreshToken(client.dir);
      assert.notEqual(second, first, "one refresh, in case the token had expired by the API's clock");
      for (let i = 0; i < 3; i++) assert.equal((await client.fetch(`${url}/x`)).status, 401);
      assert.equal(storedRefreshToken(client.dir), second, "no further rotations");
    } finally {
      await new Promise((r) => api.close(r));
    }
  });
});

describe("races and cancels", () => {
  test("logout during a refresh leaves the client logged out", async () => {
    for (let round = 0; round < 5; round++) {
      const client = newClient();
      await emailLogin(client);
      const [, out] = await Promise.allSettled([client.refresh(), client.logout({ force: true })]);
      assert.equal(out.status, "fulfilled");
      assert.equal(client.currentUser.value.isLoggedIn, false, `round ${round}`);
      await assert.rejects(client.getAccessToken(), (e: MeshauthClientError) => e.code === "not_logged_in");
    }
  });

  test("close() during an open login dialog rejects login() with an AbortError", async () => {
    const client = newClient();
    const done = client.login();
    await nextInteraction(client, "email");
    await client.close();
    await assert.rejects(done, (e: MeshauthClientError) => e.code === "aborted");
  });

  test("an AbortSignal during a network step rejects with code aborted", async () => {
    const client = newClient();
    const controller = new AbortController();
    const done = client.login({ signal: controller.signal, email: freshEmail() });
    await nextInteraction(client, "otp");
    controller.abort("the app changed its mind");
    await assert.rejects(done, (e: MeshauthClientError) => e.name === "AbortError" && e.code === "aborted");
    // A new login is not stuck behind the old one.
    const again = client.login();
    (await nextInteraction(client, "email")).onCancel();
    await assert.rejects(again, (e: Error) => isAbortError(e));
  });

  test("refresh() when logged out says so", async () => {
    const client = newClient();
    await assert.rejects(client.refresh(), (e: MeshauthClientError) => e.code === "not_logged_in");
  });
});

describe("device certificates", () => {
  test("CSR mode: the certificate names this device's key, is stored, and renews", async () => {
    const client = newClient();
    const user = await emailLogin(client);
    const certs = deviceCertificates(client);
    const cert = await certs.get();
    assert.equal(cert.identity.peerKey, await client.deviceKeyThumbprint());
    assert.equal(cert.identity.userId, user.userId);
    assert.match(cert.certificate, /^-----BEGIN CERTIFICATE-----/);
    assert.match(cert.privateKeyPem ?? "", /^-----BEGIN PRIVATE KEY-----/);
    assert.equal(cert.caCertificates.length, 1);
    assert.equal((await certs.get()).certificate, cert.certificate, "a valid stored certificate is reused");
    const renewed = await certs.renew();
    assert.notEqual(renewed.certificate, cert.certificate);
    assert.equal(certs.current.value?.certificate, renewed.certificate);
    await client.logout();
    assert.equal(certs.current.value, undefined, "a logged-out device stops presenting the certificate");
    certs.stop();
  });

  test("asking without a session is a typed error", async () => {
    const client = newClient();
    await assert.rejects(
      deviceCertificates(client).get(),
      (e: MeshauthClientError) => e.code === "not_logged_in",
    );
  });
});

describe("a damaged store", () => {
  test("a corrupted session file: a clear error, login repairs it, nothing else lost", async () => {
    const client = newClient();
    await emailLogin(client);
    const thumbprint = await client.deviceKeyThumbprint();
    await client.close();
    writeFileSync(`${client.dir}/session.json`, "{ this is not json", { mode: 0o600 });

    const next = newClient(client.dir);
    await assert.rejects(
      next.ready(),
      (e: MeshauthClientError) => e.code === "store_corrupted" && e.message.includes("session.json"),
    );
    assert.equal(next.currentUser.value.isLoggedIn, false);
    const user = await emailLogin(next);
    assert.equal(user.isLoggedIn, true);
    assert.equal(await next.deviceKeyThumbprint(), thumbprint, "the device key survived");
    const kept = readdirSync(client.dir).filter((n) => n.startsWith("session.json.corrupt-"));
    assert.equal(kept.length, 1);
    assert.equal(readFileSync(`${client.dir}/${kept[0]}`, "utf8"), "{ this is not json");
  });

  test("createClient names a bad option", () => {
    assert.throws(() => createClient({ hub: "not a url", appId: "x" }), /hub must be the hub's URL/);
    assert.throws(() => createClient({ hub: "http://localhost:1", appId: "" }), /appId/);
  });
});
