import assert from "node:assert/strict";
import { describe, test } from "node:test";
import Fastify from "fastify";
import {
  DEV_MAILBOX_BANNER,
  DevMailbox,
  devMailboxRoutes,
  loginCodeSender,
  type OutgoingEmail,
} from "../src/email/index.js";

type LogLine = { obj: Record<string, unknown>; msg: string };

function mailbox(capacity?: number) {
  const lines: LogLine[] = [];
  let clock = Date.UTC(2025, 0, 2, 3, 4, 5);
  const box = new DevMailbox({ log: (obj, msg) => lines.push({ obj, msg }), capacity, now: () => clock++ });
  return { box, lines };
}

function email(n: number, extra: Partial<OutgoingEmail> = {}): OutgoingEmail {
  return {
    to: `user${n}@example.com`,
    from: "login@hub.test",
    subject: `subject ${n}`,
    text: `text ${n}`,
    html: `<p>${n}</p>`,
    code: String(n).padStart(8, "0"),
    ...extra,
  };
}

describe("DevMailbox", () => {
  test("keeps the newest first, bounded", async () => {
    const { box } = mailbox(3);
    for (let i = 1; i <= 5; i++) await box.send(email(i));
    const list = box.list();
    assert.deepEqual(
      list.map((m) => m.subject),
      ["subject 5", "subject 4", "subject 3"],
    );
    assert.ok((list[0]?.sentAt ?? 0) > (list[1]?.sentAt ?? 0));
    assert.equal(new Set(list.map((m) => m.id)).size, 3);
    // list() is a copy.
    list.length = 0;
    assert.equal(box.list().length, 3);
    box.clear();
    assert.equal(box.list().length, 0);
  });

  test("default capacity is 50", async () => {
    const { box } = mailbox();
    for (let i = 0; i < 60; i++) await box.send(email(i));
    assert.equal(box.list().length, 50);
    assert.equal(box.list()[0]?.subject, "subject 59");
    assert.throws(() => new DevMailbox({ log: () => {}, capacity: 0 }), RangeError);
  });

  test("writes the recipient, subject and code to the log", async () => {
    const { box, lines } = mailbox();
    const send = loginCodeSender(box, "login@hub.test");
    await send({
      app: { name: "demo", email: {} },
      email: "ada@example.com",
      code: "31415926",
      otpId: "otp_1",
      expiresInSeconds: 600,
    });
    assert.equal(lines.length, 1);
    assert.deepEqual(lines[0]?.obj, {
      to: "ada@example.com",
      subject: "31415926 is your demo login code",
      code: "31415926",
    });
    assert.match(lines[0]?.msg ?? "", /not sent/);
    const [kept] = box.list();
    assert.equal(kept?.to, "ada@example.com");
    assert.equal(kept?.code, "31415926");
    assert.match(kept?.text ?? "", /31415926/);
  });
});

describe("development mailbox page", () => {
  async function app(box: DevMailbox) {
    const http = Fastify({ logger: false });
    await http.register(devMailboxRoutes, { mailbox: box, mode: "development" });
    return http;
  }

  test("HTML: banner, messages newest first, content escaped, not cached", async () => {
    const { box } = mailbox();
    await box.send(email(1));
    await box.send(
      email(2, { to: "x@example.com", subject: "<b>bold</b> & co", text: "code <script>alert(1)</script>" }),
    );
    const http = await app(box);
    try {
      const res = await http.inject({ method: "GET", url: "/dev/mailbox" });
      assert.equal(res.statusCode, 200);
      assert.match(String(res.headers["content-type"]), /^text\/html; charset=utf-8/);
      assert.equal(res.headers["cache-control"], "no-store");
      assert.match(String(res.headers["content-security-policy"]), /default-src 'none'/);
      const body = res.body;
      assert.ok(body.includes(DEV_MAILBOX_BANNER));
      assert.ok(body.includes("never enabled in production"));
      assert.ok(body.includes("&lt;b&gt;bold&lt;/b&gt; &amp; co"));
      assert.ok(body.includes("code &lt;script&gt;alert(1)&lt;/script&gt;"));
      assert.ok(!body.includes("<script>"));
      assert.ok(!body.includes("<b>bold"));
      assert.ok(body.indexOf("x@example.com") < body.indexOf("user1@example.com"), "newest first");
      assert.ok(body.includes("2025-01-02T03:04:05.000Z"));
      assert.ok(body.includes("text 1"));
    } finally {
      await http.close();
    }
  });

  test("HTML with no messages", async () => {
    const http = await app(mailbox().box);
    try {
      const res = await http.inject({ method: "GET", url: "/dev/mailbox" });
      assert.equal(res.statusCode, 200);
      assert.ok(res.body.includes(DEV_MAILBOX_BANNER));
      assert.match(res.body, /No messages yet/);
    } finally {
      await http.close();
    }
  });

  test("JSON: banner and messages, filterable by recipient", async () => {
    const { box } = mailbox();
    await box.send(email(1));
    await box.send(email(2, { to: "Ada@Example.com" }));
    await box.send(email(3));
    const http = await app(box);
    try {
      const res = await http.inject({ method: "GET", url: "/dev/mailbox.json" });
      assert.equal(res.statusCode, 200);
      assert.match(String(res.headers["content-type"]), /^application\/json/);
      assert.equal(res.headers["cache-control"], "no-store");
      const body = res.json() as { notice: string; messages: Array<Record<string, unknown>> };
      assert.equal(body.notice, DEV_MAILBOX_BANNER);
      assert.deepEqual(
        body.messages.map((m) => m.subject),
        ["subject 3", "subject 2", "subject 1"],
      );
      const newest = body.messages[0];
      assert.equal(newest?.code, "00000003");
      assert.equal(newest?.text, "text 3");
      assert.equal(newest?.html, "<p>3</p>");
      assert.equal(newest?.sentAt, "2025-01-02T03:04:05.002Z");

      const one = await http.inject({ method: "GET", url: "/dev/mailbox.json?to=ada@example.com" });
      const filtered = one.json() as { messages: Array<{ subject: string }> };
      assert.deepEqual(
        filtered.messages.map((m) => m.subject),
        ["subject 2"],
      );
    } finally {
      await http.close();
    }
  });

  test("refuses to register in production mode", async () => {
    const http = Fastify({ logger: false });
    await assert.rejects(async () => {
      await http.register(devMailboxRoutes, { mailbox: mailbox().box, mode: "production" });
    }, /cannot be enabled in production/);
    await http.close().catch(() => {});
  });
});
