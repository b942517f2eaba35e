import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { MeshauthError } from "@meshauth/core";
import type { EmailSettings } from "../src/apps/model.js";
import {
  defaultSenderFor,
  escapeHtml,
  type LoginEmailInput,
  magicLink,
  renderLoginEmail,
} from "../src/email/index.js";

function input(email: EmailSettings = {}, name = "Acme"): LoginEmailInput {
  return {
    app: { name },
    email,
    code: "12345678",
    otpId: "otp_abc",
    expiresInSeconds: 600,
    defaultFrom: "login@hub.example.com",
  };
}

describe("login email rendering", () => {
  test("defaults: subject, text and HTML carry the code, the app and the expiry", () => {
    const m = renderLoginEmail(input());
    assert.equal(m.subject, "12345678 is your Acme login code");
    assert.match(m.text, /Your Acme login code is:\n\n {4}12345678\n/);
    assert.match(m.text, /expires in 10 minutes/);
    assert.match(m.text, /did not ask for this code, you can ignore this email/);
    assert.match(m.html, /font-size:32px[^>]*>12345678<\/p>/);
    assert.match(m.html, /expires in 10 minutes/);
    assert.match(m.html, /ignore this email/);
    assert.doesNotMatch(m.text + m.html, /\{(code|app|minutes|link)\}/);
    assert.doesNotMatch(m.html, /href=/, "no link without magicLinkUrl");
    assert.equal(m.to, undefined);
  });

  test("a bare default sender gets the app's name as display name; the app's own from is kept", () => {
    assert.equal(renderLoginEmail(input()).from, '"Acme" <login@hub.example.com>');
    assert.equal(
      renderLoginEmail(input({}, 'Evil" <x@evil.test>')).from,
      '"Evil\\" <x@evil.test>" <login@hub.example.com>',
    );
    const named = { ...input(), defaultFrom: "Hub <login@hub.example.com>" };
    assert.equal(renderLoginEmail(named).from, "Hub <login@hub.example.com>");
    assert.equal(renderLoginEmail(input({ from: "My App <me@app.test>" })).from, "My App <me@app.test>");
  });

  test("minutes round up and never show 0", () => {
    assert.match(renderLoginEmail({ ...input(), expiresInSeconds: 61 }).text, /in 2 minutes/);
    assert.match(renderLoginEmail({ ...input(), expiresInSeconds: 5 }).text, /in 1 minutes/);
  });

  test("HTML values are escaped, the text is not", () => {
    const name = `<script>alert("x")</script> & 'Co'`;
    const m = renderLoginEmail(input({ magicLinkUrl: "https://app.test/login" }, name));
    assert.ok(!m.html.includes("<script>"));
    assert.ok(m.html.includes("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;Co&#39;"));
    assert.ok(m.text.includes(name));
    assert.ok(m.subject.includes(name));
    // In an attribute the & of the query must be escaped too.
    assert.ok(m.html.includes('href="https://app.test/login?otp_id=otp_abc&amp;otp=12345678"'));
  });

  test("custom templates replace the defaults; every placeholder is filled once", () => {
    const m = renderLoginEmail(
      input({
        subject: "[{app}] code {code}",
        text: "code={code} app={app} min={minutes} link={link} other={other}",
        html: "<b>{code}</b> <a href='{link}'>{app}</a>",
        from: "Acme Login <login@acme.test>",
        magicLinkUrl: "https://acme.test/in",
      }),
    );
    assert.equal(m.subject, "[Acme] code 12345678");
    assert.equal(
      m.text,
      "code=12345678 app=Acme min=10 link=https://acme.test/in?otp_id=otp_abc&otp=12345678 other={other}",
    );
    assert.equal(
      m.html,
      "<b>12345678</b> <a href='https://acme.test/in?otp_id=otp_abc&amp;otp=12345678'>Acme</a>",
    );
    assert.equal(m.from, "Acme Login <login@acme.test>");
    // A value that contains a placeholder is not expanded again.
    assert.equal(renderLoginEmail(input({ subject: "{app}" }, "{code}")).subject, "{code}");
    // {link} without a magic link URL is empty.
    assert.equal(renderLoginEmail(input({ text: "[{link}]" })).text, "[]");
  });

  test("magic link: encoded, joined with & to an existing query, before the fragment", () => {
    assert.equal(magicLink("https://a.test/cb", "otp_1", "42"), "https://a.test/cb?otp_id=otp_1&otp=42");
    assert.equal(magicLink("https://a.test/cb?x=1", "o", "c"), "https://a.test/cb?x=1&otp_id=o&otp=c");
    assert.equal(magicLink("https://a.test/cb?", "o", "c"), "https://a.test/cb?otp_id=o&otp=c");
    assert.equal(magicLink("https://a.test/cb?x=1&", "o", "c"), "https://a.test/cb?x=1&otp_id=o&otp=c");
    assert.equal(magicLink("https://a.test/#/login", "o", "c"), "https://a.test/?otp_id=o&otp=c#/login");
    assert.equal(
      magicLink("https://a.test/cb", "a&b=c d", "1+2/3?"),
      "https://a.test/cb?otp_id=a%26b%3Dc%20d&otp=1%2B2%2F3%3F",
    );
    const link = new URL(magicLink("https://a.test/cb?x=1", "otp_&?", "12 34"));
    assert.equal(link.searchParams.get("x"), "1");
    assert.equal(link.searchParams.get("otp_id"), "otp_&?");
    assert.equal(link.searchParams.get("otp"), "12 34");
  });

  test("the default templates include the magic link when set", () => {
    const m = renderLoginEmail(input({ magicLinkUrl: "https://app.test/login?src=mail" }));
    const link = "https://app.test/login?src=mail&otp_id=otp_abc&otp=12345678";
    assert.ok(m.text.includes(`\n${link}\n`));
    assert.ok(m.html.includes(`href="${escapeHtml(link)}"`));
    assert.match(m.text, /The code and the link expire in 10 minutes/);
  });

  test("line breaks in a subject template become spaces; an address with one is refused", () => {
    const m = renderLoginEmail(input({ subject: "Code {code}\r\nBcc: victim@evil.test\n\rX-Evil: 1" }));
    assert.equal(m.subject, "Code 12345678 Bcc: victim@evil.test X-Evil: 1");
    const sub = renderLoginEmail(input({ subject: "{app} login" }, "Acme\r\nBcc: x@evil.test"));
    assert.ok(!/[\r\n]/.test(sub.subject));
    const refused = (e: unknown) => e instanceof MeshauthError && e.code === "provider_unavailable";
    assert.throws(() => renderLoginEmail(input({ from: "a@b.test\r\nBcc: x@evil.test" })), refused);
    assert.throws(() => renderLoginEmail({ ...input(), defaultFrom: "a@b.test\nBcc: x@evil.test" }), refused);
    assert.throws(() => renderLoginEmail({ ...input(), to: "ada@example.com\r\nBcc: x@evil.test" }), refused);
    assert.equal(renderLoginEmail({ ...input(), to: "ada@example.com" }).to, "ada@example.com");
  });

  test("default sender from the issuer", () => {
    assert.equal(defaultSenderFor("https://auth.example.com"), "no-reply@auth.example.com");
    assert.equal(defaultSenderFor("http://127.0.0.1:4000"), "no-reply@localhost");
    assert.equal(defaultSenderFor("http://[::1]:4000"), "no-reply@localhost");
  });
});
