import { createCertificateSigningRequest, type Identity, inspectCertificate } from "@meshauth/core";
import { MeshauthClientError } from "./errors.js";
import { type ObservableValue, State } from "./observable.js";
import type { StoredCertificate } from "./stores/types.js";
import { backoff, runAt, type Timer } from "./timers.js";
import { errorFrom } from "./transport.js";
import type { MeshauthClient } from "./types.js";

/** A device certificate for peer-to-peer TLS, issued by the hub's CA for the device key. */
export interface DeviceCertificate {
  /** PEM. */
  certificate: string;
  /** The app's CA certificates (PEM): the trust anchors peers check each other against. */
  caCertificates: string[];
  expiresAt: Date;
  /** The identity (permissions included) the certificate carries. */
  identity: Identity;
  /** The device key as PKCS#8 PEM, for TLS in Node; absent in browsers (non-extractable key). */
  privateKeyPem?: string;
}

export interface DeviceCertificateOptions {
  /** Renew this many seconds before expiry. Default: a tenth of the lifetime, at least 60 s. */
  renewBeforeSeconds?: number;
  /** Renew in the background (before expiry, and when the identity changes). Default true. */
  autoRenew?: boolean;
  /** A background renewal failed; it is retried with backoff (1 s doubling to 5 min). */
  onError?: (error: MeshauthClientError) => void;
}

export interface DeviceCertificates {
  /** The current certificate, or undefined before the first `get()`. */
  readonly current: ObservableValue<DeviceCertificate | undefined>;
  /** A valid certificate for the logged-in identity: the stored one, or a new one. */
  get(): Promise<DeviceCertificate>;
  /** Asks the hub for a new certificate now (CSR mode: the key never leaves the device). */
  renew(): Promise<DeviceCertificate>;
  /** Stops background renewal. */
  stop(): void;
}

/**
 * Device certificates for a logged-in client. The CSR is signed with the device's
 * DPoP key, so the hub certifies exactly the key the session is bound to, and the key
 * is never sent anywhere. Renewal happens before expiry and whenever the identity
 * changes (a refresh brought new permissions, or another user logged in).
 */
export function deviceCertificates(
  client: MeshauthClient,
  options: DeviceCertificateOptions = {},
): DeviceCertificates {
  const current = new State<DeviceCertificate | undefined>(undefined);
  let timer: Timer | undefined;
  let pending: Promise<DeviceCertificate> | undefined;
  let stopped = false;
  let failures = 0;

  /** Background renewal: on failure, report and try again later (a device may be offline). */
  const renewInBackground = (): void => {
    renew().then(
      () => {
        failures = 0;
      },
      (e: unknown) => {
        options.onError?.(
          e instanceof MeshauthClientError
            ? e
            : new MeshauthClientError("internal_error", String(e), { cause: e }),
        );
        if (stopped || !client.currentUser.value.isLoggedIn) return;
        timer?.cancel();
        timer = runAt(Date.now() + backoff(failures++), renewInBackground);
      },
    );
  };

  const renewBefore = (c: { expiresAt: Date }, issued: number) => {
    if (options.renewBeforeSeconds !== undefined) return options.renewBeforeSeconds * 1000;
    return Math.max(60_000, (c.expiresAt.getTime() - issued) / 10);
  };

  async function toCertificate(stored: StoredCertificate): Promise<DeviceCertificate & { issuedAt: number }> {
    const d = await inspectCertificate(stored.certificate);
    if (!d.identity)
      throw new MeshauthClientError("invalid_response", "the certificate carries no meshauth identity");
    const pem = await client.store.exportPrivateKeyPem?.();
    return {
      certificate: stored.certificate,
      caCertificates: stored.caCertificates,
      expiresAt: new Date(stored.expiresAt),
      identity: d.identity,
      issuedAt: d.notBefore.getTime(),
      ...(pem ? { privateKeyPem: pem } : {}),
    };
  }

  /** Whether a certificate still serves the logged-in identity on this device key. */
  async function fits(c: DeviceCertificate & { issuedAt: number }): Promise<boolean> {
    const user = client.currentUser.value;
    if (!user.isLoggedIn) return false;
    if (c.expiresAt.getTime() - Date.now() <= renewBefore(c, c.issuedAt)) return false;
    return (
      c.identity.peerKey === (await client.deviceKeyThumbprint()) &&
      c.identity.userId === user.userId &&
      JSON.stringify(c.identity.permissions) === JSON.stringify(user.permissions)
    );
  }

  function publish(c: DeviceCertificate & { issuedAt: number }): DeviceCertificate {
    const { issuedAt, ...certificate } = c;
    current.set(certificate);
    timer?.cancel();
    if (!stopped && options.autoRenew !== false) {
      timer = runAt(c.expiresAt.getTime() - renewBefore(c, issuedAt), renewInBackground);
    }
    return certificate;
  }

  function renew(): Promise<DeviceCertificate> {
    pending ??= (async () => {
      if (!client.currentUser.value.isLoggedIn) {
        throw new MeshauthClientError("not_logged_in", "log in before asking for a device certificate");
      }
      const csr = await createCertificateSigningRequest({ keys: await client.deviceKey() });
      const response = await client.fetch(new URL("certificate", `${client.hub}/`), {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ csr }),
      });
      if (!response.ok) throw await errorFrom(response);
      const body = (await response.json()) as Record<string, unknown>;
      if (typeof body["certificate"] !== "string" || typeof body["expires_at"] !== "number") {
        throw new MeshauthClientError(
          "invalid_response",
          "the hub's certificate answer lacks certificate/expires_at",
        );
      }
      const stored: StoredCertificate = {
        certificate: body["certificate"],
        caCertificates: Array.isArray(body["ca_certificates"]) ? body["ca_certificates"].map(String) : [],
        expiresAt: body["expires_at"] * 1000,
      };
      await client.store.saveCertificate(stored);
      return publish(await toCertificate(stored));
    })().finally(() => {
      pending = undefined;
    });
    return pending;
  }

  async function get(): Promise<DeviceCertificate> {
    await client.ready().catch(() => {});
    const stored = await client.store.loadCertificate().catch(() => undefined);
    if (stored) {
      const c = await toCertificate(stored).catch(() => undefined);
      if (c && (await fits(c))) return publish(c);
    }
    return renew();
  }

  // A new identity (refreshed permissions, another user) needs a new certificate.
  const subscription = client.currentUser.subscribe((user) => {
    const c = current.value;
    if (stopped || !c) return;
    // Logged out: the certificate speaks for someone who is no longer here.
    if (!user.isLoggedIn) {
      timer?.cancel();
      current.set(undefined);
      return;
    }
    if (options.autoRenew === false) return;
    if (
      c.identity.userId !== user.userId ||
      JSON.stringify(c.identity.permissions) !== JSON.stringify(user.permissions)
    ) {
      renewInBackground();
    }
  });

  return {
    current,
    get,
    renew,
    stop() {
      stopped = true;
      timer?.cancel();
      subscription.unsubscribe();
    },
  };
}
