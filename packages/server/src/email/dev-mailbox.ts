import { randomUUID } from "node:crypto";
import type { Mailer, OutgoingEmail } from "./mailer.js";

/**
 * A log function taking an object and a message, like pino's. Pass it bound:
 * `(obj, msg) => log.info(obj, msg)`, since pino's methods need their `this`.
 */
export type LogFn = (obj: Record<string, unknown>, msg: string) => void;

/** A message the development mailbox received. */
export interface DevMailboxMessage extends OutgoingEmail {
  id: string;
  /** Milliseconds since the epoch. */
  sentAt: number;
}

export interface DevMailboxOptions {
  log: LogFn;
  /** How many messages to keep; older ones are dropped. Default 50. */
  capacity?: number | undefined;
  now?: () => number;
}

export const DEV_MAILBOX_CAPACITY = 50;

/**
 * DEVELOPMENT ONLY. Stands in for an SMTP server so the hub works with zero
 * configuration: nothing is sent, each code is written to the log and the last
 * messages are kept in memory for the /dev/mailbox page. Anyone who can read the log
 * or that page can log in as anyone, so a production hub must use SmtpMailer.
 */
export class DevMailbox implements Mailer {
  readonly kind = "dev";
  readonly capacity: number;
  readonly #log: LogFn;
  readonly #now: () => number;
  // Newest first.
  #messages: DevMailboxMessage[] = [];

  constructor(options: DevMailboxOptions) {
    const capacity = options.capacity ?? DEV_MAILBOX_CAPACITY;
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`dev mailbox capacity must be a positive integer, got ${capacity}`);
    }
    this.capacity = capacity;
    this.#log = options.log;
    this.#now = options.now ?? Date.now;
  }

  async send(message: OutgoingEmail): Promise<void> {
    const stored: DevMailboxMessage = { ...message, id: randomUUID(), sentAt: this.#now() };
    this.#messages.unshift(stored);
    if (this.#messages.length > this.capacity) this.#messages.length = this.capacity;
    this.#log(
      { to: message.to, subject: message.subject, code: message.code },
      "development mailbox: email not sent because MESHAUTH_SMTP_URL is not set",
    );
  }

  /** The kept messages, newest first (a copy). */
  list(): DevMailboxMessage[] {
    return this.#messages.map((m) => ({ ...m }));
  }

  clear(): void {
    this.#messages = [];
  }

  async close(): Promise<void> {}
}
