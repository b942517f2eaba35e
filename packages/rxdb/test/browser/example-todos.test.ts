// examples/todos (React + RxDB in IndexedDB + @meshauth/rxdb) in two Chromium profiles
// against a real hub, as examples/README.md describes it: each person sees their own list
// and the shared ones, edits to "shared" reach the other window live, and a todo in "news"
// (writable by the editor only) is refused on screen.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { before, describe, test } from "node:test";
import type { Page } from "playwright-core";
import { rulesFor } from "../../../../examples/todos/backend.mjs";
import {
  browserSkipReason,
  browserSuite,
  bundle,
  repoRoot,
  shows,
} from "../../../client/test/browser/harness.js";

const skip = browserSkipReason();
const TIMEOUT = 90_000;
const examples = `${repoRoot}examples/`;

const env = browserSuite(async () => ({
  "/todos/": readFileSync(`${examples}todos/index.html`, "utf8"),
  "/todos/main.js": await bundle(`${examples}todos/main.tsx`, { jsx: true }),
  "/config.js": async () =>
    `window.MESHAUTH = ${JSON.stringify({ hub: env.t.hub.url, appId: env.t.app.id })};`,
}));

async function openAs(name: string): Promise<Page> {
  const context = await env.newContext();
  // The example's backend (todos/backend.mjs) with the same rules, answering for the test's hub.
  await context.route("**/todos/login", async (route) => {
    const { jkt } = route.request().postDataJSON() as { jkt: string };
    const answer = await env.t.customAuth({
      sub: name,
      name,
      dpop_jkt: jkt,
      permissions: JSON.stringify(rulesFor(name)),
    });
    await route.fulfill({ json: answer });
  });
  const page = await env.open("/todos/", context);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByLabel("Your name (alice, bob, editor, ...)").fill(name);
  await page.getByRole("dialog").getByRole("button", { name: "Log in" }).click();
  await shows(page.getByText(/^Logged in as/), `Logged in as ${name} Log out`);
  await shows(page.getByRole("status").filter({ hasText: "sync:" }), "sync: live", 20_000);
  return page;
}

async function add(page: Page, list: string, title: string): Promise<void> {
  await page.getByLabel(`new todo in ${list}`).fill(title);
  await page.getByLabel(`new todo in ${list}`).press("Enter");
}

const listText = (page: Page, list: string) =>
  page.getByRole("region", { name: `list ${list}` }).locator("li");

describe("examples/todos in Chromium", { skip }, () => {
  before(async () => {
    const res = await env.t.admin("POST", `/apps/${env.t.app.id}/collections`, {
      name: "todos",
      idFields: ["owner", "item"],
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
  });

  test("two people see and edit only what their rules allow", { timeout: TIMEOUT }, async () => {
    const alice = await openAs("alice");
    await add(alice, "alice", "alice's secret");
    await add(alice, "shared", "milk");
    const bob = await openAs("bob");
    await shows(listText(bob, "shared"), /milk/);

    await add(alice, "shared", "eggs");
    await shows(bob.getByRole("region", { name: "list shared" }), /eggs/);
    await add(bob, "news", "bob's headline");
    await shows(bob.getByRole("alert"), "Not saved (write_denied): bob's headline in news");
    await shows(bob.getByRole("region", { name: "list news" }), /^news\s*Add$/);

    assert.equal(await bob.getByText("alice's secret").count(), 0);
    assert.equal(await bob.getByRole("region", { name: "list alice" }).count(), 0);
    assert.deepEqual(await listText(alice, "alice").allTextContents(), [" alice's secret ×"]);
  });
});
