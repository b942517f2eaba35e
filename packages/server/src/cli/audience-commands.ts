import type { Command } from "commander";
import { TokenAudiences } from "../apps/token-audiences.js";
import type { HubCore } from "../hub.js";
import type { ActionRunner } from "./app-commands.js";
import { formatDuration, table } from "./output.js";

const audiencesOf = (core: HubCore) =>
  new TokenAudiences(core.store, core.apps, core.config.issuer, core.now);

function json(name: string) {
  return (value: string): unknown => {
    try {
      return JSON.parse(value);
    } catch (e) {
      throw new Error(`--${name} is not valid JSON: ${(e as Error).message}`);
    }
  };
}

/** `meshauth token-audience ...`: bearer JWTs for other engines (docs/bearer-tokens.md). */
export function registerAudienceCommands(program: Command, run: ActionRunner): void {
  const cmd = program
    .command("token-audience")
    .description("services an app's users may get short-lived bearer JWTs for (PowerSync, Supabase, ...)");

  cmd
    .command("add <app> <audience>")
    .description("add an audience, or replace its settings")
    .option("--ttl <seconds>", "token lifetime, 30 to 900 (default 300)", (v) => Number(v))
    .option("--role <role>", 'the "role" claim (default "authenticated")')
    .option(
      "--permissions-claim <name>",
      'claim with the flattened permissions (default "permissions"; "none" leaves it out)',
    )
    .option("--app-claim <name>", 'claim with the app ID (default "app_id"; "none" leaves it out)')
    .option("--claims <json>", 'fixed claims, e.g. \'{"tenant_id":"acme"}\'', json("claims"))
    .option(
      "--user-info-claims <json>",
      'claims from userInfo, e.g. \'{"org":"organisation"}\'',
      json("user-info-claims"),
    )
    .action(
      run(async (core, out, [app, audience], opts) => {
        const name = (v: unknown) => (v === "none" ? null : v);
        const settings = {
          ...(opts.ttl !== undefined ? { ttlSeconds: opts.ttl } : {}),
          ...(opts.role !== undefined ? { role: opts.role } : {}),
          ...(opts.permissionsClaim !== undefined ? { permissionsClaim: name(opts.permissionsClaim) } : {}),
          ...(opts.appClaim !== undefined ? { appClaim: name(opts.appClaim) } : {}),
          ...(opts.claims !== undefined ? { claims: opts.claims } : {}),
          ...(opts.userInfoClaims !== undefined ? { userInfoClaims: opts.userInfoClaims } : {}),
        };
        const saved = await audiencesOf(core).put(app as string, audience, settings);
        out.result(saved, () => [
          `token audience ${saved.audience}: ${formatDuration(saved.ttlSeconds)} tokens, role ${saved.role}`,
        ]);
      }),
    );

  cmd
    .command("list <app>")
    .description("list an app's token audiences")
    .action(
      run(async (core, out, [app]) => {
        const audiences = await audiencesOf(core).list(app as string);
        out.result({ audiences }, () =>
          audiences.length === 0
            ? ["(no token audiences)"]
            : table([
                ["AUDIENCE", "TTL", "ROLE", "CLAIMS"],
                ...audiences.map((a) => [
                  a.audience,
                  formatDuration(a.ttlSeconds),
                  a.role,
                  [a.permissionsClaim, a.appClaim, ...Object.keys(a.claims), ...Object.keys(a.userInfoClaims)]
                    .filter(Boolean)
                    .join(", "),
                ]),
              ]),
        );
      }),
    );

  cmd
    .command("remove <app> <audience>")
    .description("stop issuing tokens for an audience (tokens already issued live out their minutes)")
    .action(
      run(async (core, out, [app, audience]) => {
        await audiencesOf(core).remove(app as string, audience as string);
        out.result({ removed: audience }, () => [`removed token audience ${audience}`]);
      }),
    );
}
