import type { Command } from "commander";
import type { AppDetails } from "../apps/model.js";
import type { HubCore } from "../hub.js";
import { formatDuration, formatTime, type Output, table } from "./output.js";

/** Runs a command against the opened hub storage; `args` are the positional arguments. */
export type Action = (
  core: HubCore,
  out: Output,
  args: string[],
  opts: Record<string, unknown>,
) => Promise<void>;
export type ActionRunner = (fn: Action) => (...raw: unknown[]) => Promise<void>;

function parseJsonOption(name: string) {
  return (value: string): unknown => {
    try {
      return JSON.parse(value);
    } catch (e) {
      throw new Error(`--${name} is not valid JSON: ${(e as Error).message}`);
    }
  };
}

const list = (value: string): string[] =>
  value
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
const collect = (value: string, prev: string[] = []): string[] => [...prev, value];

function intOption(name: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value))
      throw new Error(`--${name} expects a whole number of seconds, got ${JSON.stringify(value)}`);
    return Number(value);
  };
}

function describeApp(app: AppDetails): string[] {
  return [
    `app ${app.name}`,
    `  id:                ${app.id}`,
    `  providers:         ${app.providers.join(", ") || "(none)"}`,
    `  access tokens:     ${formatDuration(app.accessTokenTtl)}`,
    `  sessions:          ${formatDuration(app.sessionAbsoluteTtl)} absolute, ${formatDuration(app.sessionIdleTtl)} idle`,
    `  certificates:      ${formatDuration(app.certificateTtl)} at most (and never past the session)`,
    `  clientInfo:        ${app.shareClientInfo ? "shared in tokens and certificates" : "to the device only"}`,
    `  playground token:  ${app.hasPlaygroundToken ? "set (rotate-playground-token makes a new one)" : "none"}`,
    `  CORS origins:      ${app.corsOrigins.join(", ") || "(none)"}`,
    `  email sender:      ${app.email.from ?? "(hub default)"}`,
    `  client secrets:    ${app.secrets.filter((s) => s.revokedAt === null).length} active`,
    ...app.secrets.map(
      (s) =>
        `    ${s.id}  ${s.label || "-"}  created ${formatTime(s.createdAt)}${s.revokedAt ? `  revoked ${formatTime(s.revokedAt)}` : ""}`,
    ),
    `  webhooks:          ${app.webhooks.map((w) => `${w.name} -> ${w.url}`).join(", ") || "(none)"}`,
    `  OIDC providers:    ${app.oidcProviders.map((p) => `${p.name} (${p.issuer})`).join(", ") || "(none)"}`,
    `  created:           ${formatTime(app.createdAt)}`,
  ];
}

/** Options shared by create and update, as an admin-API body. */
function bodyFrom(opts: Record<string, unknown>): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  const map: Record<string, string> = {
    name: "name",
    providers: "providers",
    accessTokenTtl: "accessTokenTtl",
    sessionAbsoluteTtl: "sessionAbsoluteTtl",
    sessionIdleTtl: "sessionIdleTtl",
    certificateTtl: "certificateTtl",
    corsOrigin: "corsOrigins",
    email: "email",
    defaultPermissions: "defaultPermissions",
  };
  for (const [opt, field] of Object.entries(map)) if (opts[opt] !== undefined) body[field] = opts[opt];
  return body;
}

function appOptions(cmd: Command): Command {
  return cmd
    .option("--providers <list>", "comma-separated: otp, playground, client, webhook, oidc", list)
    .option("--access-token-ttl <seconds>", "access-token lifetime (60-86400)", intOption("access-token-ttl"))
    .option(
      "--session-absolute-ttl <seconds>",
      "longest a session may last",
      intOption("session-absolute-ttl"),
    )
    .option(
      "--session-idle-ttl <seconds>",
      "longest a session may stay unused",
      intOption("session-idle-ttl"),
    )
    .option(
      "--certificate-ttl <seconds>",
      "longest device certificate, i.e. how long a device works offline (300-7776000)",
      intOption("certificate-ttl"),
    )
    .option("--cors-origin <origin>", "allowed browser origin (repeatable)", collect)
    .option(
      "--email <json>",
      'email settings, e.g. {"from":"App <a@b.c>","subject":"Your code {code}"}',
      parseJsonOption("email"),
    )
    .option(
      "--default-permissions <json>",
      "permissions of email-login users",
      parseJsonOption("default-permissions"),
    );
}

export function registerAppCommands(program: Command, run: ActionRunner): void {
  const app = program.command("app").description("create and manage apps (tenants and OAuth clients)");

  appOptions(
    app
      .command("create <name>")
      .description("create an app with its own CA and, unless --no-playground, a playground token"),
  )
    .option("--no-playground", "do not make a playground token")
    .action(
      run(async (core, out, [name], opts) => {
        const body = { ...bodyFrom(opts), name, ...(opts.playground === false ? { playground: false } : {}) };
        const created = await core.apps.create(body);
        out.result(created, () => [
          ...describeApp(created.app),
          ...(created.playgroundToken
            ? ["", `playground token (shown once): ${created.playgroundToken}`]
            : []),
        ]);
      }),
    );

  app
    .command("list")
    .description("list apps")
    .action(
      run(async (core, out) => {
        const apps = await core.apps.list();
        out.result({ apps }, () =>
          apps.length === 0
            ? ["no apps"]
            : table([
                ["ID", "NAME", "PROVIDERS", "CREATED"],
                ...apps.map((a) => [a.id, a.name, a.providers.join(","), formatTime(a.createdAt)]),
              ]),
        );
      }),
    );

  app
    .command("show <app>")
    .description("show an app (by ID or name) with its secrets and providers")
    .action(
      run(async (core, out, [id]) => {
        const details = await core.apps.details(id as string);
        out.result(details, () => describeApp(details));
      }),
    );

  appOptions(app.command("update <app>").description("change an app's settings"))
    .option("--name <name>", "new name")
    .action(
      run(async (core, out, [id], opts) => {
        const body = bodyFrom(opts);
        if (Object.keys(body).length === 0)
          throw new Error("nothing to update; see meshauth app update --help");
        const details = await core.apps.update(id as string, body);
        out.result(details, () => describeApp(details));
      }),
    );

  app
    .command("delete <app>")
    .description("delete an app and everything it owns (users, sessions, CA)")
    .option("--yes", "confirm the deletion")
    .action(
      run(async (core, out, [id], opts) => {
        const target = await core.apps.resolve(id as string);
        if (opts.yes !== true)
          throw new Error(`this deletes app ${target.name} (${target.id}) for good; add --yes to confirm`);
        await core.apps.delete(target.id);
        out.result({ deleted: target }, () => [`deleted app ${target.name} (${target.id})`]);
      }),
    );

  app
    .command("rotate-playground-token <app>")
    .description("replace the playground token; devices with the old one fail at their next login")
    .action(
      run(async (core, out, [id]) => {
        const r = await core.apps.rotatePlaygroundToken(id as string);
        out.result(r, () => [`new playground token for ${r.app.name} (shown once): ${r.playgroundToken}`]);
      }),
    );

  app
    .command("add-secret <app>")
    .description("add a client secret for the app's backend (shown once)")
    .option("--label <text>", "a note saying what uses it")
    .action(
      run(async (core, out, [id], opts) => {
        const r = await core.apps.addSecret(
          id as string,
          opts.label === undefined ? {} : { label: opts.label },
        );
        out.result(r, () => [`client secret ${r.secret.id} (shown once): ${r.clientSecret}`]);
      }),
    );

  app
    .command("revoke-secret <app> <secret-id>")
    .description("revoke a client secret at once")
    .action(
      run(async (core, out, [id, secretId]) => {
        await core.apps.revokeSecret(id as string, secretId as string);
        out.result({ revoked: secretId }, () => [`revoked client secret ${secretId}`]);
      }),
    );

  app
    .command("add-webhook <app> <name> <url>")
    .description("add an auth webhook provider (login with provider webhook:<name>)")
    .option("--secret <secret>", "signing secret to use (default: generated and shown once)")
    .option("--no-ditto-signature", "do not also send Ditto's ditto-signature header")
    .option(
      "--timeout-ms <ms>",
      "how long to wait for the webhook (100-30000, default 5000)",
      intOption("timeout-ms"),
    )
    .action(
      run(async (core, out, [id, name, url], opts) => {
        const r = await core.apps.addWebhook(id as string, {
          name,
          url,
          ...(opts.secret !== undefined ? { secret: opts.secret } : {}),
          ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
          dittoSignature: opts.dittoSignature !== false,
        });
        out.result(r, () => [
          `webhook provider webhook:${r.webhook.name} -> ${r.webhook.url}`,
          `signing secret (shown once): ${r.signingSecret}`,
        ]);
      }),
    );

  app
    .command("remove-webhook <app> <name>")
    .description("remove an auth webhook provider")
    .action(
      run(async (core, out, [id, name]) => {
        await core.apps.removeWebhook(id as string, name as string);
        out.result({ removed: name }, () => [`removed webhook provider ${name}`]);
      }),
    );

  app
    .command("add-oidc <app> <name>")
    .description("add an OIDC identity provider (login with provider oidc:<name>)")
    .requiredOption("--issuer <url>", "the IdP's issuer (iss)")
    .requiredOption("--audience <aud>", "the audience its tokens must carry")
    .requiredOption("--jwks-uri <url>", "where its signing keys are published")
    .option(
      "--mapping <json>",
      "claims to identity mapping (see docs/admin-api.md)",
      parseJsonOption("mapping"),
    )
    .action(
      run(async (core, out, [id, name], opts) => {
        const provider = await core.apps.addOidcProvider(id as string, {
          name,
          issuer: opts.issuer,
          audience: opts.audience,
          jwksUri: opts.jwksUri,
          ...(opts.mapping !== undefined ? { mapping: opts.mapping } : {}),
        });
        out.result({ provider }, () => [`OIDC provider oidc:${provider.name} (${provider.issuer})`]);
      }),
    );

  app
    .command("remove-oidc <app> <name>")
    .description("remove an OIDC identity provider")
    .action(
      run(async (core, out, [id, name]) => {
        await core.apps.removeOidcProvider(id as string, name as string);
        out.result({ removed: name }, () => [`removed OIDC provider ${name}`]);
      }),
    );
}
