// @meshauth/react: the hooks and <LoginDialog> rendered on the server (markup and
// errors), then a React app in a real Chromium against a real hub and SMTP server,
// driven by typing and clicking.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import type { MeshauthClient, UserInteraction } from "@meshauth/client";
import type { Locator, Page } from "playwright-core";
import { createElement as h } from "react";
import { renderToStaticMarkup } from "react-dom/server";
import {
  artifactPath,
  browserSkipReason,
  browserSuite,
  bundle,
  shows,
} from "../../client/test/browser/harness.js";
import { LoginDialog, MeshauthProvider, useCurrentUser, useMeshauth, useObservable } from "../src/index.js";

// ---- on the server: no browser needed -------------------------------------------

function observable<T>(value: T) {
  return {
    value,
    subscribe(fn: (v: T) => void) {
      fn(value);
      return { unsubscribe() {} };
    },
  };
}

function interaction(overrides: Partial<UserInteraction> & Pick<UserInteraction, "type">): UserInteraction {
  return {
    title: "Log in",
    alerts: [],
    fields: {},
    submitLabel: "Continue",
    onSubmit() {},
    onCancel() {},
    ...overrides,
  } as UserInteraction;
}

describe("hooks and LoginDialog, rendered to markup", () => {
  test("useMeshauth and LoginDialog name the provider they miss", () => {
    const Orphan = () => {
      useMeshauth();
      return null;
    };
    assert.throws(() => renderToStaticMarkup(h(Orphan)), /wrap the app in <MeshauthProvider/);
    assert.throws(() => renderToStaticMarkup(h(LoginDialog)), /MeshauthProvider/);
  });

  test("useCurrentUser and useObservable read the client's values", () => {
    const client = {
      currentUser: observable({ isLoggedIn: false, status: "anonymous" }),
      userInteraction: observable(undefined),
    } as unknown as MeshauthClient;
    const Show = () => {
      const user = useCurrentUser();
      const n = useObservable(observable(7));
      return h("p", null, `${user.status} ${n}`);
    };
    assert.equal(renderToStaticMarkup(h(MeshauthProvider, { client }, h(Show))), "<p>anonymous 7</p>");
    // Nothing asked: the dialog draws nothing.
    assert.equal(renderToStaticMarkup(h(MeshauthProvider, { client }, h(LoginDialog))), "");
  });

  test("an OTP step: labelled one-time-code input, alerts with codes and roles, cancel", () => {
    const html = renderToStaticMarkup(
      h(LoginDialog, {
        className: "login",
        interaction: interaction({
          type: "otp",
          email: "ada@example.com",
          title: "Enter your code",
          alerts: [
            {
              type: "info",
              messageCode: "OTP_SENT",
              message: "We sent a code to {email}.",
              messageParams: { email: "ada@example.com" },
            },
            { type: "error", messageCode: "INVALID_OTP", message: "Wrong code.", messageParams: {} },
          ],
          fields: { otp: { type: "otp", label: "Code", placeholder: "12345678" } },
          submitLabel: "Log in",
          cancelLabel: "Cancel",
        }),
      }),
    );
    assert.match(
      html,
      /^<dialog class="login" aria-modal="true" aria-labelledby="([^"]+)" aria-describedby="[^"]+" data-interaction="otp"><h2 id="\1"/,
    );
    assert.match(
      html,
      /<p role="status"[^>]*data-message-code="OTP_SENT">We sent a code to ada@example.com.<\/p>/,
    );
    assert.match(
      html,
      /<p role="alert"[^>]*data-alert-type="error" data-message-code="INVALID_OTP">Wrong code.<\/p>/,
    );
    const input = /<input [^>]*>/.exec(html)?.[0] ?? "";
    assert.match(input, /type="text"/);
    assert.match(input, /autoComplete="one-time-code"/i);
    assert.match(input, /inputMode="numeric"/i);
    assert.match(input, /name="otp"/);
    const id = /id="([^"]+)"/.exec(input)?.[1];
    assert.ok(html.includes(`<label for="${id}" data-part="label">Code</label>`), html);
    assert.match(html, /<button type="submit" data-part="submit">Log in<\/button>/);
    assert.match(html, /<button type="button" data-part="cancel">Cancel<\/button>/);
  });

  test("a provider picker offers one button per option and no bare submit", () => {
    const html = renderToStaticMarkup(
      h(LoginDialog, {
        modal: false,
        interaction: interaction({
          type: "provider",
          options: [
            { value: "email", displayName: "Email me a code" },
            { value: "sso", displayName: "Company login", iconUrl: "/sso.svg" },
          ],
        }),
      }),
    );
    assert.match(html, /<dialog open=""/);
    assert.doesNotMatch(html, /aria-modal/);
    assert.match(
      html,
      /<button type="button" value="email"[^>]*data-part="option">Email me a code<\/button>/,
    );
    assert.match(html, /value="sso" data-part="option"><img src="\/sso.svg" alt=""[^>]*\/>Company login/);
    assert.doesNotMatch(html, /type="submit"/);
  });

  test("email and password fields get their autocomplete hints", () => {
    const html = renderToStaticMarkup(
      h(LoginDialog, {
        interaction: interaction({
          type: "generic",
          fields: {
            email: { type: "email", label: "Email", value: "ada@example.com" },
            password: { type: "password", label: "Password" },
          },
        }),
      }),
    );
    assert.match(html, /<input type="email" autoComplete="email"[^>]*name="email" value="ada@example.com"/i);
    assert.match(html, /<input type="password" autoComplete="current-password"/i);
  });
});

test("docs/react.md shows examples/react/main.tsx as it is, under 100 lines", () => {
  const read = (path: string) => readFileSync(new URL(`../../../${path}`, import.meta.url), "utf8");
  const example = read("examples/react/main.tsx");
  assert.ok(example.split("\n").length <= 100, "the React example has grown past 100 lines");
  assert.ok(
    read("docs/react.md").includes(`\`\`\`tsx\n${example}\`\`\``),
    "docs/react.md's custom dialog differs from examples/react/main.tsx: copy it over",
  );
});

// ---- in Chromium, against a real hub ---------------------------------------------

const skip = browserSkipReason();
const TIMEOUT = 60_000;
let counter = 0;

describe("a React app in Chromium", { skip }, () => {
  const env = browserSuite(
    async () => ({
      "/": '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Notes</title></head><body><script type="module" src="/page.js"></script></body></html>',
      "/page.js": await bundle(new URL("./fixtures/page.tsx", import.meta.url).pathname, { jsx: true }),
    }),
    { context: { viewport: { width: 900, height: 700 } } },
  );

  async function openApp(query: Record<string, string> = {}): Promise<Page> {
    const page = await env.open(
      `/?${new URLSearchParams({ hub: env.t.hub.url, app: env.t.app.id, ...query })}`,
    );
    await page.locator("body[data-ready]").waitFor();
    return page;
  }

  const freshEmail = () => `react${++counter}@example.com`;

  test("log in with an emailed code through <LoginDialog>; a reload keeps the session", {
    timeout: TIMEOUT,
  }, async () => {
    const page = await openApp();
    await shows(page.locator("#user"), "Logged out");
    assert.equal(await page.getByRole("dialog").count(), 0, "no dialog before login()");
    const email = freshEmail();

    await page.getByRole("button", { name: "Login" }).click();
    const ask = page.getByRole("dialog", { name: "Log in" });
    const emailInput = ask.getByLabel("Email");
    assert.equal(await emailInput.getAttribute("type"), "email");
    assert.equal(await emailInput.getAttribute("autocomplete"), "email");
    await assertFocused(emailInput);
    await emailInput.fill(email);
    await ask.getByRole("button", { name: "Send code" }).click();

    const otp = page.getByRole("dialog", { name: "Enter your code" });
    const sent = otp.getByRole("status");
    await shows(sent, `We sent a code to ${email}. Enter it below.`);
    assert.equal(await sent.getAttribute("data-message-code"), "OTP_SENT");
    const codeInput = otp.getByLabel("Code");
    assert.equal(await codeInput.getAttribute("autocomplete"), "one-time-code");
    assert.equal(await codeInput.getAttribute("inputmode"), "numeric");
    assert.equal(await codeInput.inputValue(), "", "a new step starts with an empty form");
    await assertFocused(codeInput);
    await page.screenshot({ path: artifactPath("react-login-dialog.png") });
    await codeInput.fill(await env.t.codeFor(email));
    await otp.getByRole("button", { name: "Log in" }).click();

    await shows(page.locator("#user"), `Logged in as ${email}`);
    assert.equal(await page.getByRole("dialog").count(), 0, "the dialog is gone");
    assert.equal(await page.locator("#error").textContent(), "");

    await page.reload();
    await page.locator("body[data-ready]").waitFor();
    await shows(page.locator("#user"), `Logged in as ${email}`);

    await page.getByRole("button", { name: "Logout" }).click();
    await shows(page.locator("#user"), "Logged out");
  });

  test("a wrong code shows an INVALID_OTP alert; the right one then logs in", {
    timeout: TIMEOUT,
  }, async () => {
    const page = await openApp({ modal: "false" });
    const email = freshEmail();
    await page.getByRole("button", { name: "Login" }).click();
    const ask = page.getByRole("dialog", { name: "Log in" });
    await ask.getByLabel("Email").fill(email);
    await ask.getByLabel("Email").press("Enter");

    const otp = page.getByRole("dialog", { name: "Enter your code" });
    const code = await env.t.codeFor(email);
    await otp.getByLabel("Code").fill(code === "00000000" ? "11111111" : "00000000");
    await otp.getByRole("button", { name: "Log in" }).click();
    const alert = otp.getByRole("alert");
    await shows(alert, "That code is not right. Check the email and try again: 4 attempts left.");
    assert.equal(await alert.getAttribute("data-message-code"), "INVALID_OTP");
    assert.equal(await alert.getAttribute("data-alert-type"), "error");
    assert.equal(await otp.getAttribute("aria-describedby"), await alert.locator("..").getAttribute("id"));
    assert.equal(await otp.getByLabel("Code").inputValue(), "", "the wrong code was cleared");

    await otp.getByLabel("Code").fill(code);
    await otp.getByRole("button", { name: "Log in" }).click();
    await shows(page.locator("#user"), `Logged in as ${email}`);
    assert.equal(await page.getByRole("dialog").count(), 0);
  });

  test("Cancel and Escape end login() with an AbortError and close the dialog", {
    timeout: TIMEOUT,
  }, async () => {
    const page = await openApp();
    await page.getByRole("button", { name: "Login" }).click();
    await page.getByRole("dialog", { name: "Log in" }).getByRole("button", { name: "Cancel" }).click();
    await shows(page.locator("#error"), /^AbortError: /);
    assert.equal(await page.getByRole("dialog").count(), 0);
    await assertFocused(page.getByRole("button", { name: "Login" }), "the focus goes back to Login");

    await page.getByRole("button", { name: "Login" }).click();
    await shows(page.locator("#error"), "");
    await page.getByRole("dialog", { name: "Log in" }).getByLabel("Email").waitFor();
    await page.keyboard.press("Escape");
    await shows(page.locator("#error"), /^AbortError: /);
    assert.equal(await page.getByRole("dialog").count(), 0);
    await shows(page.locator("#user"), "Logged out");
  });
});

async function assertFocused(locator: Locator, message = "the input does not have the focus"): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!(await locator.evaluate((el) => el === document.activeElement))) {
    if (Date.now() > deadline) assert.fail(message);
    await new Promise((r) => setTimeout(r, 50));
  }
}
