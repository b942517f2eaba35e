// The browser store in a real Chromium, used directly in a page (fixtures/indexeddb-store-page.ts):
// a non-extractable device key that outlives the store object and the page, sessions,
// a corrupted entry kept aside on repair, Web Locks shared by store objects and tabs,
// BroadcastChannel notifications, another tab deleting or upgrading the database, and
// what still works after close().
import assert from "node:assert/strict";
import { after, afterEach, before, beforeEach, describe, test } from "node:test";
import type { Browser, BrowserContext, Page } from "playwright-core";
import type { StorePage } from "./fixtures/indexeddb-store-page.js";
import {
  browserSkipReason,
  bundle,
  launchBrowser,
  type PageWatch,
  type StaticServer,
  startStaticServer,
  watchPage,
} from "./harness.js";

const skip = browserSkipReason();
const html =
  '<!doctype html><html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>Store</title></head><body><script type="module" src="/store-page.js"></script></body></html>';
const SCOPE = "https://hub.example|app-1";

let browser: Browser;
let site: StaticServer;
let context: BrowserContext;
let page: Page;
let watches: PageWatch[];

before(async () => {
  if (skip) return;
  const script = await bundle(new URL("./fixtures/indexeddb-store-page.ts", import.meta.url).pathname);
  site = await startStaticServer({ "/": html, "/store-page.js": script });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await site?.close();
});

/** Opens the store page in the test's browser profile (same origin: same storage, locks, channels). */
async function openPage(): Promise<Page> {
  const opened = await context.newPage();
  watches.push(watchPage(opened));
  await opened.goto(`${site.url}/`);
  await opened.locator("body[data-ready]").waitFor({ state: "attached" });
  return opened;
}

beforeEach(async () => {
  if (skip) return;
  // A fresh profile per test: empty IndexedDB.
  context = await browser.newContext();
  watches = [];
  page = await openPage();
});

afterEach(async () => {
  if (skip) return;
  await context.close();
  for (const watch of watches) watch.assertNoErrors();
});

describe("indexedDbStore in Chromium", { skip }, () => {
  test("the device key is non-extractable and outlives the store object and the page", async () => {
    const first = await page.evaluate(async (scope) => {
      const p = window as unknown as StorePage;
      const created = await p.indexedDbStore({ scope }).createKey();
      const loaded = await p.indexedDbStore({ scope }).loadKey();
      if (!loaded) return undefined;
      const data = new TextEncoder().encode("proof");
      const algorithm = { name: "ECDSA", hash: "SHA-256" };
      const signature = await crypto.subtle.sign(algorithm, loaded.privateKey, data);
      return {
        createdExtractable: created.privateKey.extractable,
        loadedExtractable: loaded.privateKey.extractable,
        exportPkcs8: await crypto.subtle.exportKey("pkcs8", loaded.privateKey).then(
          () => "exported",
          (e: Error) => e.name,
        ),
        exportJwk: await crypto.subtle.exportKey("jwk", loaded.privateKey).then(
          () => "exported",
          (e: Error) => e.name,
        ),
        publicKey: await p.publicJwk(loaded.publicKey),
        samePublicKey: (await p.publicJwk(created.publicKey)) === (await p.publicJwk(loaded.publicKey)),
        verifies: await crypto.subtle.verify(algorithm, created.publicKey, signature, data),
      };
    }, SCOPE);
    assert.ok(first, "a fresh store object loads the key");
    assert.equal(first.createdExtractable, false);
    assert.equal(first.loadedExtractable, false);
    assert.equal(first.exportPkcs8, "InvalidAccessError");
    assert.equal(first.exportJwk, "InvalidAccessError");
    assert.equal(first.samePublicKey, true);
    assert.equal(first.verifies, true);

    await page.reload();
    await page.locator("body[data-ready]").waitFor({ state: "attached" });
    const afterReload = await page.evaluate(async (scope) => {
      const p = window as unknown as StorePage;
      const keys = await p.indexedDbStore({ scope }).loadKey();
      const other = await p.indexedDbStore({ scope: `${scope}-other` }).loadKey();
      return {
        publicKey: keys && (await p.publicJwk(keys.publicKey)),
        extractable: keys?.privateKey.extractable,
        otherScope: other === undefined,
      };
    }, SCOPE);
    assert.equal(afterReload.publicKey, first.publicKey);
    assert.equal(afterReload.extractable, false);
    assert.equal(afterReload.otherScope, true, "another scope has no key");
  });

  test("sessions, certificates and pending revocations round trip; deleting a session", async () => {
    const result = await page.evaluate(async (scope) => {
      const p = window as unknown as StorePage;
      const store = p.indexedDbStore({ scope });
      const empty = {
        session: await store.loadSession(),
        certificate: await store.loadCertificate(),
        revocations: await store.loadPendingRevocations(),
      };
      await store.saveSession(p.session("first"));
      await store.saveSession(p.session("second"));
      const certificate = { certificate: "PEM", caCertificates: ["CA"], expiresAt: 1 };
      await store.saveCertificate(certificate);
      await store.savePendingRevocations(["rt-1"]);
      const fresh = p.indexedDbStore({ scope });
      const loaded = {
        token: (await fresh.loadSession())?.accessToken,
        certificate: await fresh.loadCertificate(),
        revocations: await fresh.loadPendingRevocations(),
        otherScope: await p.indexedDbStore({ scope: `${scope}-other` }).loadSession(),
      };
      await fresh.deleteSession();
      return {
        empty,
        loaded,
        afterDelete: await store.loadSession(),
        entries: await p.rawEntries("meshauth"),
      };
    }, SCOPE);
    assert.deepEqual(result.empty, { session: undefined, certificate: undefined, revocations: [] });
    assert.deepEqual(result.loaded, {
      token: "second",
      certificate: { certificate: "PEM", caCertificates: ["CA"], expiresAt: 1 },
      revocations: ["rt-1"],
      otherScope: undefined,
    });
    assert.equal(result.afterDelete, undefined);
    assert.deepEqual(result.entries.map(([key]) => key).sort(), [
      `${SCOPE}/certificate`,
      `${SCOPE}/pending-revocations`,
    ]);
  });

  test("a corrupted session entry is store_corrupted; saving repairs it and keeps the old value", async () => {
    const result = await page.evaluate(async (scope) => {
      const p = window as unknown as StorePage;
      const store = p.indexedDbStore({ scope });
      await store.createKey();
      await store.saveSession(p.session("before"));
      const wrong = { version: 1, accessToken: 42 };
      await p.rawPut("meshauth", `${scope}/session`, wrong);
      const error = await store.loadSession().then(
        () => undefined,
        (e: unknown) => ({
          isClientError: e instanceof p.MeshauthClientError,
          code: (e as InstanceType<StorePage["MeshauthClientError"]>).code,
          path: (e as InstanceType<StorePage["MeshauthClientError"]>).details["path"],
          message: (e as Error).message,
        }),
      );
      const keyStillLoads = (await store.loadKey()) !== undefined;
      await store.saveSession(p.session("repaired"));
      const entries = await p.rawEntries("meshauth");
      return {
        error,
        keyStillLoads,
        repaired: (await p.indexedDbStore({ scope }).loadSession())?.accessToken,
        kept: entries
          .filter(([key]) => key.startsWith(`${scope}/session.corrupt-`))
          .map(([, value]) => value),
      };
    }, SCOPE);
    assert.ok(result.error, "loadSession rejects");
    assert.equal(result.error.isClientError, true);
    assert.equal(result.error.code, "store_corrupted");
    assert.equal(result.error.path, `indexeddb:meshauth/${SCOPE}/session`);
    assert.match(result.error.message, /log in again/);
    assert.equal(result.keyStillLoads, true);
    assert.equal(result.repaired, "repaired");
    assert.deepEqual(result.kept, [{ version: 1, accessToken: 42 }]);
  });

  test("exclusive() runs one critical section at a time across store objects (Web Locks)", async () => {
    const result = await page.evaluate(async (scope) => {
      const p = window as unknown as StorePage;
      const a = p.indexedDbStore({ scope });
      const b = p.indexedDbStore({ scope });
      const same = p.sections();
      const stores = [a, b, a, b, a, b];
      const results = await Promise.all(stores.map((s, i) => s.exclusive("refresh", same.section(`${i}`))));

      // A throwing section releases the lock.
      const thrown = await a
        .exclusive("refresh", async () => {
          throw new Error("boom");
        })
        .catch((e: Error) => e.message);
      const afterThrow = await b.exclusive("refresh", async () => "ran");

      // The control: different names, or another scope, do not wait for each other.
      const names = p.sections();
      await Promise.all([a.exclusive("one", names.section("one")), b.exclusive("two", names.section("two"))]);
      const scopes = p.sections();
      const c = p.indexedDbStore({ scope: `${scope}-other` });
      await Promise.all([
        a.exclusive("refresh", scopes.section("a")),
        c.exclusive("refresh", scopes.section("c")),
      ]);
      return {
        webLocks: typeof navigator.locks?.request === "function",
        results,
        sameName: same.most,
        log: same.log,
        thrown,
        afterThrow,
        differentNames: names.most,
        differentScopes: scopes.most,
      };
    }, SCOPE);
    assert.equal(result.webLocks, true);
    assert.deepEqual(result.results, ["0", "1", "2", "3", "4", "5"]);
    assert.equal(result.sameName, 1, `overlapping sections: ${result.log.join(" ")}`);
    assert.deepEqual(
      result.log,
      ["0", "1", "2", "3", "4", "5"].flatMap((who) => [`${who}+`, `${who}-`]),
      "each section ends before the next starts, in request order",
    );
    assert.equal(result.thrown, "boom");
    assert.equal(result.afterThrow, "ran");
    assert.equal(result.differentNames, 2, "the test can see overlapping sections");
    assert.equal(result.differentScopes, 2);
  });

  test("watch() is called in another store object when one saves or deletes, never in its own", async () => {
    const result = await page.evaluate(async (scope) => {
      const p = window as unknown as StorePage;
      const a = p.indexedDbStore({ scope });
      const b = p.indexedDbStore({ scope });
      const other = p.indexedDbStore({ scope: `${scope}-other` });
      const calls = { a: 0, b: 0, other: 0 };
      a.watch!(() => calls.a++);
      const stopB = b.watch!(() => calls.b++);
      other.watch!(() => calls.other++);

      await a.saveSession(p.session("from a"));
      await p.until(() => calls.b >= 1);
      const afterSave = { ...calls, loaded: (await b.loadSession())?.accessToken };
      await a.deleteSession();
      await p.until(() => calls.b >= 2);
      const afterDelete = { ...calls, loaded: await b.loadSession() };
      stopB();
      await a.saveSession(p.session("unwatched"));
      await p.sleep(200);
      return { afterSave, afterDelete, afterStop: { ...calls } };
    }, SCOPE);
    assert.deepEqual(result.afterSave, { a: 0, b: 1, other: 0, loaded: "from a" });
    assert.deepEqual(result.afterDelete, { a: 0, b: 2, other: 0, loaded: undefined });
    assert.deepEqual(result.afterStop, { a: 0, b: 2, other: 0 }, "after unsubscribing");
  });

  test("two tabs: a session saved in one is announced to the other; the lock is shared", async () => {
    const second = await openPage();
    await second.evaluate((scope) => {
      const p = window as unknown as StorePage & {
        calls: number;
        store: ReturnType<StorePage["indexedDbStore"]>;
      };
      p.calls = 0;
      p.store = p.indexedDbStore({ scope });
      p.store.watch!(() => p.calls++);
    }, SCOPE);
    await page.evaluate(async (scope) => {
      const p = window as unknown as StorePage;
      await p.indexedDbStore({ scope }).saveSession(p.session("from the first tab"));
    }, SCOPE);
    await second.waitForFunction(() => (window as unknown as { calls: number }).calls === 1);
    const loaded = await second.evaluate(async () => {
      const p = window as unknown as { store: ReturnType<StorePage["indexedDbStore"]> };
      return (await p.store.loadSession())?.accessToken;
    });
    assert.equal(loaded, "from the first tab");

    // The first tab holds the lock; the second waits for it.
    await page.evaluate((scope) => {
      const p = window as unknown as StorePage & { held?: Promise<number>; holding?: boolean };
      p.held = p.indexedDbStore({ scope }).exclusive("refresh", async () => {
        p.holding = true;
        await p.sleep(300);
        return Date.now();
      });
    }, SCOPE);
    await page.waitForFunction(() => (window as unknown as { holding?: boolean }).holding === true);
    const entered = await second.evaluate(async () => {
      const p = window as unknown as { store: ReturnType<StorePage["indexedDbStore"]> };
      return p.store.exclusive("refresh", async () => Date.now());
    });
    const released = await page.evaluate(() => (window as unknown as { held: Promise<number> }).held);
    assert.ok(
      entered >= released,
      `the second tab entered at ${entered}, before the first left at ${released}`,
    );
  });

  test("another tab can delete or upgrade the database: the store closes its connection", async () => {
    const result = await page.evaluate(async (scope) => {
      const p = window as unknown as StorePage;
      const store = p.indexedDbStore({ scope });
      await store.saveSession(p.session("before"));

      const deleted = await p.orTimeout(p.deleteDatabase("meshauth"), 3000);
      // The next call opens (and so creates) the database again.
      const afterDelete = await store.loadSession();
      await store.saveSession(p.session("again"));
      const again = (await store.loadSession())?.accessToken;

      const upgraded = await p.orTimeout(p.upgrade("meshauth", 2), 3000);
      // This (older) store cannot open a newer database; it says so instead of hanging.
      const afterUpgrade = await p.orTimeout(
        store.loadSession().then(
          () => "loaded",
          (e: Error) => e.name,
        ),
        3000,
      );
      return { deleted, afterDelete, again, upgraded, afterUpgrade };
    }, SCOPE);
    assert.deepEqual(result.deleted, { blocked: false });
    assert.equal(result.afterDelete, undefined);
    assert.equal(result.again, "again");
    assert.deepEqual(result.upgraded, { blocked: false });
    assert.equal(result.afterUpgrade, "VersionError");
  });

  test("after close(), saving works again without announcing; close() may be called again", async () => {
    const result = await page.evaluate(async (scope) => {
      const p = window as unknown as StorePage;
      const a = p.indexedDbStore({ scope });
      const b = p.indexedDbStore({ scope });
      let calls = 0;
      b.watch!(() => calls++);
      await a.saveSession(p.session("before close"));
      await p.until(() => calls >= 1);
      const beforeClose = calls;

      await a.close!();
      await a.close!();
      let aCalls = 0;
      a.watch!(() => aCalls++)();
      const error = await (async () => {
        await a.saveSession(p.session("after close"));
        await a.deleteSession();
        await a.saveSession(p.session("after close, again"));
      })().then(
        () => undefined,
        (e: Error) => `${e.name}: ${e.message}`,
      );
      await p.sleep(200);
      const loaded = {
        byA: (await a.loadSession())?.accessToken,
        byB: (await b.loadSession())?.accessToken,
      };
      await a.close!();
      await b.close!();
      const deleted = await p.orTimeout(p.deleteDatabase("meshauth"), 3000);
      return { beforeClose, error, afterClose: calls, aCalls, loaded, deleted };
    }, SCOPE);
    assert.equal(result.beforeClose, 1);
    assert.equal(result.error, undefined, "saveSession after close() does not throw");
    assert.equal(result.afterClose, 1, "nothing announced after close()");
    assert.equal(result.aCalls, 0);
    assert.deepEqual(result.loaded, { byA: "after close, again", byB: "after close, again" });
    assert.deepEqual(result.deleted, { blocked: false });
  });
});
