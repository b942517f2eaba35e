import { randomBytes, randomUUID } from "node:crypto";
import { MeshauthError, NO_ACCESS, type Permissions } from "@meshauth/core";
import { hashSecret, randomToken, type SecretBox } from "../crypto/secrets.js";
import { checkTarget, type OutboundPolicy } from "../providers/outbound.js";
import { dittoSignatureKeyBytes } from "../providers/webhook.js";
import { type AppPatch, type Store, UniqueViolation } from "../storage/store.js";
import { createAppAuthority } from "./authority.js";
import {
  type App,
  type AppDetails,
  type AppSecretInfo,
  DITTO_SIGNATURE_KEYS,
  type DittoSignatureKey,
  type OidcProvider,
  type ProviderKind,
  type WebhookProvider,
} from "./model.js";
import * as v from "./validate.js";

export const APP_DEFAULTS = {
  providers: ["otp", "playground"] as ProviderKind[],
  accessTokenTtl: 15 * 60,
  sessionAbsoluteTtl: 90 * 86_400,
  sessionIdleTtl: 30 * 86_400,
  /** Ditto's offline grace: a device that stops reaching the hub keeps working a week. */
  certificateTtl: 7 * 86_400,
  shareClientInfo: false,
};

/** Bounds for lifetimes (seconds): access tokens minutes to a day, sessions up to a year. */
const TTL = {
  accessToken: [60, 86_400],
  session: [300, 366 * 86_400],
  certificate: [300, 90 * 86_400],
} as const;

const UPDATE_KEYS = [
  "name",
  "providers",
  "accessTokenTtl",
  "sessionAbsoluteTtl",
  "sessionIdleTtl",
  "certificateTtl",
  "shareClientInfo",
  "corsOrigins",
  "email",
  "defaultPermissions",
];
// `playground: false` only makes sense at creation: later, rotate or remove the provider.
const CREATE_KEYS = [...UPDATE_KEYS, "playground"];

export interface CreatedApp {
  app: AppDetails;
  /** Shown once; only its hash is stored. */
  playgroundToken?: string;
}

function conflictOnDuplicate(e: unknown): never {
  if (e instanceof UniqueViolation) throw new MeshauthError("conflict", e.message);
  throw e;
}

/** Apps and their credentials: the logic behind both the admin API and the CLI. */
export class AppService {
  constructor(
    private readonly store: Store,
    private readonly box: SecretBox,
    private readonly validatePermissions: v.PermissionValidator,
    private readonly now: () => number,
    /** Where webhooks and key sets may point; without one, anywhere (embedding, tests). */
    private readonly outbound: OutboundPolicy = { allowAll: true, hubOrigin: "http://invalid" },
  ) {}

  /** Finds an app by ID or by name (the CLI accepts either); `not_found` otherwise. */
  async resolve(idOrName: string): Promise<App> {
    const app = (await this.store.findApp(idOrName)) ?? (await this.store.findAppByName(idOrName));
    if (!app) throw new MeshauthError("not_found", `no app with ID or name ${JSON.stringify(idOrName)}`);
    return app;
  }

  async details(idOrName: string): Promise<AppDetails> {
    const app = await this.resolve(idOrName);
    const [secrets, webhooks, oidcProviders] = await Promise.all([
      this.store.listSecrets(app.id),
      this.store.listWebhooks(app.id),
      this.store.listOidcProviders(app.id),
    ]);
    return {
      ...app,
      secrets,
      webhooks: webhooks.map(({ secretSealed: _, ...w }) => w),
      oidcProviders,
    };
  }

  list(): Promise<App[]> {
    return this.store.listApps();
  }

  #lifetimes(input: Record<string, unknown>, base: Pick<App, "sessionAbsoluteTtl" | "sessionIdleTtl">) {
    const out: Partial<
      Pick<App, "accessTokenTtl" | "sessionAbsoluteTtl" | "sessionIdleTtl" | "certificateTtl">
    > = {};
    if (input.certificateTtl !== undefined)
      out.certificateTtl = v.int(input.certificateTtl, "certificateTtl", ...TTL.certificate, "seconds");
    if (input.accessTokenTtl !== undefined)
      out.accessTokenTtl = v.int(input.accessTokenTtl, "accessTokenTtl", ...TTL.accessToken, "seconds");
    if (input.sessionAbsoluteTtl !== undefined)
      out.sessionAbsoluteTtl = v.int(
        input.sessionAbsoluteTtl,
        "sessionAbsoluteTtl",
        ...TTL.session,
        "seconds",
      );
    if (input.sessionIdleTtl !== undefined)
      out.sessionIdleTtl = v.int(input.sessionIdleTtl, "sessionIdleTtl", ...TTL.session, "seconds");
    const absolute = out.sessionAbsoluteTtl ?? base.sessionAbsoluteTtl;
    const idle = out.sessionIdleTtl ?? base.sessionIdleTtl;
    if (idle > absolute) v.invalid("sessionIdleTtl", `at most sessionAbsoluteTtl (${absolute})`, idle);
    return out;
  }

  async create(input: unknown): Promise<CreatedApp> {
    const obj = v.requireRecord(input, "body");
    v.onlyKeys(obj, CREATE_KEYS, "");
    const name = v.appName(obj.name);
    const providers = obj.providers === undefined ? APP_DEFAULTS.providers : v.providers(obj.providers);
    const wantPlayground =
      obj.playground === undefined ? providers.includes("playground") : v.bool(obj.playground, "playground");
    const lifetimes = this.#lifetimes(obj, APP_DEFAULTS);
    const defaultPermissions: Permissions =
      obj.defaultPermissions === undefined
        ? NO_ACCESS
        : this.validatePermissions(obj.defaultPermissions, "defaultPermissions");
    const id = randomUUID();
    const playgroundToken = wantPlayground ? randomToken(32, "mp_") : undefined;
    const now = this.now();
    const authority = await createAppAuthority(id, name, this.box);
    await this.store
      .transaction(async (tx) => {
        await tx.insertApp(
          {
            id,
            name,
            providers,
            accessTokenTtl: lifetimes.accessTokenTtl ?? APP_DEFAULTS.accessTokenTtl,
            sessionAbsoluteTtl: lifetimes.sessionAbsoluteTtl ?? APP_DEFAULTS.sessionAbsoluteTtl,
            sessionIdleTtl: lifetimes.sessionIdleTtl ?? APP_DEFAULTS.sessionIdleTtl,
            certificateTtl: lifetimes.certificateTtl ?? APP_DEFAULTS.certificateTtl,
            shareClientInfo:
              obj.shareClientInfo === undefined
                ? APP_DEFAULTS.shareClientInfo
                : v.bool(obj.shareClientInfo, "shareClientInfo"),
            corsOrigins: obj.corsOrigins === undefined ? [] : v.corsOrigins(obj.corsOrigins),
            email: obj.email === undefined ? {} : v.emailSettings(obj.email),
            defaultPermissions,
            playgroundTokenHash: playgroundToken ? hashSecret(playgroundToken) : null,
          },
          now,
        );
        await tx.insertAuthority(id, authority, now);
      })
      .catch(conflictOnDuplicate);
    const app = await this.details(id);
    return playgroundToken ? { app, playgroundToken } : { app };
  }

  async update(idOrName: string, input: unknown): Promise<AppDetails> {
    const app = await this.resolve(idOrName);
    const obj = v.requireRecord(input, "body");
    v.onlyKeys(obj, UPDATE_KEYS, "");
    const patch: AppPatch = { ...this.#lifetimes(obj, app) };
    if (obj.name !== undefined) patch.name = v.appName(obj.name);
    if (obj.providers !== undefined) patch.providers = v.providers(obj.providers);
    if (obj.corsOrigins !== undefined) patch.corsOrigins = v.corsOrigins(obj.corsOrigins);
    if (obj.shareClientInfo !== undefined)
      patch.shareClientInfo = v.bool(obj.shareClientInfo, "shareClientInfo");
    if (obj.email !== undefined) patch.email = v.emailSettings(obj.email);
    if (obj.defaultPermissions !== undefined)
      patch.defaultPermissions = this.validatePermissions(obj.defaultPermissions, "defaultPermissions");
    await this.store.updateApp(app.id, patch, this.now()).catch(conflictOnDuplicate);
    return this.details(app.id);
  }

  async delete(idOrName: string): Promise<App> {
    const app = await this.resolve(idOrName);
    await this.store.deleteApp(app.id);
    return app;
  }

  /** Replaces the playground token; devices holding the old one fail at their next login. */
  async rotatePlaygroundToken(idOrName: string): Promise<{ app: App; playgroundToken: string }> {
    const app = await this.resolve(idOrName);
    const playgroundToken = randomToken(32, "mp_");
    const updated = await this.store.updateApp(
      app.id,
      { playgroundTokenHash: hashSecret(playgroundToken) },
      this.now(),
    );
    if (!updated) throw new MeshauthError("not_found", `app ${app.id} was deleted`);
    return { app: updated, playgroundToken };
  }

  /**
   * Adds a client secret for the app's backend. The secret is `<id>.<random>`: the ID
   * finds the row, the random part (256 bits) is what is checked, against its hash.
   */
  async addSecret(
    idOrName: string,
    input: unknown = {},
  ): Promise<{ secret: AppSecretInfo; clientSecret: string }> {
    const app = await this.resolve(idOrName);
    const obj = v.requireRecord(input ?? {}, "body");
    v.onlyKeys(obj, ["label"], "");
    const label = obj.label === undefined ? "" : v.str(obj.label, "label", { min: 0, max: 100 });
    const id = randomToken(9, "cs_");
    const clientSecret = `${id}.${randomToken(32)}`;
    const secret = await this.store.insertSecret(
      app.id,
      { id, label, hash: hashSecret(clientSecret) },
      this.now(),
    );
    return { secret, clientSecret };
  }

  async revokeSecret(idOrName: string, secretId: string): Promise<void> {
    const app = await this.resolve(idOrName);
    if (!(await this.store.revokeSecret(app.id, secretId, this.now()))) {
      throw new MeshauthError(
        "not_found",
        `app ${app.name} has no active secret ${JSON.stringify(secretId)}`,
      );
    }
  }

  /** Adds an auth webhook provider. Its signing secret is generated unless given, and returned once. */
  async addWebhook(
    idOrName: string,
    input: unknown,
  ): Promise<{ webhook: WebhookProvider; signingSecret: string }> {
    const app = await this.resolve(idOrName);
    const obj = v.requireRecord(input, "body");
    v.onlyKeys(obj, ["name", "url", "secret", "dittoSignature", "dittoSignatureKey", "timeoutMs"], "");
    const name = v.providerName(obj.name);
    const url = v.httpUrl(obj.url, "url");
    await checkTarget(url, this.outbound, "url");
    // Standard Webhooks secrets are `whsec_` + standard base64 (what the reference libraries
    // decode); Ditto hands out base64 of random bytes.
    const signingSecret =
      obj.secret === undefined
        ? `whsec_${randomBytes(32).toString("base64")}`
        : v.str(obj.secret, "secret", { min: 24, max: 512 });
    const key = obj.dittoSignatureKey ?? "base64";
    if (!(DITTO_SIGNATURE_KEYS as readonly unknown[]).includes(key))
      v.invalid("dittoSignatureKey", `one of ${DITTO_SIGNATURE_KEYS.join(", ")}`, key);
    const dittoSignatureKey = key as DittoSignatureKey;
    if (dittoSignatureKey === "base64" && dittoSignatureKeyBytes(signingSecret, "base64") === null)
      v.invalid(
        "secret",
        'base64, as Ditto hands secrets out (it is the ditto-signature key once decoded); send dittoSignatureKey "utf8" to HMAC with the text itself',
      );
    const webhook: WebhookProvider = {
      name,
      url,
      dittoSignature: obj.dittoSignature === undefined ? true : v.bool(obj.dittoSignature, "dittoSignature"),
      dittoSignatureKey,
      timeoutMs:
        obj.timeoutMs === undefined ? 5000 : v.int(obj.timeoutMs, "timeoutMs", 100, 30_000, "milliseconds"),
      createdAt: this.now(),
    };
    await this.store
      .insertWebhook(app.id, {
        ...webhook,
        secretSealed: this.box.seal(Buffer.from(signingSecret), `webhook:${app.id}:${name}`),
      })
      .catch(conflictOnDuplicate);
    return { webhook, signingSecret };
  }

  async removeWebhook(idOrName: string, name: string): Promise<void> {
    const app = await this.resolve(idOrName);
    if (!(await this.store.deleteWebhook(app.id, name))) {
      throw new MeshauthError("not_found", `app ${app.name} has no webhook provider ${JSON.stringify(name)}`);
    }
  }

  async addOidcProvider(idOrName: string, input: unknown): Promise<OidcProvider> {
    const app = await this.resolve(idOrName);
    const obj = v.requireRecord(input, "body");
    v.onlyKeys(obj, ["name", "issuer", "audience", "jwksUri", "mapping"], "");
    const provider: OidcProvider = {
      name: v.providerName(obj.name),
      issuer: v.str(obj.issuer, "issuer", { max: 2048 }),
      audience: v.str(obj.audience, "audience", { max: 512 }),
      jwksUri: v.httpUrl(obj.jwksUri, "jwksUri"),
      mapping: v.oidcMapping(obj.mapping, "mapping", this.validatePermissions),
      createdAt: this.now(),
    };
    await checkTarget(provider.jwksUri, this.outbound, "jwksUri");
    await this.store.insertOidcProvider(app.id, provider).catch(conflictOnDuplicate);
    return provider;
  }

  async removeOidcProvider(idOrName: string, name: string): Promise<void> {
    const app = await this.resolve(idOrName);
    if (!(await this.store.deleteOidcProvider(app.id, name))) {
      throw new MeshauthError("not_found", `app ${app.name} has no OIDC provider ${JSON.stringify(name)}`);
    }
  }

  /** The app's CA certificate (PEM), served at the discovery document's `ca_uri`. */
  async caCertificate(appId: string): Promise<string> {
    const ca = await this.store.findAuthority(appId);
    if (!ca) throw new MeshauthError("not_found", `no app with ID ${JSON.stringify(appId)}`);
    return ca.certificatePem;
  }
}
