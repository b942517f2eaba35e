import type { FastifyPluginAsync, FastifyReply } from "fastify";
import type { HubMode } from "../config/config.js";
import type { DevMailbox, DevMailboxMessage } from "./dev-mailbox.js";
import { escapeHtml } from "./render.js";

export interface DevMailboxRoutesOptions {
  mailbox: DevMailbox;
  /** The hub's mode; the plugin refuses to register in production. */
  mode?: HubMode;
}

export const DEV_MAILBOX_BANNER =
  "Development mailbox — codes shown here because no SMTP server is configured; never enabled in production";

function entryHtml(m: DevMailboxMessage): string {
  return `<article style="margin:0 0 16px;padding:16px;background:#fff;border:1px solid #d0d7de;border-radius:6px;">
<dl style="margin:0 0 12px;display:grid;grid-template-columns:max-content 1fr;gap:4px 12px;font-size:14px;">
<dt>To</dt><dd style="margin:0;">${escapeHtml(m.to)}</dd>
<dt>From</dt><dd style="margin:0;">${escapeHtml(m.from)}</dd>
<dt>Subject</dt><dd style="margin:0;"><strong>${escapeHtml(m.subject)}</strong></dd>
<dt>Time</dt><dd style="margin:0;"><time datetime="${new Date(m.sentAt).toISOString()}">${new Date(m.sentAt).toISOString()}</time></dd>
</dl>
<pre style="margin:0;padding:12px;background:#f6f8fa;white-space:pre-wrap;word-break:break-word;">${escapeHtml(m.text)}</pre>
</article>`;
}

/** The page. Only the text bodies are shown, escaped: the HTML bodies are app-provided templates. */
export function devMailboxHtml(messages: readonly DevMailboxMessage[]): string {
  const list =
    messages.length === 0
      ? `<p>No messages yet. Request a code with <code>POST /otp</code> and reload this page.</p>`
      : messages.map(entryHtml).join("\n");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>meshauth development mailbox</title>
</head>
<body style="margin:0;padding:24px;background:#f4f5f7;font-family:system-ui,sans-serif;color:#1f2328;">
<div role="alert" style="margin:0 0 24px;padding:12px 16px;background:#fff8c5;border:2px solid #d4a72c;border-radius:6px;font-weight:600;">${escapeHtml(DEV_MAILBOX_BANNER)}</div>
<h1 style="font-size:20px;">Messages (${messages.length}, newest first) <a href="" style="font-size:14px;font-weight:normal;">reload</a></h1>
${list}
</body>
</html>
`;
}

// Codes must not end up in caches; the page loads nothing from elsewhere.
function noStore(reply: FastifyReply): FastifyReply {
  return reply
    .header("cache-control", "no-store")
    .header("x-robots-tag", "noindex")
    .header(
      "content-security-policy",
      "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
    );
}

/**
 * DEVELOPMENT ONLY: `GET /dev/mailbox` (HTML) and `GET /dev/mailbox.json` show the
 * emails the DevMailbox kept instead of sending. The hub registers this only in
 * development mode without MESHAUTH_SMTP_URL; registering it in production throws,
 * so a wiring mistake cannot publish login codes.
 * `GET /dev/mailbox.json?to=ada@example.com` lists only one recipient's messages.
 */
export const devMailboxRoutes: FastifyPluginAsync<DevMailboxRoutesOptions> = async (app, options) => {
  if (options.mode === "production") {
    throw new Error("the development mailbox shows login codes and cannot be enabled in production mode");
  }
  const { mailbox } = options;

  app.get("/dev/mailbox", async (_request, reply) => {
    return noStore(reply).type("text/html; charset=utf-8").send(devMailboxHtml(mailbox.list()));
  });

  app.get<{ Querystring: { to?: string } }>("/dev/mailbox.json", async (request, reply) => {
    const to = typeof request.query.to === "string" ? request.query.to.trim().toLowerCase() : undefined;
    const messages = mailbox
      .list()
      .filter((m) => to === undefined || m.to.toLowerCase() === to)
      .map((m) => ({ ...m, sentAt: new Date(m.sentAt).toISOString() }));
    return noStore(reply).send({ notice: DEV_MAILBOX_BANNER, messages });
  });
};
