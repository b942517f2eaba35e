// The pages in examples/ (what `npm run example` serves) in Chromium against a real hub
// and SMTP server: the plain page logs in through the SDK's default dialog, the React
// page through its own dialog. Keeps the examples working as examples/README.md says.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import type { BrowserContext, Page } from "playwright-core";
import {
  browserSkipReason,
  browserSuite,
  bundle,
  repoRoot,
  shows,
} from "../../client/test/browser/harness.js";

const skip = browserSkipReason();
const TIMEOUT = 60_000;
let counter = 0;

/**
 * Installs, before the page's scripts run, a recorder of every text `selector` shows
 * (window.seenTexts), so a flash of "Logged out" during a reload cannot go unseen.
 */
async function recordTexts(context: BrowserContext, selector: string): Promise<void> {
  await context.addInitScript((sel) => {
    const seen: string[] = [];
    (window as unknown as { seenTexts: string[] }).seenTexts = seen;
    new MutationObserver(() => {
      const text = document.querySelector(sel)?.textContent ?? "";
      if (text !== "" && seen[seen.length - 1] !== text) seen.push(text);
    }).observe(document, { subtree: true, childList: true, characterData: true });
  }, selector);
}
const seenTexts = (page: Page) =>
  page.evaluate(() => (window as unknown as { seenTexts: string[] }).seenTexts);

describe("the examples in Chromium", { skip }, () => {
  const examples = `${repoRoot}examples/`;
  const html = (path: string) => readFileSync(`${examples}${path}`, "utf8");
  const env = browserSuite(async () => {
    const [web, react] = await Promise.all([
      bundle(`${examples}web/main.ts`),
      bundle(`${examples}react/main.tsx`, { jsx: true }),
    ]);
    return {
      "/": html("web/index.html"),
      "/main.js": web,
      "/react/": html("react/index.html"),
      "/react/main.js": react,
      // As examples/serve.mjs does, with the app known only once the hub is up.
      "/config.js": async () =>
        `window.MESHAUTH = ${JSON.stringify({ hub: env.t.hub.url, appId: env.t.app.id })};`,
    };
  });

  test("web: the default dialog logs in; Refresh now, reload and Logout work", {
    timeout: TIMEOUT,
  }, async () => {
    const context = await env.newContext();
    await recordTexts(context, "#state");
    const page = await env.open("/", context);
    const email = `web${++counter}@example.com`;
    await shows(page.locator("#state"), "Logged out");
    assert.equal(await page.locator("#details").isHidden(), true);

    // Escape cancels the login and the focus goes back to the Login button.
    await page.getByRole("button", { name: "Login" }).click();
    await page.locator("meshauth-login-dialog").getByRole("textbox", { name: "Email" }).waitFor();
    await page.keyboard.press("Escape");
    await shows(page.locator("#message"), "Login cancelled.");
    assert.equal(await page.locator("meshauth-login-dialog").count(), 0);
    assert.equal(await page.evaluate(() => document.activeElement?.id), "login");

    await page.getByRole("button", { name: "Login" }).click();
    const dialog = page.locator("meshauth-login-dialog");
    await dialog.getByRole("textbox", { name: "Email" }).fill(email);
    await dialog.getByRole("button", { name: "Send code" }).click();
    await dialog.getByRole("textbox", { name: "Code" }).fill(await env.t.codeFor(email));
    await dialog.getByRole("button", { name: "Log in" }).click();

    await shows(page.locator("#state"), `Logged in as ${email}`);
    await shows(page.locator("#email"), email);
    await shows(page.locator("#provider"), "otp");
    await shows(page.locator("#status"), "active");
    // The app's default permissions (test/helpers/hub.ts): read own notes, write nothing.
    await shows(page.locator("#permissions"), "read notes (_id.owner == 'me'); write nothing");

    await page.getByRole("button", { name: "Refresh now" }).click();
    await shows(page.locator("#message"), /^Refreshed at .* \(active\)\.$/);
    await page.reload();
    await shows(page.locator("#state"), `Logged in as ${email}`);
    assert.deepEqual(
      (await seenTexts(page)).filter((text) => text !== "Loading…"),
      [`Logged in as ${email}`],
      "no flash of Logged out on reload",
    );
    await page.getByRole("button", { name: "Logout" }).click();
    await shows(page.locator("#state"), "Logged out");
    await shows(page.locator("#message"), "Logged out; the hub ended the session.");
  });

  test("react: the custom dialog shows a wrong code's alert, then logs in", {
    timeout: TIMEOUT,
  }, async () => {
    const context = await env.newContext();
    await recordTexts(context, "main p");
    const page = await env.open("/react/", context);
    const email = `react${++counter}@example.com`;
    const user = page.locator("main p").first();
    await shows(user, "Logged out");

    await page.getByRole("button", { name: "Login" }).click();
    const ask = page.getByRole("dialog", { name: "Log in" });
    await ask.getByRole("textbox", { name: "Email" }).fill(email);
    await ask.getByRole("button", { name: "Send code" }).click();
    const otp = page.getByRole("dialog", { name: "Enter your code" });
    // The info is a polite status in the page's text colour, not an alert in the error colour.
    const sent = otp.getByRole("status");
    await shows(sent, `We sent a code to ${email}. Enter it below.`);
    assert.equal(await otp.getByRole("alert").count(), 0);
    const colour = (l: typeof sent) => l.evaluate((e) => getComputedStyle(e).color);
    const sentColour = await colour(sent);
    assert.equal(sentColour, await colour(page.locator("main p").first()));
    const code = await env.t.codeFor(email);
    await otp.getByRole("textbox", { name: "Code" }).fill(code === "00000000" ? "11111111" : "00000000");
    await otp.getByRole("button", { name: "Log in" }).click();
    const wrong = otp.getByRole("alert");
    await shows(wrong, "That code is not right. Check the email and try again: 4 attempts left.");
    assert.notEqual(await colour(wrong), sentColour, "errors are drawn in the error colour");
    await otp.getByRole("textbox", { name: "Code" }).fill(code);
    await otp.getByRole("button", { name: "Log in" }).click();

    await shows(user, `Logged in as ${email} (active)`);
    assert.equal(await page.getByRole("dialog").count(), 0);
    await page.reload();
    await shows(user, `Logged in as ${email} (active)`);
    assert.deepEqual(await seenTexts(page), [`Logged in as ${email} (active)`], "no flash of Logged out");
  });

  test("react: the custom dialog is modal, keeps Tab inside, and Escape cancels back to Login", {
    timeout: TIMEOUT,
  }, async () => {
    const page = await env.open("/react/");
    await shows(page.locator("main p").first(), "Logged out");
    const login = page.getByRole("button", { name: "Login" });
    await login.click();
    const ask = page.getByRole("dialog", { name: "Log in" });
    await ask.getByRole("textbox", { name: "Email" }).waitFor();
    assert.equal(await ask.evaluate((d) => d.matches(":modal")), true, "opened with showModal()");
    await assert.rejects(login.click({ timeout: 500 }), /intercepts pointer events|Timeout/, "page inert");

    const focusedName = () =>
      page.evaluate(() => {
        const e = document.activeElement as HTMLElement | null;
        return e?.getAttribute("name") ?? e?.textContent ?? "";
      });
    assert.equal(await focusedName(), "email");
    const order: string[] = [];
    for (let i = 0; i < 4; i++) {
      await page.keyboard.press("Tab");
      order.push(await focusedName());
    }
    assert.deepEqual(order, ["Send code", "Cancel", "email", "Send code"], "Tab wraps inside");
    await page.keyboard.press("Shift+Tab");
    await page.keyboard.press("Shift+Tab");
    assert.equal(await focusedName(), "Cancel", "Shift+Tab wraps too");

    await page.keyboard.press("Escape");
    assert.equal(await page.getByRole("dialog").count(), 0, "Escape cancelled the login");
    assert.equal(await focusedName(), "Login", "focus back on the Login button");
    await login.click();
    await page.getByRole("dialog", { name: "Log in" }).getByRole("button", { name: "Cancel" }).click();
    assert.equal(await page.getByRole("dialog").count(), 0);
    assert.equal(await focusedName(), "Login");
  });
});
