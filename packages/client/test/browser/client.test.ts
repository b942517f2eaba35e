// The SDK in a real Chromium against a real hub and a real SMTP server: a small app
// page (fixtures/client-page.ts) driven by typing and clicking, checked by what a
// person sees and by what the hub says about the tokens the page holds.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createDpopProof, generateDpopKeyPair } from "@meshauth/core";
import type { BrowserContext, Page } from "playwright-core";
import type { StoredSession } from "../../src/index.js";
import { startResourceServer } from "../helpers/resource-server.js";
import type { ClientPage } from "./fixtures/client-page.js";
import { artifactPath, browserSkipReason, browserSuite, bundle, shows } from "./harness.js";

const skip = browserSkipReason();
const TIMEOUT = 60_000;

const env = browserSuite(
  async () => ({
    "/": '<!doctype html><html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>Notes</title></head><body><script type="module" src="/client-page.js"></script></body></html>',
    "/client-page.js": await bundle(new URL("./fixtures/client-page.ts", import.meta.url).pathname),
  }),
  { context: { viewport: { width: 900, height: 700 } } },
);
let counter = 0;

const freshEmail = () => `reader${++counter}@example.com`;

/** Opens the app page in `context` and waits until it has read its stored session. */
async function openApp(
  context: BrowserContext,
  mode: "default" | "custom" = "custom",
  extra: Record<string, string> = {},
): Promise<Page> {
  const query = new URLSearchParams({ hub: env.t.hub.url, app: env.t.app.id, mode, ...extra });
  const page = await env.open(`/?${query}`, context);
  await page.locator("body[data-ready]").waitFor();
  return page;
}

async function reload(page: Page): Promise<void> {
  await page.reload();
  await page.locator("body[data-ready]").waitFor();
}

/** The session as the SDK stored it in this page's IndexedDB, read without the SDK. */
function storedSession(page: Page): Promise<StoredSession | undefined> {
  return page.evaluate(() => {
    const p = window as unknown as ClientPage;
    return p.readEntry(`${p.scope}/session`) as Promise<StoredSession | undefined>;
  });
}

/** The whole email login through the page's own dialog (mode=custom), by typing and clicking. */
async function loginWithCustomDialog(page: Page, email = freshEmail()): Promise<string> {
  await page.locator("#login").click();
  const ask = page.getByRole("dialog", { name: "Log in" });
  await ask.getByLabel("Email", { exact: true }).fill(email);
  await ask.getByRole("button", { name: "Send code" }).click();
  const otp = page.getByRole("dialog", { name: "Enter your code" });
  await otp.getByLabel("Code", { exact: true }).fill(await env.t.codeFor(email));
  await otp.getByRole("button", { name: "Log in" }).click();
  await shows(page.locator("#user"), `Logged in as ${email}`);
  return email;
}

/** Counts the POSTs this page sends to the hub's /token (preflights left out). */
function countTokenPosts(page: Page): { count: number } {
  const counter = { count: 0 };
  page.on("request", (request) => {
    if (request.method() === "POST" && request.url() === `${env.t.hub.url}/token`) counter.count++;
  });
  return counter;
}

describe("the SDK in a browser", { skip }, () => {
  test("default dialog: a person logs in with an emailed code", { timeout: TIMEOUT }, async () => {
    const page = await openApp(await env.newContext(), "default");
    await shows(page.locator("#user"), "Logged out");
    const email = freshEmail();

    await page.locator("#login").click();
    const dialog = page.locator("meshauth-login-dialog");
    await dialog.getByLabel("Email", { exact: true }).fill(email);
    await dialog.getByRole("button", { name: "Send code" }).click();
    const code = dialog.getByLabel("Code", { exact: true });
    await code.waitFor();
    await dialog.getByText(`We sent a code to ${email}`).waitFor();
    await page.screenshot({ path: artifactPath("login-dialog-in-app.png") });
    await code.fill(await env.t.codeFor(email));
    await dialog.getByRole("button", { name: "Log in" }).click();

    await shows(page.locator("#user"), `Logged in as ${email}`);
    await dialog.getByLabel("Code", { exact: true }).waitFor({ state: "hidden" });
    await dialog.waitFor({ state: "hidden" });
    assert.equal(await page.locator("#error").textContent(), "");
    assert.equal((await storedSession(page))?.identity.userInfo?.["email"], email);
  });

  test("custom dialog: a wrong code shows INVALID_OTP, the right one logs in", {
    timeout: TIMEOUT,
  }, async () => {
    const page = await openApp(await env.newContext(), "custom");
    await shows(page.locator("#user"), "Logged out");
    assert.equal(
      await page.locator("meshauth-login-dialog").count(),
      0,
      "no default dialog with a custom one",
    );
    const email = freshEmail();

    await page.locator("#login").click();
    const ask = page.getByRole("dialog", { name: "Log in" });
    await ask.getByLabel("Email", { exact: true }).fill(email);
    await ask.getByRole("button", { name: "Send code" }).click();
    const otp = page.getByRole("dialog", { name: "Enter your code" });
    await shows(otp.getByRole("alert"), `We sent a code to ${email}. Enter it below.`);
    const code = await env.t.codeFor(email);
    await otp.getByLabel("Code", { exact: true }).fill(code === "00000000" ? "11111111" : "00000000");
    await otp.getByRole("button", { name: "Log in" }).click();
    await shows(
      otp.getByRole("alert"),
      "That code is not right. Check the email and try again: 4 attempts left.",
    );
    assert.equal(await otp.getByRole("alert").getAttribute("data-code"), "INVALID_OTP");
    await otp.getByLabel("Code", { exact: true }).fill(code);
    await otp.getByRole("button", { name: "Log in" }).click();

    await shows(page.locator("#user"), `Logged in as ${email}`);
    assert.equal(await page.getByRole("dialog").count(), 0, "the dialog is gone");
    assert.equal(await page.locator("#error").textContent(), "");
  });

  test("custom dialog: cancel rejects login() with an AbortError and stores nothing", {
    timeout: TIMEOUT,
  }, async () => {
    const page = await openApp(await env.newContext(), "custom");
    await page.locator("#login").click();
    const ask = page.getByRole("dialog", { name: "Log in" });
    await ask.getByLabel("Email", { exact: true }).fill(freshEmail());
    await ask.getByRole("button", { name: "Cancel" }).click();

    await shows(page.locator("#error"), /^AbortError: /);
    assert.equal(await page.getByRole("dialog").count(), 0);
    await shows(page.locator("#user"), "Logged out");
    assert.equal(await storedSession(page), undefined);
    await reload(page);
    await shows(page.locator("#user"), "Logged out");
  });

  test("the private key cannot be exported and survives a reload", { timeout: TIMEOUT }, async () => {
    const page = await openApp(await env.newContext());
    const email = await loginWithCustomDialog(page);
    const key = () =>
      page.evaluate(async () => {
        const { client } = window as unknown as ClientPage;
        const { privateKey } = await client.deviceKey();
        const exported = await crypto.subtle.exportKey("pkcs8", privateKey).then(
          () => "exported",
          (e: Error) => e.name,
        );
        return {
          thumbprint: await client.deviceKeyThumbprint(),
          extractable: privateKey.extractable,
          algorithm: (privateKey.algorithm as EcKeyAlgorithm).namedCurve,
          exported,
        };
      });
    const before = await key();
    assert.deepEqual(
      { ...before, thumbprint: typeof before.thumbprint },
      { thumbprint: "string", extractable: false, algorithm: "P-256", exported: "InvalidAccessError" },
    );

    await reload(page);
    await shows(page.locator("#user"), `Logged in as ${email}`);
    const afterReload = await key();
    assert.equal(afterReload.thumbprint, before.thumbprint, "the same key after a reload");
    assert.equal(afterReload.exported, "InvalidAccessError");
    // The session is bound to that key: the hub accepts its proofs.
    const refreshed = await page.evaluate(async () => {
      const user = await (window as unknown as ClientPage).client.refresh();
      return { isLoggedIn: user.isLoggedIn, jkt: user.identity?.peerKey };
    });
    assert.deepEqual(refreshed, { isLoggedIn: true, jkt: before.thumbprint });
  });

  test("two tabs refreshing at the same moment keep one valid session", { timeout: TIMEOUT }, async () => {
    const context = await env.newContext();
    const a = await openApp(context);
    const email = await loginWithCustomDialog(a);
    const b = await openApp(context);
    await shows(b.locator("#user"), `Logged in as ${email}`);
    const postsA = countTokenPosts(a);
    const postsB = countTokenPosts(b);
    const refresh = (page: Page) =>
      page.evaluate(async () => {
        const user = await (window as unknown as ClientPage).client.refresh();
        return { isLoggedIn: user.isLoggedIn, email: user.email, status: user.status };
      });

    const rounds = 4;
    for (let round = 0; round < rounds; round++) {
      const results = await Promise.allSettled([refresh(a), refresh(b)]);
      assert.deepEqual(
        results.map((r) => (r.status === "fulfilled" ? r.value : String(r.reason))),
        [
          { isLoggedIn: true, email, status: "active" },
          { isLoggedIn: true, email, status: "active" },
        ],
        `round ${round}`,
      );
    }
    // Each round's two calls overlap when both reach the lock together; then one tab adopts
    // the other's refresh. On a busy machine a round's calls may not overlap and both refresh
    // in turn, which is still correct: what must never happen is both spending one token.
    const posts = postsA.count + postsB.count;
    assert.ok(
      posts >= rounds && posts < 2 * rounds,
      `${posts} refreshes in ${rounds} rounds: the other tab adopts`,
    );
    const stored = await storedSession(a);
    assert.ok(stored);
    assert.equal(await env.t.isActive(stored.refreshToken), true, "the stored refresh token is live");
    await shows(a.locator("#user"), `Logged in as ${email}`);
    await shows(b.locator("#user"), `Logged in as ${email}`);

    // A refresh in A reaches B over BroadcastChannel: B follows without a request of its own.
    const accessToken = (page: Page) =>
      page.evaluate(() => (window as unknown as ClientPage).client.getAccessToken());
    const before = await accessToken(b);
    const bPostsBefore = postsB.count;
    await refresh(a);
    const rotated = (await storedSession(a))!;
    assert.notEqual(rotated.accessToken, before);
    assert.equal(await accessToken(a), rotated.accessToken);
    const deadline = Date.now() + 5_000;
    while ((await accessToken(b)) !== rotated.accessToken && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(await accessToken(b), rotated.accessToken, "tab B adopted tab A's new session");
    assert.equal(postsB.count, bPostsBefore, "without a refresh of its own");
    assert.equal(
      await b.evaluate(() =>
        (window as unknown as ClientPage).client.currentUser.value.accessTokenExpiresAt?.getTime(),
      ),
      rotated.accessTokenExpiresAt,
    );
    assert.equal(await env.t.isActive(rotated.refreshToken), true);
  });

  test("background refresh: due in two tabs at once, done once, before the token runs out", {
    timeout: TIMEOUT,
  }, async () => {
    const context = await env.newContext();
    // The pages' clocks (Date, timers) can be moved forward; the hub keeps real time, so
    // the SDK also meets a clock_skew answer and must correct its proofs.
    await context.clock.install();
    const a = await openApp(context);
    const email = await loginWithCustomDialog(a);
    const b = await openApp(context);
    await shows(b.locator("#user"), `Logged in as ${email}`);
    const refreshes = { count: 0 };
    for (const page of [a, b]) {
      page.on("response", (response) => {
        const request = response.request();
        if (request.method() === "POST" && request.url() === `${env.t.hub.url}/token` && response.ok()) {
          refreshes.count++;
        }
      });
    }
    const first = (await storedSession(a))!;
    const life = first.accessTokenExpiresAt - first.issuedAt!;

    // 80% of the access token's life: past the refresh time (65-75%), minutes before its end.
    await context.clock.fastForward(Math.round(life * 0.8));
    let stored = first;
    for (const deadline = Date.now() + 5_000; Date.now() < deadline; ) {
      stored = (await storedSession(a))!;
      if (stored.refreshToken !== first.refreshToken) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const updates = () => a.evaluate(() => (window as unknown as ClientPage).userUpdates);
    const before = await updates();
    await new Promise((r) => setTimeout(r, 1_000));
    const perSecond = (await updates()) - before;
    assert.notEqual(
      stored.refreshToken,
      first.refreshToken,
      `no background refresh within 5 s although it was due and the token had ${Math.round(
        (first.accessTokenExpiresAt - (first.issuedAt! + life * 0.8)) / 1000,
      )} s left; meanwhile currentUser emitted ${perSecond} times in one second in tab A`,
    );
    assert.equal(refreshes.count, 1, "one refresh for both tabs");
    assert.equal(perSecond, 0, "nothing changes while nothing happens");
    assert.equal(await env.t.isActive(stored.refreshToken), true);
    for (const page of [a, b]) {
      await shows(page.locator("#user"), `Logged in as ${email}`);
      await shows(page.locator("#status"), "active");
      assert.equal(
        await page.evaluate(() => (window as unknown as ClientPage).client.getAccessToken()),
        stored.accessToken,
      );
    }
  });

  test("a session revoked on the hub ends in every tab, and every tab is told", {
    timeout: TIMEOUT,
  }, async () => {
    const context = await env.newContext();
    const a = await openApp(context);
    const email = await loginWithCustomDialog(a);
    const b = await openApp(context);
    await shows(b.locator("#user"), `Logged in as ${email}`);
    const told = (page: Page) =>
      page.evaluate(() =>
        (window as unknown as ClientPage).events
          .filter((e) => e.type === "authenticationRequired")
          .map((e) => e.detail),
      );
    // Tab A opened with nobody logged in (told so at startup); tab B with a session.
    assert.deepEqual([await told(a), await told(b)], [["not_logged_in"], []]);

    const userId = await a.evaluate(() => (window as unknown as ClientPage).client.currentUser.value.userId);
    const revoked = await env.t.admin(
      "DELETE",
      `/apps/${env.t.app.id}/users/${encodeURIComponent(userId!)}/sessions`,
    );
    assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
    const refreshed = await a.evaluate(() =>
      (window as unknown as ClientPage).client.refresh().then(
        () => "refreshed",
        (e: { code: string }) => e.code,
      ),
    );
    assert.equal(refreshed, "session_revoked");
    await shows(a.locator("#user"), "Logged out");
    await shows(b.locator("#user"), "Logged out");
    assert.equal(await storedSession(a), undefined);
    assert.deepEqual(await told(a), ["not_logged_in", "session_revoked"]);
    // The docs: authenticationRequired fires when "the session ended on the hub". Tab B's
    // session ended too (it shows Logged out), so an app that asks for a new login on
    // this event must hear it in every tab.
    const deadline = Date.now() + 2_000;
    while ((await told(b)).length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal(
      (await told(b)).length,
      1,
      "tab B lost its session but authenticationRequired did not fire there",
    );
  });

  test("a refresh token copied out of IndexedDB is refused from another key", {
    timeout: TIMEOUT,
  }, async () => {
    const page = await openApp(await env.newContext());
    const email = await loginWithCustomDialog(page);
    const stolen = (await storedSession(page))!.refreshToken;

    const thief = await generateDpopKeyPair();
    const tokenUrl = `${env.t.hub.url}/token`;
    const res = await fetch(tokenUrl, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        dpop: await createDpopProof({
          privateKey: thief.privateKey,
          publicKey: thief.publicKey,
          htm: "POST",
          htu: tokenUrl,
        }),
      },
      body: new URLSearchParams({
        grant_type: "refresh_token",
        refresh_token: stolen,
        client_id: env.t.app.id,
      }),
    });
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as { error: string }).error, "invalid_grant");

    // The tab that owns the key goes on as before.
    const user = await page.evaluate(async () => {
      const u = await (window as unknown as ClientPage).client.refresh();
      return { isLoggedIn: u.isLoggedIn, email: u.email };
    });
    assert.deepEqual(user, { isLoggedIn: true, email });
    await shows(page.locator("#user"), `Logged in as ${email}`);
    assert.equal(await env.t.isActive((await storedSession(page))!.refreshToken), true);
  });

  test("logout revokes the session on the hub and every tab shows it", { timeout: TIMEOUT }, async () => {
    const context = await env.newContext();
    const page = await openApp(context);
    const email = await loginWithCustomDialog(page);
    const token = (await storedSession(page))!.refreshToken;
    assert.equal(await env.t.isActive(token), true);
    const other = await openApp(context);
    await shows(other.locator("#user"), `Logged in as ${email}`);

    const result = await page.evaluate(() => (window as unknown as ClientPage).client.logout());
    assert.deepEqual(result, { revokedOnHub: true, pending: false });
    await shows(page.locator("#user"), "Logged out");
    assert.equal(await env.t.isActive(token), false);
    assert.equal(await storedSession(page), undefined);
    await shows(other.locator("#user"), "Logged out");
    await reload(page);
    await shows(page.locator("#user"), "Logged out");
  });

  test("offline: the person stays logged in, and back online it all catches up", {
    timeout: TIMEOUT,
  }, async () => {
    const context = await env.newContext();
    const page = await openApp(context);
    const email = await loginWithCustomDialog(page);
    await shows(page.locator("#status"), "active");

    await context.setOffline(true);
    const failed = await page.evaluate(() =>
      (window as unknown as ClientPage).client.refresh().then(
        () => "refreshed",
        (e: { code: string }) => e.code,
      ),
    );
    assert.equal(failed, "network_error");
    await shows(page.locator("#user"), `Logged in as ${email}`);
    await shows(page.locator("#status"), "offline");
    await context.setOffline(false);
    const back = await page.evaluate(async () => {
      const user = await (window as unknown as ClientPage).client.refresh();
      return { email: user.email, status: user.status };
    });
    assert.deepEqual(back, { email, status: "active" });
    await shows(page.locator("#status"), "active");

    // Logging out offline forgets the session at once and revokes it when the hub is back.
    const token = (await storedSession(page))!.refreshToken;
    await context.setOffline(true);
    const result = await page.evaluate(() => (window as unknown as ClientPage).client.logout());
    assert.deepEqual(result, { revokedOnHub: false, pending: true });
    await shows(page.locator("#user"), "Logged out");
    assert.equal(await storedSession(page), undefined);
    assert.equal(await env.t.isActive(token), true, "not revoked while offline");
    // Nothing but the browser's "online" event triggers the retry.
    await context.setOffline(false);
    const deadline = Date.now() + 5_000;
    while ((await env.t.isActive(token)) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    assert.equal(await env.t.isActive(token), false, "revoked once the browser is online again");
  });

  test("client.fetch calls the app's API with a DPoP-bound token", { timeout: TIMEOUT }, async () => {
    const api = await startResourceServer(env.t.hub.url, env.t.app.id);
    try {
      const page = await openApp(await env.newContext(), "custom", { api: api.url });
      await loginWithCustomDialog(page);
      const answer = await page.evaluate(async (url) => {
        const { client } = window as unknown as ClientPage;
        const res = await client.fetch(url);
        return {
          status: res.status,
          body: (await res.json()) as { sub: string; jkt: string },
          userId: client.currentUser.value.userId,
          thumbprint: await client.deviceKeyThumbprint(),
        };
      }, `${api.url}/notes`);
      assert.equal(answer.status, 200);
      assert.equal(answer.body.sub, answer.userId);
      assert.equal(answer.body.jkt, answer.thumbprint);
      assert.deepEqual(
        api.log.filter((l) => l.status !== 204).map((l) => l.status),
        [401, 200],
        "one nonce challenge (CORS preflights left out), one retry",
      );
    } finally {
      await api.close();
    }
  });
});
