import { MeshauthError } from "@meshauth/core";
import nodemailer, { type Transporter } from "nodemailer";
import { DevMailbox, type LogFn } from "./dev-mailbox.js";

/** One email to send. */
export interface OutgoingEmail {
  to: string;
  from: string;
  subject: string;
  text: string;
  html: string;
  /**
   * The login code, for the development mailbox's log line only; SmtpMailer ignores it,
   * so it never becomes a header.
   */
  code?: string;
}

/** Sends email. Errors are MeshauthError("provider_unavailable"). */
export interface Mailer {
  send(message: OutgoingEmail): Promise<void>;
  /** Stops background work (pooled connections); safe to call more than once. */
  close(): Promise<void>;
}

/** Timeouts in milliseconds; nodemailer's defaults (up to 10 minutes) would hold /otp requests far too long. */
export const SMTP_TIMEOUTS = {
  connectionTimeout: 10_000,
  greetingTimeout: 10_000,
  socketTimeout: 20_000,
  dnsTimeout: 10_000,
} as const;

/** The secret parts of an SMTP URL, in every form an error message could show them. */
function secretsOf(smtpUrl: string): string[] {
  let user = "";
  let pass = "";
  try {
    const url = new URL(smtpUrl);
    user = url.username;
    pass = url.password;
  } catch {
    // Not a WHATWG-parsable URL: the whole string is treated as secret below.
    return [smtpUrl];
  }
  if (pass === "") return [];
  const decode = (s: string): string => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  };
  const plain = decode(pass);
  const b64 = (s: string): string => Buffer.from(s, "utf8").toString("base64");
  // AUTH PLAIN and AUTH LOGIN carry the password base64-encoded.
  const forms = [pass, plain, b64(plain), b64(`\u0000${decode(user)}\u0000${plain}`)];
  return [...new Set(forms)].filter((s) => s.length > 0).sort((a, b) => b.length - a.length);
}

/** `smtp://host:port` without credentials or query, for messages. */
export function describeSmtpUrl(smtpUrl: string): string {
  try {
    const url = new URL(smtpUrl);
    return `${url.protocol}//${url.host}`;
  } catch {
    return "the configured SMTP URL";
  }
}

/**
 * Sends through an SMTP server (MESHAUTH_SMTP_URL) over a small connection pool, so
 * bursts of logins do not each pay for a TCP and TLS handshake.
 */
export class SmtpMailer implements Mailer {
  readonly kind = "smtp";
  readonly #transport: Transporter;
  readonly #secrets: string[];
  /** `smtp(s)://host:port`, safe to log at startup. */
  readonly server: string;
  #closed = false;

  constructor(smtpUrl: string) {
    this.#secrets = secretsOf(smtpUrl);
    this.server = describeSmtpUrl(smtpUrl);
    try {
      // Keys given next to `url` apply where the URL's query does not set them.
      this.#transport = nodemailer.createTransport({
        url: smtpUrl,
        pool: true,
        maxConnections: 3,
        ...SMTP_TIMEOUTS,
      });
    } catch (e) {
      throw this.#wrap(e);
    }
  }

  #redact(message: string): string {
    let out = message;
    for (const s of this.#secrets) out = out.split(s).join("***");
    return out;
  }

  #wrap(e: unknown): MeshauthError {
    const reason = e instanceof Error ? e.message : String(e);
    const code = e instanceof Error && "code" in e && typeof e.code === "string" ? ` (${e.code})` : "";
    // The cause is not attached: nodemailer errors can hold the SMTP dialogue.
    return new MeshauthError("provider_unavailable", this.#redact(`cannot send email: ${reason}${code}`));
  }

  async send(message: OutgoingEmail): Promise<void> {
    if (this.#closed)
      throw new MeshauthError("provider_unavailable", "cannot send email: the mailer is closed");
    try {
      await this.#transport.sendMail({
        from: message.from,
        to: message.to,
        subject: message.subject,
        text: message.text,
        html: message.html,
      });
    } catch (e) {
      throw this.#wrap(e);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#transport.close();
  }
}

export interface CreateMailerOptions {
  /** MESHAUTH_SMTP_URL; when absent, codes go to the development mailbox and the log. */
  smtpUrl?: string | undefined;
  /** Where the development mailbox writes each code, e.g. `(o, m) => log.info(o, m)`. */
  log: LogFn;
  /** How many messages the development mailbox keeps; default 50. */
  mailboxSize?: number;
}

/** SmtpMailer when an SMTP URL is configured, else the development mailbox. */
export function createMailer(options: CreateMailerOptions): SmtpMailer | DevMailbox {
  if (options.smtpUrl) return new SmtpMailer(options.smtpUrl);
  return new DevMailbox({ log: options.log, capacity: options.mailboxSize });
}
