import { randomUUID } from "node:crypto";
import { MeshauthError, type Permissions, validatePermissions } from "@meshauth/core";
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import { type Logger, pino } from "pino";
import { AppService } from "./apps/app-service.js";
import type { AppDetails } from "./apps/model.js";
import { TokenAudiences } from "./apps/token-audiences.js";
import { DeviceCertificates } from "./auth/device-certificates.js";
import { DittoIdentityService } from "./auth/ditto-identity.js";
import { DpopGuard } from "./auth/dpop-guard.js";
import { DpopHooks } from "./auth/dpop-hook.js";
import { bearerExchange } from "./auth/grants/bearer-exchange.js";
import { withBearerExchange } from "./auth/grants/bearer-grant.js";
import { clientCredentialsGrant } from "./auth/grants/client-credentials.js";
import { otpGrant } from "./auth/grants/otp.js";
import { refreshTokenGrant } from "./auth/grants/refresh-token.js";
import { GrantRegistry } from "./auth/grants/registry.js";
import { tokenExchangeGrant } from "./auth/grants/token-exchange.js";
import { sharedSecret } from "./auth/hub-secrets.js";
import { OtpService } from "./auth/otp-service.js";
import { Revocations } from "./auth/revocations.js";
import { SessionAdmin } from "./auth/session-admin.js";
import { TokenService } from "./auth/tokens.js";
import { ensureDataDir, loadOrCreateSecretFile, newAdminToken, newMasterKey } from "./bootstrap/data-dir.js";
import type { HubConfig } from "./config/config.js";
import { createNodeNonceService } from "./crypto/node-dpop.js";
import { SecretBox } from "./crypto/secrets.js";
import {
  createMailer,
  DevMailbox,
  defaultSenderFor,
  devMailboxRoutes,
  loginCodeSender,
  type Mailer,
} from "./email/index.js";
import { CorsPolicy } from "./http/cors.js";
import { Discovery } from "./http/discovery.js";
import { installErrorHandling } from "./http/errors.js";
import { frameworkErrors, ROUTER_OPTIONS } from "./http/hardening.js";
import { adminRoutes } from "./http/routes/admin.js";
import { certificateRoutes } from "./http/routes/certificate.js";
import { dittoIdentityRoutes } from "./http/routes/ditto-identity.js";
import { oauthRoutes } from "./http/routes/oauth.js";
import { publicRoutes } from "./http/routes/public.js";
import { SigningKeys } from "./keys/signing-keys.js";
import { guardedFetch, type OutboundPolicy } from "./providers/outbound.js";
import { migrate, openDatabase } from "./storage/database.js";
import { Store } from "./storage/store.js";
import { registerSync } from "./sync/index.js";

/** What the first start made, for the CLI to show once. */
export interface StartupReport {
  /** Set when the admin token was generated now; it is printed once. */
  generatedAdminToken?: string;
  adminTokenPath?: string;
  generatedMasterKeyPath?: string;
  /** Set when the demo app was created now. */
  demoApp?: { app: AppDetails; playgroundToken?: string };
  createdSigningKey: boolean;
}

/** The hub's parts, wired together; used by the HTTP server and the CLI alike. */
export interface HubCore {
  config: HubConfig;
  store: Store;
  keys: SigningKeys;
  apps: AppService;
  tokens: TokenService;
  otp: OtpService;
  dpop: DpopGuard;
  /** DPoP as a preHandler routes declare: `{ preHandler: core.dpopHooks.require({ accessToken: true }) }`. */
  dpopHooks: DpopHooks;
  /** The /token grants; register more before `buildHttp`. */
  grants: GrantRegistry;
  sessionAdmin: SessionAdmin;
  certificates: DeviceCertificates;
  revocations: Revocations;
  box: SecretBox;
  /** SMTP when MESHAUTH_SMTP_URL is set, else the dev mailbox (codes in the log). */
  mailer: Mailer & { kind: "smtp" | "dev" };
  log: Logger;
  adminToken: string;
  report: StartupReport;
  now: () => number;
  close(): Promise<void>;
}

export interface Hub extends HubCore {
  http: FastifyInstance;
  /** Listens on the configured host and port; returns the bound address. */
  listen(): Promise<string>;
}

/** Validates a permission set with the permission engine, naming the field on error. */
function permissionsValidator(value: unknown, field: string): Permissions {
  try {
    return validatePermissions(value);
  } catch (e) {
    if (e instanceof MeshauthError)
      throw new MeshauthError(e.code, `${field}: ${e.message}`, { ...e.details, field });
    throw e;
  }
}

/**
 * Opens storage and keys: creates the data folder, master key and admin token on first
 * use, applies migrations, ensures a signing key exists. Opening twice is safe.
 */
export async function openHubCore(config: HubConfig): Promise<HubCore> {
  const offset = config.clockOffsetSeconds ?? 0;
  const now = () => Math.floor(Date.now() / 1000) + offset;
  const report: StartupReport = { createdSigningKey: false };
  const log = pino({ level: config.logLevel });

  ensureDataDir(config.dataDir);
  let masterKey = config.masterKey;
  if (!masterKey) {
    const file = loadOrCreateSecretFile(config.dataDir, "master.key", newMasterKey);
    masterKey = Buffer.from(file.value, "base64");
    if (masterKey.length !== 32) throw new Error(`${file.path} does not hold a 32-byte base64 key`);
    if (file.created) report.generatedMasterKeyPath = file.path;
  }
  let adminToken = config.adminToken;
  if (!adminToken) {
    const file = loadOrCreateSecretFile(config.dataDir, "admin-token", newAdminToken);
    adminToken = file.value;
    report.adminTokenPath = file.path;
    if (file.created) report.generatedAdminToken = file.value;
  }

  const { db, engine } = openDatabase(config.database);
  const store = new Store(db, engine);
  try {
    await migrate(db);
  } catch (e) {
    await store.close().catch(() => {});
    const where =
      config.database.kind === "postgres"
        ? "PostgreSQL at DATABASE_URL"
        : `SQLite at ${config.database.path}`;
    throw new Error(`cannot open ${where}: ${(e as Error).message}`);
  }

  const box = new SecretBox(masterKey);
  const keys = new SigningKeys(store, box, config.signingAlg, now);
  // Production hubs never call loopback, link-local or metadata addresses, or themselves (SSRF).
  const outbound: OutboundPolicy = {
    allowAll: config.mode === "development" || config.allowInternalTargets === true,
    hubOrigin: config.issuer,
  };
  const outboundFetch = guardedFetch(outbound);
  const apps = new AppService(store, box, permissionsValidator, now, outbound);
  let services: Pick<
    HubCore,
    | "tokens"
    | "otp"
    | "dpop"
    | "dpopHooks"
    | "grants"
    | "sessionAdmin"
    | "mailer"
    | "certificates"
    | "revocations"
  >;
  try {
    const mailer = createMailer({ smtpUrl: config.smtpUrl, log: (obj, msg) => log.info(obj, msg) });
    const nonces = createNodeNonceService({
      secret: await sharedSecret(store, box, "dpop-nonce", now()),
      now,
    });
    const pepper = await sharedSecret(store, box, "otp-pepper", now());
    const tokens = new TokenService(store, keys, config.issuer, now, (obj, msg) => log.warn(obj, msg));
    const otp = new OtpService(
      store,
      pepper,
      loginCodeSender(mailer, config.emailFrom ?? defaultSenderFor(config.issuer)),
      now,
    );
    const dpop = new DpopGuard(store.guards, nonces, config.issuer, now);
    services = {
      tokens,
      otp,
      dpop,
      dpopHooks: new DpopHooks(dpop, tokens, store),
      grants: new GrantRegistry()
        .register(otpGrant({ otp, tokens }))
        .register(refreshTokenGrant({ tokens }))
        .register(clientCredentialsGrant({ tokens, validatePermissions: permissionsValidator }))
        .register(
          withBearerExchange(
            tokenExchangeGrant({
              store,
              box,
              tokens,
              fetch: outboundFetch,
              jwksFetch: outboundFetch,
              exposeProviderFailures: config.mode === "development",
            }),
            bearerExchange({
              store,
              tokens,
              keys,
              now,
              audiences: new TokenAudiences(store, apps, config.issuer, now),
            }),
          ),
        ),
      sessionAdmin: new SessionAdmin(store, apps, now),
      certificates: new DeviceCertificates(store, box),
      revocations: new Revocations(store, apps, keys, now),
      mailer,
    };
    report.createdSigningKey = await keys.ensure();
    // The demo app is made once per database; deleting it later does not bring it back.
    if (config.demoApp && (await store.getSetting("demo_app_created")) === undefined) {
      // Random, not the PID: every container's hub may be PID 1.
      const claimToken = randomUUID();
      const claimed = await store.setSettingIfAbsent("demo_app_created", claimToken, now());
      if (claimed === claimToken && !(await store.findAppByName("demo"))) {
        report.demoApp = await apps.create({
          name: "demo",
          providers: ["otp", "playground", "client", "webhook", "oidc"],
        });
      }
    }
  } catch (e) {
    await store.close().catch(() => {});
    throw e;
  }

  return {
    config,
    store,
    keys,
    box,
    apps,
    ...services,
    log,
    adminToken,
    report,
    now,
    close: async () => {
      await services.mailer.close();
      await store.close();
    },
  };
}

/** Builds the HTTP service over an opened core. */
export async function buildHttp(core: HubCore): Promise<FastifyInstance> {
  const { config } = core;
  const http = Fastify({
    loggerInstance: core.log as FastifyBaseLogger,
    bodyLimit: config.bodyLimit,
    // Path parameters as long as the IDs the hub accepts; router errors in the hub's shape.
    routerOptions: ROUTER_OPTIONS,
    frameworkErrors,
    // Stack traces stay in the log; clients get stable codes (see installErrorHandling).
    return503OnClosing: true,
    forceCloseConnections: "idle",
    connectionTimeout: 30_000,
    requestTimeout: 30_000,
  });
  installErrorHandling(http);
  const discovery = new Discovery(config.issuer);
  await http.register(publicRoutes, {
    store: core.store,
    keys: core.keys,
    apps: core.apps,
    discovery,
    revocations: core.revocations,
  });
  if (core.mailer instanceof DevMailbox) {
    // Codes are readable at /dev/mailbox only in development; production without SMTP only logs them.
    if (config.mode === "development")
      await http.register(devMailboxRoutes, { mailbox: core.mailer, mode: config.mode });
  }
  const cors = new CorsPolicy(core.store, config.mode === "development", core.now);
  await cors.register(http);
  await http.register(oauthRoutes, {
    store: core.store,
    tokens: core.tokens,
    otp: core.otp,
    dpopHooks: core.dpopHooks,
    discovery,
    cors,
    grants: core.grants,
    now: core.now,
  });
  await http.register(certificateRoutes, {
    dpopHooks: core.dpopHooks,
    certificates: core.certificates,
    discovery,
  });
  await http.register(dittoIdentityRoutes, {
    ditto: new DittoIdentityService(core.store, core.box, core.tokens, core.now),
    dpopHooks: core.dpopHooks,
    store: core.store,
    apps: core.apps,
    adminToken: core.adminToken,
  });
  await registerSync(http, core);
  await http.register(adminRoutes, {
    prefix: "/admin",
    adminToken: core.adminToken,
    apps: core.apps,
    keys: core.keys,
    sessions: core.sessionAdmin,
    revocations: core.revocations,
    audiences: new TokenAudiences(core.store, core.apps, core.config.issuer, core.now),
  });
  // Expired proofs, counters and codes are dropped in the background.
  const purge = setInterval(() => {
    core.store.guards
      .purgeExpired(core.now())
      .catch((e: unknown) => http.log.warn({ err: e }, "purge failed"));
  }, 10 * 60_000);
  purge.unref();
  http.addHook("onClose", async () => clearInterval(purge));
  return http;
}

/** Opens everything and returns a hub ready to listen. */
export async function createHub(config: HubConfig): Promise<Hub> {
  const core = await openHubCore(config);
  let http: FastifyInstance;
  try {
    http = await buildHttp(core);
  } catch (e) {
    await core.close();
    throw e;
  }
  let closing: Promise<void> | undefined;
  return {
    ...core,
    http,
    async listen() {
      return http.listen({ port: config.port, host: config.host });
    },
    // Drains in-flight requests, then closes storage. Safe to call more than once.
    close() {
      closing ??= http.close().then(() => core.close());
      return closing;
    },
  };
}
