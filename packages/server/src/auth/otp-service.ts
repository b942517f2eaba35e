import { createHmac, randomInt, timingSafeEqual } from "node:crypto";
import { domainToASCII } from "node:url";
import { MeshauthError } from "@meshauth/core";
import type { App } from "../apps/model.js";
import { randomToken } from "../crypto/secrets.js";
import type { Store } from "../storage/store.js";
import { check, consume, countFailure, LIMITS } from "./limits.js";

/** Eight digits: 26.6 bits, above the 20 the protocol asks for, and easy to type on a phone. */
export const OTP_DIGITS = 8;
export const OTP_LIFETIME_SECONDS = 600;
const MAX_EMAIL_LENGTH = 254;
// Deliberately simple: one @, something on each side, a dot in the domain, no spaces or controls.
const EMAIL = /^[^\s@<>()[\]\\,;:"]+@[^\s@<>()[\]\\,;:"]+\.[^\s@<>()[\]\\,;:"]+$/;
// Controls, format characters (zero-width space, bidi overrides, ...), lone surrogates and
// line separators: invisible, so they would make an address that looks like another.
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/u;

export interface LoginCodeMessage {
  app: App;
  email: string;
  code: string;
  otpId: string;
  expiresInSeconds: number;
}

export type SendLoginCode = (message: LoginCodeMessage) => Promise<void>;

/**
 * The one form an address is stored and compared in, so look-alikes do not make distinct
 * users: Unicode NFC, lower case, and the domain in IDNA ASCII form (UTS #46 mapping:
 * full-width `ｅｘａｍｐｌｅ.com` is `example.com`; a Cyrillic look-alike domain
 * shows as `xn--...`). Invisible characters are refused rather than dropped.
 */
export function normalizeEmail(raw: unknown): string {
  if (typeof raw !== "string") throw new MeshauthError("invalid_request", "email: expected a string");
  const bad = () =>
    new MeshauthError("invalid_request", "email: expected an email address such as ada@example.com");
  const trimmed = raw.trim();
  if (trimmed.length > MAX_EMAIL_LENGTH * 4) throw bad();
  if (INVISIBLE.test(trimmed))
    throw new MeshauthError(
      "invalid_request",
      "email: contains an invisible or control character (such as U+200B or U+202E); type the address again",
    );
  const nfc = trimmed.normalize("NFC").toLowerCase();
  const at = nfc.lastIndexOf("@");
  if (at <= 0) throw bad();
  const domain = domainToASCII(nfc.slice(at + 1));
  if (domain === "") throw bad();
  const email = `${nfc.slice(0, at)}@${domain}`;
  if (email.length > MAX_EMAIL_LENGTH || !EMAIL.test(email)) throw bad();
  return email;
}

/** Passwordless email login: sends single-use codes and checks them, within strict limits. */
export class OtpService {
  constructor(
    private readonly store: Store,
    private readonly pepper: Buffer,
    private readonly send: SendLoginCode,
    private readonly now: () => number,
  ) {}

  // Keyed hash: a leaked database does not let anyone test the 10^8 codes offline.
  #hash(otpId: string, code: string): Buffer {
    return createHmac("sha256", this.pepper).update(`${otpId}:${code}`).digest();
  }

  /** Emails a code. The answer is the same whether or not the address has logged in before. */
  async start(app: App, emailInput: unknown, ip: string): Promise<{ otp_id: string; expires_in: number }> {
    if (!app.providers.includes("otp"))
      throw new MeshauthError("provider_disabled", `email login is not enabled for app ${app.name}`);
    const email = normalizeEmail(emailInput);
    const now = this.now();
    await consume(
      this.store.guards,
      `otp-send-ip:${ip}`,
      LIMITS.otpSendPerIp,
      now,
      "email codes requested from this address",
    );
    await consume(
      this.store.guards,
      `otp-send:${app.id}:${email}`,
      LIMITS.otpSendPerAddress,
      now,
      "email codes sent to this address",
    );
    const otpId = randomToken(16, "otp_");
    const code = String(randomInt(0, 10 ** OTP_DIGITS)).padStart(OTP_DIGITS, "0");
    await this.store.otps.insert({
      id: otpId,
      appId: app.id,
      email,
      codeHash: this.#hash(otpId, code).toString("base64url"),
      createdAt: now,
      expiresAt: now + OTP_LIFETIME_SECONDS,
    });
    await this.send({ app, email, code, otpId, expiresInSeconds: OTP_LIFETIME_SECONDS });
    return { otp_id: otpId, expires_in: OTP_LIFETIME_SECONDS };
  }

  /** Checks a code; returns the email address it was sent to. Each code works once. */
  async verify(app: App, otpIdInput: unknown, codeInput: unknown): Promise<string> {
    if (typeof otpIdInput !== "string" || otpIdInput.length > 64)
      throw new MeshauthError("invalid_request", "otp_id: expected the otp_id from POST /otp");
    if (typeof codeInput !== "string")
      throw new MeshauthError("invalid_request", "otp: expected the code from the email");
    const code = codeInput.replace(/[\s-]/g, "");
    const now = this.now();
    const otp = await this.store.otps.find(otpIdInput);
    if (!otp || otp.appId !== app.id)
      throw new MeshauthError("invalid_otp", "this code request is unknown; request a new code");
    if (otp.usedAt !== null)
      throw new MeshauthError("invalid_otp", "this code was already used; request a new code");
    if (now >= otp.expiresAt)
      throw new MeshauthError("otp_expired", "this code has expired; request a new code");
    const failKey = `otp-fail:${app.id}:${otp.email}`;
    await check(
      this.store.guards,
      failKey,
      LIMITS.otpFailuresPerAddress,
      now,
      "wrong codes for this address",
    );
    if (!(await this.store.otps.takeAttempt(otp.id, LIMITS.otpAttemptsPerCode))) {
      throw new MeshauthError("too_many_attempts", "too many wrong codes; request a new code");
    }
    const presented = this.#hash(otp.id, code);
    const stored = Buffer.from(otp.codeHash, "base64url");
    if (!/^\d+$/.test(code) || presented.length !== stored.length || !timingSafeEqual(presented, stored)) {
      await countFailure(this.store.guards, failKey, LIMITS.otpFailuresPerAddress, now);
      const left = Math.max(0, LIMITS.otpAttemptsPerCode - otp.attempts - 1);
      if (left === 0)
        throw new MeshauthError("too_many_attempts", "too many wrong codes; request a new code");
      throw new MeshauthError("invalid_otp", `wrong code; ${left} attempt${left === 1 ? "" : "s"} left`, {
        attempts_left: left,
      });
    }
    if (!(await this.store.otps.consume(otp.id, now)))
      throw new MeshauthError("invalid_otp", "this code was already used; request a new code");
    return otp.email;
  }
}
