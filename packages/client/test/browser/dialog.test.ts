// The default login dialog in a real Chromium, checked by what a person sees and does:
// labels, focus, keys, alerts, and what reaches onSubmit / onCancel. The page
// (fixtures/dialog-page.ts) shows interactions the tests pick; screenshots go to
// test-artifacts/login-dialog-*.png.
import assert from "node:assert/strict";
import { after, afterEach, before, beforeEach, describe, test } from "node:test";
import type { Browser, BrowserContext, Page } from "playwright-core";
import type { Call, DialogPage, Kind } from "./fixtures/dialog-page.js";
import {
  artifactPath,
  browserSkipReason,
  bundle,
  launchBrowser,
  type PageWatch,
  type StaticServer,
  startStaticServer,
  watchPage,
} from "./harness.js";

const skip = browserSkipReason();

// Something behind the dialog, to see the backdrop and to check focus never reaches it.
const html = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>Notes</title>
<style>
  body { margin: 0; font: 16px system-ui, sans-serif; color: #18181b; background: #f4f4f5; }
  header { display: flex; justify-content: space-between; align-items: center; padding: 14px 24px; background: #fff; border-bottom: 1px solid #e4e4e7; }
  main { padding: 24px; display: grid; gap: 12px; max-width: 640px; }
  .note { background: #fff; border: 1px solid #e4e4e7; border-radius: 8px; padding: 14px 16px; }
</style></head>
<body>
<header><strong>Notes</strong><button id="behind">Login</button></header>
<main>
  <div class="note">Shopping list: oat milk, coffee, lemons</div>
  <div class="note">Call the plumber about the kitchen tap</div>
  <div class="note"><a href="#elsewhere" id="link">Ideas for the weekend</a></div>
</main>
<script type="module" src="/dialog-page.js"></script>
</body></html>`;

let browser: Browser;
let site: StaticServer;
let context: BrowserContext;
let page: Page;
let watch: PageWatch;

before(async () => {
  if (skip) return;
  const script = await bundle(new URL("./fixtures/dialog-page.ts", import.meta.url).pathname);
  site = await startStaticServer({ "/": html, "/dialog-page.js": script });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await site?.close();
});

beforeEach(async () => {
  if (skip) return;
  context = await browser.newContext({ viewport: { width: 720, height: 560 }, deviceScaleFactor: 2 });
  page = await context.newPage();
  watch = watchPage(page);
  await page.goto(`${site.url}/`);
  await page.waitForFunction(() => "show" in window);
});

afterEach(async () => {
  if (skip) return;
  try {
    watch.assertNoErrors();
  } finally {
    await context.close();
  }
});

const show = (kind: Kind) => page.evaluate((k) => (window as unknown as DialogPage).show(k), kind);
const hide = () => page.evaluate(() => (window as unknown as DialogPage).hide());
const calls = () => page.evaluate(() => (window as unknown as DialogPage).calls) as Promise<Call[]>;
const host = () => page.locator("meshauth-login-dialog");
/** Lets tasks the last input queued (such as a dialog's `close` event) run. */
const settle = () => page.evaluate(() => new Promise((resolve) => setTimeout(resolve, 50)));

/** What has focus, looking into the dialog's shadow root: "<tag>[name]" or "<tag>:<text>". */
function focused(): Promise<string> {
  return page.evaluate(() => {
    let element = document.activeElement;
    while (element?.shadowRoot?.activeElement) element = element.shadowRoot.activeElement;
    if (!element) return "none";
    const name = element.getAttribute("name");
    const tag = element.tagName.toLowerCase();
    return name ? `${tag}[${name}]` : `${tag}:${element.textContent?.trim() ?? ""}`;
  });
}

/** Whether the focus is inside the dialog (its host is the document's active element). */
const focusInDialog = () =>
  page.evaluate(
    () =>
      document.activeElement?.tagName === "MESHAUTH-LOGIN-DIALOG" &&
      document.activeElement.shadowRoot?.activeElement != null,
  );

/** WCAG 2 contrast ratio of two `rgb(r, g, b)` colours. */
function contrast(a: string, b: string): number {
  const luminance = (color: string) => {
    const [r = 0, g = 0, b2 = 0] = (color.match(/[\d.]+/g) ?? []).map(Number).map((v) => {
      const c = v / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b2;
  };
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
  return (hi + 0.05) / (lo + 0.05);
}

describe("the default login dialog", { skip }, () => {
  test("email: a labelled, focused email input; typing and Enter submits the address", async () => {
    await show("email");
    const dialog = page.getByRole("dialog", { name: "Log in" });
    await dialog.waitFor();
    const email = dialog.getByLabel("Email");
    assert.equal(await email.getAttribute("type"), "email");
    assert.equal(await email.getAttribute("autocomplete"), "email");
    assert.equal(await email.getAttribute("name"), "email");
    assert.equal(await email.getAttribute("placeholder"), "you@example.com");
    assert.equal(await email.evaluate((e: HTMLInputElement) => e.required), true);
    assert.equal(await focused(), "input[email]");
    assert.deepEqual(
      await dialog.getByRole("button").allTextContents(),
      ["Send code", "Cancel"],
      "a submit and a cancel button",
    );
    // Modal: the page behind is inert.
    assert.equal(await page.locator("#behind").evaluate((e) => e.matches(":modal, :modal *")), false);
    await page.screenshot({ path: artifactPath("login-dialog-email.png") });

    await page.keyboard.type("  ann@example.com ");
    await page.keyboard.press("Enter");
    assert.deepEqual(await calls(), [
      { kind: "submit", title: "Log in", values: { email: "ann@example.com" } },
    ]);
  });

  test("the page behind cannot be clicked while the dialog is open", async () => {
    await show("email");
    await host().getByLabel("Email").waitFor();
    await assert.rejects(
      page.locator("#behind").click({ timeout: 500 }),
      /intercepts pointer events|Timeout/,
    );
  });

  test("Cancel and Escape call onCancel and leave closing to the SDK", async () => {
    await show("email");
    await host().getByRole("button", { name: "Cancel" }).click();
    await page.keyboard.press("Escape");
    // Chrome closes a modal on a second Escape without a click in between unless handled.
    await page.keyboard.press("Escape");
    await settle();
    assert.deepEqual(
      (await calls()).map((c) => c.kind),
      ["cancel", "cancel", "cancel"],
    );
    assert.equal(await host().getByRole("dialog").isVisible(), true, "still open: the SDK decides");
    assert.equal(await focusInDialog(), true);
  });

  test("Escape and Cancel give the focus back to what opened the dialog once the SDK closes it", async () => {
    for (const how of ["Escape", "Cancel"] as const) {
      await page.locator("#behind").focus();
      await show("email");
      await host().getByLabel("Email").waitFor();
      assert.equal(await focusInDialog(), true);
      if (how === "Escape") await page.keyboard.press("Escape");
      else await host().getByRole("button", { name: "Cancel" }).click();
      // The SDK answers a cancel by ending the interaction.
      await hide();
      await settle();
      assert.equal(await focused(), "button:Login", `${how}: back on the Login button`);
    }
  });

  test("dark mode: the primary button's text has at least 4.5:1 contrast; inputs are 16 px or more", async () => {
    for (const scheme of ["light", "dark"] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      for (const kind of ["email", "otp", "logout-confirmation"] as const) {
        await show(kind);
        const submit = host().locator("button.submit");
        const [fg, bg] = await submit.evaluate((e) => {
          const style = getComputedStyle(e);
          return [style.color, style.backgroundColor];
        });
        const ratio = contrast(fg, bg);
        assert.ok(ratio >= 4.5, `${scheme} ${kind}: ${fg} on ${bg} is ${ratio.toFixed(2)}:1`);
        for (const size of await host()
          .locator("input")
          .evaluateAll((inputs) => inputs.map((i) => Number.parseFloat(getComputedStyle(i).fontSize)))) {
          assert.ok(size >= 16, `${scheme} ${kind}: an input's font is ${size}px (iOS zooms under 16)`);
        }
      }
    }
  });

  test("alerts: resolved text, message codes, errors as role=alert and described by", async () => {
    await show("email-invalid");
    const dialog = page.getByRole("dialog", { name: "Log in" });
    const error = dialog.getByRole("alert");
    assert.equal(await error.textContent(), "ann@example is not an email address.");
    assert.equal(await error.getAttribute("data-message-code"), "INVALID_EMAIL");
    const description = await dialog.evaluate((d) => {
      const id = d.getAttribute("aria-describedby") ?? "";
      return (d.getRootNode() as ShadowRoot).getElementById(id)?.textContent;
    });
    assert.equal(description, "ann@example is not an email address.");
    const input = dialog.getByLabel("Email");
    assert.equal(await input.inputValue(), "ann@example", "the address is shown again");
    assert.equal(await input.getAttribute("aria-invalid"), "true");
    assert.equal(await focused(), "input[email]");
    // The prefilled text is selected, so typing replaces it.
    await page.keyboard.type("ann@example.org");
    await page.keyboard.press("Enter");
    assert.deepEqual((await calls())[0]?.values, { email: "ann@example.org" });

    // Info alerts are polite status messages, not alerts.
    await show("otp");
    const status = page.getByRole("dialog", { name: "Enter your code" }).getByRole("status");
    assert.equal(await status.textContent(), "We sent a code to ann@example.com. Enter it below.");
    assert.equal(await status.getAttribute("data-message-code"), "OTP_SENT");
    assert.equal(await status.getAttribute("aria-live"), "polite");
    assert.equal(await page.getByRole("alert").count(), 0);
  });

  test("otp: a one-time-code input for digits; the code is submitted", async () => {
    await show("email");
    await host().getByLabel("Email").fill("ann@example.com");
    await host().getByRole("button", { name: "Send code" }).click();
    await show("otp");
    const dialog = page.getByRole("dialog", { name: "Enter your code" });
    const code = dialog.getByLabel("Code");
    assert.equal(await code.getAttribute("autocomplete"), "one-time-code");
    assert.equal(await code.getAttribute("inputmode"), "numeric");
    assert.equal(await code.getAttribute("type"), "text");
    assert.equal(await focused(), "input[otp]", "focus moves to the new step's input");
    assert.equal(await code.inputValue(), "");
    await page.keyboard.type("1234");
    await page.screenshot({ path: artifactPath("login-dialog-otp.png") });
    await page.keyboard.type("5678");
    await dialog.getByRole("button", { name: "Log in" }).click();
    assert.deepEqual(await calls(), [
      { kind: "submit", title: "Log in", values: { email: "ann@example.com" } },
      { kind: "submit", title: "Enter your code", values: { otp: "12345678" } },
    ]);
  });

  test("provider: one button per option submits its method", async () => {
    await show("provider");
    const dialog = page.getByRole("dialog", { name: "Log in to Notes" });
    assert.deepEqual(await dialog.getByRole("button").allTextContents(), [
      "Continue with email",
      "Continue with Acme ID",
      "Continue with Corp SSO",
      "Cancel",
    ]);
    const acme = dialog.getByRole("button", { name: "Continue with Acme ID" });
    assert.equal(await acme.locator("img").getAttribute("alt"), "", "icons are decorative");
    assert.equal(await focused(), "button:Continue with email");
    await page.screenshot({ path: artifactPath("login-dialog-provider.png") });
    await acme.click();
    assert.deepEqual(await calls(), [
      { kind: "submit", title: "Log in to Notes", values: { method: "acme" } },
    ]);
    assert.equal(await acme.isDisabled(), true, "one choice per interaction");
  });

  test("Tab and Shift+Tab cycle inside the dialog", async () => {
    await show("generic");
    await host().getByLabel("Username").waitFor();
    const forward: string[] = [];
    for (let i = 0; i < 10; i++) {
      await page.keyboard.press("Tab");
      assert.equal(await focusInDialog(), true, `after ${i + 1} Tab(s)`);
      forward.push(await focused());
    }
    assert.deepEqual(forward.slice(0, 4), [
      "input[password]",
      "button:Log in",
      "button:Cancel",
      "input[username]",
    ]);
    const backward: string[] = [];
    for (let i = 0; i < 10; i++) {
      await page.keyboard.press("Shift+Tab");
      assert.equal(await focusInDialog(), true, `after ${i + 1} Shift+Tab(s)`);
      backward.push(await focused());
    }
    // Ten Tabs from the username field end on "Log in"; back from there.
    assert.equal(forward[9], "button:Log in");
    assert.deepEqual(backward.slice(0, 4), [
      "input[password]",
      "input[username]",
      "button:Cancel",
      "button:Log in",
    ]);
    assert.equal(await host().getByLabel("Password").getAttribute("autocomplete"), "current-password");
    assert.equal(await host().getByLabel("Password").getAttribute("type"), "password");
  });

  test("after submit the form is busy until the next interaction", async () => {
    await show("email-prefilled");
    const submit = host().getByRole("button", { name: "Send code" });
    await submit.dblclick();
    await page.keyboard.press("Enter");
    assert.equal((await calls()).length, 1, "submitted once");
    assert.equal(await submit.isDisabled(), true);
    assert.equal(await host().getByRole("button", { name: "Cancel" }).isDisabled(), true);
    assert.equal(await host().locator("form").getAttribute("aria-busy"), "true");
    assert.equal(await focusInDialog(), true, "the focus stays in the dialog");

    await show("email-invalid");
    assert.equal(await submit.isDisabled(), false);
    assert.equal(await host().locator("form").getAttribute("aria-busy"), null);
    await submit.click();
    assert.equal((await calls()).length, 2);
  });

  test("undefined removes the dialog; detaching removes it too", async () => {
    await show("email");
    await host().getByRole("dialog").waitFor();
    await hide();
    assert.equal(await host().count(), 0);
    assert.equal(await page.getByRole("dialog").count(), 0);
    await page.locator("#behind").click({ timeout: 2000 });

    await show("otp");
    assert.equal(await page.getByRole("dialog", { name: "Enter your code" }).isVisible(), true);
    await page.evaluate(() => (window as unknown as DialogPage).detach());
    assert.equal(await host().count(), 0);
    await show("email");
    assert.equal(await host().count(), 0, "no longer following");
  });

  test("message-alert: OK only, Escape does not cancel; logout confirmation focuses the safe choice", async () => {
    await show("message-alert");
    const message = page.getByRole("dialog", { name: "Session ended" });
    assert.deepEqual(await message.getByRole("button").allTextContents(), ["OK"]);
    assert.equal(await message.getByRole("status").getAttribute("data-message-code"), "SESSION_ENDED");
    await page.keyboard.press("Escape");
    await page.keyboard.press("Escape");
    await settle();
    assert.equal(await message.isVisible(), true);
    assert.equal(await focused(), "button:OK");
    assert.deepEqual(await calls(), []);
    await page.keyboard.press("Enter");
    assert.deepEqual(await calls(), [{ kind: "submit", title: "Session ended", values: {} }]);

    await show("logout-confirmation");
    const confirm = page.getByRole("dialog", { name: "Log out?" });
    assert.equal(
      await confirm.getByRole("status").textContent(),
      "3 change(s) on this device have not been synced yet and may be lost if you log out.",
    );
    assert.deepEqual(await confirm.getByRole("button").allTextContents(), [
      "Log out anyway",
      "Stay logged in",
    ]);
    assert.equal(await focused(), "button:Stay logged in");
    await confirm.getByRole("button", { name: "Log out anyway" }).click();
    assert.deepEqual((await calls())[1], { kind: "submit", title: "Log out?", values: {} });
  });

  test("markup in titles, messages and labels is shown as text", async () => {
    await show("html");
    const markup = '<img src=x onerror="window.injected = true"><b>bold</b>';
    const dialog = page.getByRole("dialog", { name: `Hello ${markup}` });
    await dialog.waitFor();
    assert.equal(await dialog.getByRole("alert").textContent(), `Failed for ${markup}`);
    assert.equal(await dialog.getByLabel(`Email ${markup}`).getAttribute("placeholder"), markup);
    assert.equal(await dialog.getByRole("button", { name: `Go ${markup}` }).count(), 1);
    assert.equal(await host().locator("img, b").count(), 0, "no element was created");
    await page.waitForTimeout(100);
    assert.equal(await page.evaluate(() => (window as unknown as DialogPage).injected), undefined);
  });

  test("themeable with custom properties; dark by prefers-color-scheme", async () => {
    await page.addStyleTag({ content: "meshauth-login-dialog { --meshauth-accent: rgb(15, 118, 110); }" });
    await show("email");
    const submit = host().getByRole("button", { name: "Send code" });
    assert.equal(await submit.evaluate((e) => getComputedStyle(e).backgroundColor), "rgb(15, 118, 110)");

    await page.emulateMedia({ colorScheme: "dark" });
    await show("otp");
    const background = await host()
      .getByRole("dialog")
      .evaluate((e) => getComputedStyle(e).backgroundColor);
    assert.equal(background, "rgb(28, 28, 33)");
    await page.screenshot({ path: artifactPath("login-dialog-otp-dark.png") });
  });
});

test("the dialog module can be imported outside a browser", async () => {
  const dialog = await import("../../src/dialog/index.js");
  assert.equal(typeof dialog.MeshauthLoginDialog, "function");
  assert.equal(typeof dialog.attachLoginDialog, "function");
  assert.equal(typeof dialog.defineLoginDialog, "function");
});
