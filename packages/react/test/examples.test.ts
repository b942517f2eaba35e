// The pages in examples/ (what `npm run example` serves) in Chromium against a real hub
// and SMTP server: the plain page logs in through the SDK's default dialog, the React
// page through its own dialog. Keeps the examples working as examples/README.md says.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
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
    const page = await env.open("/");
    const email = `web${++counter}@example.com`;
    await shows(page.locator("#state"), "Logged out");
    assert.equal(await page.locator("#details").isHidden(), true);

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
    await page.getByRole("button", { name: "Logout" }).click();
    await shows(page.locator("#state"), "Logged out");
    await shows(page.locator("#message"), "Logged out; the hub ended the session.");
  });

  test("react: the custom dialog shows a wrong code's alert, then logs in", {
    timeout: TIMEOUT,
  }, async () => {
    const page = await env.open("/react/");
    const email = `react${++counter}@example.com`;
    const user = page.locator("main p").first();
    await shows(user, "Logged out");

    await page.getByRole("button", { name: "Login" }).click();
    const ask = page.getByRole("dialog", { name: "Log in" });
    await ask.getByRole("textbox", { name: "Email" }).fill(email);
    await ask.getByRole("button", { name: "Send code" }).click();
    const otp = page.getByRole("dialog", { name: "Enter your code" });
    await shows(otp.getByRole("alert"), `We sent a code to ${email}. Enter it below.`);
    const code = await env.t.codeFor(email);
    await otp.getByRole("textbox", { name: "Code" }).fill(code === "00000000" ? "11111111" : "00000000");
    await otp.getByRole("button", { name: "Log in" }).click();
    await shows(otp.getByRole("alert"), "That code is not right. Check the email and try again.");
    await otp.getByRole("textbox", { name: "Code" }).fill(code);
    await otp.getByRole("button", { name: "Log in" }).click();

    await shows(user, `Logged in as ${email} (active)`);
    assert.equal(await page.getByRole("dialog").count(), 0);
    await page.reload();
    await shows(user, `Logged in as ${email} (active)`);
  });
});
