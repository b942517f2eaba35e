import assert from "node:assert/strict";
import { createServer } from "node:net";
import { after, before, describe, test } from "node:test";
import { MeshauthError } from "@meshauth/core";
import type { EmailSettings } from "../src/apps/model.js";
import {
  createMailer,
  DevMailbox,
  loginCodeSender,
  renderLoginEmail,
  SmtpMailer,
} from "../src/email/index.js";
import { startSmtpServer, type TestSmtpServer } from "./helpers/smtp.js";

/** A loopback port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

function providerUnavailable(secrets: string[]) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof MeshauthError, `expected a MeshauthError, got ${String(e)}`);
    assert.equal(e.code, "provider_unavailable");
    assert.match(e.message, /^cannot send email: /);
    const shown = `${e.message} ${JSON.stringify(e.details)} ${e.stack ?? ""}`;
    for (const s of secrets) assert.ok(!shown.includes(s), `error shows ${s}: ${e.message}`);
    return true;
  };
}

describe("SmtpMailer through a real SMTP server", () => {
  let smtp: TestSmtpServer;
  let mailer: SmtpMailer;

  before(async () => {
    smtp = await startSmtpServer();
    mailer = new SmtpMailer(smtp.url);
  });
  after(async () => {
    await mailer.close();
    await smtp.close();
  });

  async function sendLogin(to: string, email: EmailSettings, name = "Acme", code = "12345678") {
    const send = loginCodeSender(mailer, "login@hub.example.com");
    await send({ app: { name, email }, email: to, code, otpId: "otp_abc123", expiresInSeconds: 600 });
    return smtp.waitForMessage((m) => m.envelope.to.includes(to));
  }

  test("the code arrives in the subject, the text part and the HTML part", async () => {
    const m = await sendLogin("ada@example.com", {});
    assert.deepEqual(m.envelope, { from: "login@hub.example.com", to: ["ada@example.com"] });
    assert.equal(m.subject, "12345678 is your Acme login code");
    // nodemailer drops quotes a display name does not need.
    assert.equal(m.from, "Acme <login@hub.example.com>");
    assert.equal(m.to, "ada@example.com");
    assert.match(m.text ?? "", /Your Acme login code is:\s+12345678\s/);
    assert.match(m.text ?? "", /expires in 10 minutes/);
    assert.match(m.html ?? "", />12345678<\/p>/);
    assert.match(m.headers.get("content-type")?.[0] ?? "", /^multipart\/alternative/);
  });

  test("a malicious app name is escaped in the HTML part", async () => {
    const name = `<img src=x onerror=alert(1)> "Acme" & Co`;
    const m = await sendLogin("eve@example.com", {}, name);
    assert.ok(m.html?.includes("&lt;img src=x onerror=alert(1)&gt; &quot;Acme&quot; &amp; Co"));
    assert.ok(!m.html?.includes("<img"));
    assert.ok(m.text?.includes(name));
    assert.equal(m.subject, `12345678 is your ${name} login code`);
    // The quoted display name cannot change the sender address.
    assert.equal(m.envelope.from, "login@hub.example.com");
    assert.match(m.from, /<img src=x onerror=alert\(1\)>.*<login@hub\.example\.com>$/);
  });

  test("custom subject, text, html and from are used, non-ASCII included", async () => {
    const m = await sendLogin("bob@example.com", {
      from: "Ünïcode Login <login@acme.test>",
      subject: "Dein Code für {app}: {code} — gültig {minutes} Minuten, bitte nicht weitergeben ✓",
      text: "Code: {code}\nGültig {minutes} Minuten.\n",
      html: "<p>Code: <b>{code}</b> für {app}</p>",
    });
    assert.equal(m.envelope.from, "login@acme.test");
    assert.equal(m.from, "Ünïcode Login <login@acme.test>");
    assert.equal(m.subject, "Dein Code für Acme: 12345678 — gültig 10 Minuten, bitte nicht weitergeben ✓");
    assert.equal(m.text?.trim(), "Code: 12345678\nGültig 10 Minuten.");
    assert.equal(m.html?.trim(), "<p>Code: <b>12345678</b> für Acme</p>");
  });

  test("the magic link arrives intact and carries otp_id and otp", async () => {
    const m = await sendLogin(
      "carol@example.com",
      { magicLinkUrl: "https://app.test/login?src=mail" },
      "Acme",
      "87654321",
    );
    const expected = "https://app.test/login?src=mail&otp_id=otp_abc123&otp=87654321";
    assert.ok(m.text?.includes(expected), m.text);
    assert.ok(m.html?.includes(`href="${expected.replaceAll("&", "&amp;")}"`));
    const found = /https:\/\/app\.test\/\S+/.exec(m.text ?? "")?.[0] ?? "";
    const url = new URL(found);
    assert.equal(url.searchParams.get("otp_id"), "otp_abc123");
    assert.equal(url.searchParams.get("otp"), "87654321");
    assert.equal(url.searchParams.get("src"), "mail");
  });

  test("a CRLF in the subject template cannot inject a header or a recipient", async () => {
    const m = await sendLogin("dave@example.com", {
      subject: "Code {code}\r\nBcc: victim@evil.test\r\nX-Injected: yes",
    });
    assert.deepEqual(m.envelope.to, ["dave@example.com"]);
    assert.equal(m.headers.get("bcc"), undefined);
    assert.equal(m.headers.get("x-injected"), undefined);
    assert.equal(m.headers.get("subject")?.length, 1);
    assert.equal(m.subject, "Code 12345678 Bcc: victim@evil.test X-Injected: yes");
    assert.ok(!smtp.messages.some((x) => x.envelope.to.includes("victim@evil.test")));
  });

  test("createMailer picks SMTP when a URL is set", async () => {
    const chosen = createMailer({ smtpUrl: smtp.url, log: () => {} });
    try {
      assert.ok(chosen instanceof SmtpMailer);
      assert.equal(chosen.server, `smtp://127.0.0.1:${smtp.port}`);
      const rendered = renderLoginEmail({
        app: { name: "Acme" },
        email: {},
        code: "24681357",
        otpId: "otp_x",
        expiresInSeconds: 300,
        defaultFrom: "login@hub.example.com",
      });
      await chosen.send({ ...rendered, to: "erin@example.com" });
      const m = await smtp.waitForMessage((x) => x.envelope.to.includes("erin@example.com"));
      assert.match(m.text ?? "", /24681357/);
      assert.match(m.text ?? "", /expires in 5 minutes/);
    } finally {
      await chosen.close();
    }
    assert.ok(createMailer({ log: () => {} }) instanceof DevMailbox);
  });
});

describe("SmtpMailer authentication and failures", () => {
  const user = "meshauth";
  const pass = "S3cr@t/pass:w0rd";

  test("credentials in the URL (percent-encoded) authenticate", async () => {
    const smtp = await startSmtpServer({ auth: { user, pass } });
    const mailer = new SmtpMailer(smtp.url);
    try {
      assert.ok(smtp.url.includes(encodeURIComponent(pass)));
      await mailer.send({
        to: "ada@example.com",
        from: "a@hub.test",
        subject: "s",
        text: "t",
        html: "<p>h</p>",
      });
      const m = await smtp.waitForMessage();
      assert.equal(m.subject, "s");
    } finally {
      await mailer.close();
      await smtp.close();
    }
  });

  test("a wrong password gives provider_unavailable without showing the password", async () => {
    const smtp = await startSmtpServer({ auth: { user, pass } });
    const wrong = "Wr0ng%2Fpa55word";
    const mailer = new SmtpMailer(`smtp://${user}:${wrong}@127.0.0.1:${smtp.port}`);
    try {
      await assert.rejects(
        mailer.send({ to: "ada@example.com", from: "a@hub.test", subject: "s", text: "t", html: "h" }),
        providerUnavailable([
          wrong,
          decodeURIComponent(wrong),
          Buffer.from("Wr0ng/pa55word").toString("base64"),
        ]),
      );
      assert.equal(smtp.messages.length, 0);
    } finally {
      await mailer.close();
      await smtp.close();
    }
  });

  test("an unreachable server gives provider_unavailable without showing the password", async () => {
    const port = await closedPort();
    const mailer = new SmtpMailer(`smtp://${user}:${encodeURIComponent(pass)}@127.0.0.1:${port}`);
    try {
      await assert.rejects(
        mailer.send({ to: "ada@example.com", from: "a@hub.test", subject: "s", text: "t", html: "h" }),
        (e: unknown) =>
          providerUnavailable([pass, encodeURIComponent(pass)])(e) &&
          /ECONNREFUSED/.test((e as MeshauthError).message),
      );
    } finally {
      await mailer.close();
    }
  });

  test("a closed mailer refuses to send", async () => {
    const mailer = new SmtpMailer(`smtp://127.0.0.1:${await closedPort()}`);
    await mailer.close();
    await mailer.close();
    await assert.rejects(
      mailer.send({ to: "ada@example.com", from: "a@hub.test", subject: "s", text: "t", html: "h" }),
      providerUnavailable([]),
    );
  });
});
