// Two people in two browser profiles of a real Chromium, each with the todo page (RxDB in
// IndexedDB through Dexie, replicated with replicateMeshauth) against a real hub: each sees
// only what the rules let them read, a change reaches the other page live, and a forbidden
// write is refused on screen.
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import type { Page } from "playwright-core";
import { browserSkipReason, browserSuite, bundle, shows } from "../../../client/test/browser/harness.js";

const skip = browserSkipReason();
const TIMEOUT = 90_000;

const env = browserSuite(async () => ({
  "/": '<!doctype html><html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>Todos</title></head><body><script type="module" src="/todo-page.js"></script></body></html>',
  "/todo-page.js": await bundle(new URL("./fixtures/todo-page.ts", import.meta.url).pathname),
}));

const permissions: Record<string, unknown> = {
  alice: {
    read: {
      everything: false,
      queriesByCollection: { todos: ["_id.owner == 'alice' || _id.owner == 'shared'"] },
    },
    write: {
      everything: false,
      queriesByCollection: { todos: ["_id.owner == 'alice' || _id.owner == 'shared'"] },
    },
  },
  bob: {
    read: {
      everything: false,
      queriesByCollection: { todos: ["_id.owner == 'bob' || _id.owner == 'shared'"] },
    },
    write: { everything: false, queriesByCollection: { todos: ["_id.owner == 'bob'"] } },
  },
};

async function openAs(user: string): Promise<Page> {
  const context = await env.newContext();
  // The app's backend: the custom-auth grant with its client secret, for this device's key.
  await context.exposeFunction("backendLogin", (name: string, jkt: string) =>
    env.t.customAuth({ sub: name, dpop_jkt: jkt, permissions: JSON.stringify(permissions[name]) }),
  );
  const query = new URLSearchParams({ hub: env.t.hub.url, app: env.t.app.id, user });
  const page = await env.open(`/?${query}`, context);
  await page.locator("body[data-ready]").waitFor();
  await page.locator("#login").click();
  await shows(page.locator("#user"), `Logged in as ${user}`);
  await shows(page.locator("#status"), "live", 20_000);
  return page;
}

async function addTodo(page: Page, owner: string, item: string, title: string): Promise<void> {
  await page.locator("#owner").fill(owner);
  await page.locator("#item").fill(item);
  await page.locator("#title").fill(title);
  await page.locator("#add").click();
}

const todos = (page: Page) => page.locator("#todos li").allTextContents();

describe("todos in two browsers", { skip }, () => {
  before(async () => {
    if (skip) return;
    const res = await env.t.admin("POST", `/apps/${env.t.app.id}/collections`, {
      name: "todos",
      idFields: ["owner", "item"],
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
  });

  test("login, replicate and live updates between two people with different rules", {
    timeout: TIMEOUT,
  }, async () => {
    const alice = await openAs("alice");
    await addTodo(alice, "alice", "diary", "private");
    await addTodo(alice, "shared", "milk", "buy milk");
    await shows(alice.locator("#todos"), /alice\|diary: private.*shared\|milk: buy milk/);

    const bob = await openAs("bob");
    await shows(bob.locator("#todos"), "shared|milk: buy milk");

    // Live: Alice adds one while Bob's page is open.
    await addTodo(alice, "shared", "eggs", "buy eggs");
    await shows(bob.locator("#todos"), /shared\|eggs: buy eggs.*shared\|milk: buy milk/);

    // Bob may not write the shared list: refused on screen, and gone from his list again.
    await addTodo(bob, "shared", "beer", "Bob's beer");
    await shows(bob.locator("#refused"), "shared|beer: write_denied");
    await shows(bob.locator("#todos"), /^(?!.*beer).*$/);
    await addTodo(bob, "bob", "gym", "mine");
    await shows(bob.locator("#todos"), /bob\|gym: mine/);

    // Alice never sees Bob's todo or his refused one; Bob never sees her diary.
    await shows(alice.locator("#todos"), /shared\|eggs/);
    assert.deepEqual(await todos(alice), [
      "alice|diary: private",
      "shared|eggs: buy eggs",
      "shared|milk: buy milk",
    ]);
    assert.deepEqual(await todos(bob), ["bob|gym: mine", "shared|eggs: buy eggs", "shared|milk: buy milk"]);

    // Bob's copy lives in IndexedDB: after a reload it is there, and the session resumes.
    await bob.reload();
    await bob.locator("body[data-ready]").waitFor();
    await shows(bob.locator("#user"), "Logged in as bob");
    await shows(bob.locator("#todos"), /bob\|gym: mine.*shared\|milk/);
    await shows(bob.locator("#status"), "live", 20_000);
    await addTodo(alice, "shared", "tea", "buy tea");
    await shows(bob.locator("#todos"), /shared\|tea: buy tea/);
  });
});
