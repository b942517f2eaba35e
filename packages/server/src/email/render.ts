import { MeshauthError } from "@meshauth/core";
import type { EmailSettings } from "../apps/model.js";

/** What renderLoginEmail needs: the app, its email settings and the code being sent. */
export interface LoginEmailInput {
  app: { name: string };
  email: EmailSettings;
  code: string;
  otpId: string;
  expiresInSeconds: number;
  /** Sender used when the app sets none, e.g. `login@hub.example.com`. */
  defaultFrom: string;
  /** Recipient; copied to the result when given. */
  to?: string;
}

/** A rendered login email, ready for a Mailer. */
export interface RenderedEmail {
  from: string;
  to?: string;
  subject: string;
  text: string;
  html: string;
}

/** The placeholders templates may use; anything else in braces is left as written. */
export const PLACEHOLDERS = ["code", "app", "minutes", "link"] as const;
export type Placeholder = (typeof PLACEHOLDERS)[number];

export const DEFAULT_SUBJECT = "{code} is your {app} login code";

export const DEFAULT_TEXT = `Your {app} login code is:

    {code}

It expires in {minutes} minutes.

If you did not ask for this code, you can ignore this email: nobody can log in without it.
`;

export const DEFAULT_TEXT_WITH_LINK = `Your {app} login code is:

    {code}

Or open this link on the device where you asked for it:
{link}

The code and the link expire in {minutes} minutes.

If you did not ask for this code, you can ignore this email: nobody can log in without it.
`;

// Inline styles only: most mail clients drop <style> blocks and external CSS.
const HTML_HEAD = `<!doctype html>
<html>
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{app} login code</title>
</head>
<body style="margin:0;padding:24px;background:#f4f5f7;font-family:-apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;color:#1f2328;">
<div style="max-width:480px;margin:0 auto;padding:32px;background:#ffffff;border-radius:8px;">
<p style="margin:0 0 16px;font-size:16px;">Your <strong>{app}</strong> login code is:</p>
<p style="margin:0 0 24px;font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:32px;font-weight:700;letter-spacing:6px;">{code}</p>
`;

const HTML_LINK = `<p style="margin:0 0 24px;"><a href="{link}" style="display:inline-block;padding:10px 18px;background:#1f6feb;color:#ffffff;text-decoration:none;border-radius:6px;font-size:15px;">Log in to {app}</a></p>
`;

const HTML_TAIL = `<p style="margin:0 0 8px;font-size:14px;color:#57606a;">It expires in {minutes} minutes.</p>
<p style="margin:0;font-size:14px;color:#57606a;">If you did not ask for this code, you can ignore this email: nobody can log in without it.</p>
</div>
</body>
</html>
`;

export const DEFAULT_HTML = HTML_HEAD + HTML_TAIL;
export const DEFAULT_HTML_WITH_LINK = HTML_HEAD + HTML_LINK + HTML_TAIL;

const HTML_ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c);
}

/**
 * Header values must stay on one line: a CR or LF would let a template or an app name
 * start a new header (Bcc:, a second To:). Line breaks and other control characters
 * become single spaces.
 */
export function singleLine(value: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: removing control characters is the point
  return value.replace(/[\u0000-\u001f\u007f\u0085\u2028\u2029]+/g, " ").trim();
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: detecting control characters is the point
const CONTROL = /[\u0000-\u001f\u007f\u0085\u2028\u2029]/;

/**
 * Addresses are not free text: stripping a line break out of one could turn the rest
 * into another address or a group, so an address with control characters is refused.
 */
function headerAddress(value: string, what: string): string {
  if (CONTROL.test(value)) {
    throw new MeshauthError(
      "provider_unavailable",
      `cannot send email: ${what} contains a line break or control character`,
    );
  }
  return value.trim();
}

/**
 * The magic link: `base` with `otp_id` and `otp` added to its query (before any
 * fragment), each percent-encoded; `&` joins them to a query the URL already has.
 */
export function magicLink(base: string, otpId: string, code: string): string {
  const hash = base.indexOf("#");
  const beforeHash = hash === -1 ? base : base.slice(0, hash);
  const fragment = hash === -1 ? "" : base.slice(hash);
  const sep = !beforeHash.includes("?") ? "?" : /[?&]$/.test(beforeHash) ? "" : "&";
  return `${beforeHash}${sep}otp_id=${encodeURIComponent(otpId)}&otp=${encodeURIComponent(code)}${fragment}`;
}

/**
 * Fills `{code}`, `{app}`, `{minutes}` and `{link}` in one pass, so a value that itself
 * contains a placeholder (an app called "{code}") is never expanded again.
 */
export function fillTemplate(
  template: string,
  values: Readonly<Record<Placeholder, string>>,
  encode: (s: string) => string = (s) => s,
): string {
  return template.replace(/\{(code|app|minutes|link)\}/g, (_, name: Placeholder) => encode(values[name]));
}

/** A bare address (no display name) gets the app's name as display name, quoted. */
function withDisplayName(from: string, name: string): string {
  if (!/^[^\s<>"@]+@[^\s<>"@]+$/.test(from)) return from;
  const display = singleLine(name).replace(/[\\"]/g, "\\$&");
  return display === "" ? from : `"${display}" <${from}>`;
}

/**
 * Renders the login email for one code. The app's own templates replace the defaults
 * one by one; values filled into the HTML are escaped, the text is not. Line breaks in
 * the subject become spaces; a from or to address holding one is refused
 * (MeshauthError "provider_unavailable"), so no header can be injected.
 */
export function renderLoginEmail(input: LoginEmailInput): RenderedEmail {
  const { app, email, code, otpId, expiresInSeconds } = input;
  const link = email.magicLinkUrl ? magicLink(email.magicLinkUrl, otpId, code) : "";
  const values: Record<Placeholder, string> = {
    code,
    app: app.name,
    minutes: String(Math.max(1, Math.ceil(expiresInSeconds / 60))),
    link,
  };
  const text = email.text ?? (link ? DEFAULT_TEXT_WITH_LINK : DEFAULT_TEXT);
  const html = email.html ?? (link ? DEFAULT_HTML_WITH_LINK : DEFAULT_HTML);
  const from = email.from
    ? headerAddress(email.from, `the email.from of app ${singleLine(app.name)}`)
    : withDisplayName(headerAddress(input.defaultFrom, "the default sender"), app.name);
  const out: RenderedEmail = {
    from,
    subject: singleLine(fillTemplate(email.subject ?? DEFAULT_SUBJECT, values)),
    text: fillTemplate(text, values),
    html: fillTemplate(html, values, escapeHtml),
  };
  if (input.to !== undefined) out.to = headerAddress(input.to, "the recipient address");
  return out;
}
