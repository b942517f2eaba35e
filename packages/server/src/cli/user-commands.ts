import type { Command } from "commander";
import { Revocations } from "../auth/revocations.js";
import type { ActionRunner } from "./app-commands.js";
import { formatTime, table } from "./output.js";

export function registerUserCommands(program: Command, run: ActionRunner): void {
  const user = program.command("user").description("an app's users, their sessions and devices");

  user
    .command("list <app>")
    .description("list an app's users")
    .action(
      run(async (core, out, [app]) => {
        const users = await core.sessionAdmin.users(app as string);
        out.result({ users }, () =>
          users.length === 0
            ? ["no users"]
            : table([
                ["USER", "EMAIL", "CREATED", "LAST LOGIN", "STATUS"],
                ...users.map((u) => [
                  u.userId,
                  u.email ?? "-",
                  formatTime(u.createdAt),
                  formatTime(u.lastLoginAt),
                  u.disabledAt ? "disabled" : "active",
                ]),
              ]),
        );
      }),
    );

  user
    .command("sessions <app> <user>")
    .description("list a user's sessions; each is one device (its key thumbprint)")
    .action(
      run(async (core, out, [app, userId]) => {
        const sessions = await core.sessionAdmin.sessions(app as string, userId as string);
        out.result({ sessions }, () =>
          sessions.length === 0
            ? ["no sessions"]
            : table([
                ["SESSION", "DEVICE KEY", "PROVIDER", "CREATED", "LAST USED", "ENDS", "STATE"],
                ...sessions.map((s) => [
                  s.id,
                  s.jkt,
                  s.provider,
                  formatTime(s.createdAt),
                  formatTime(s.lastUsedAt),
                  formatTime(s.expiresAt),
                  s.active ? "active" : s.revokedAt ? `revoked (${s.revokedReason})` : "expired",
                ]),
              ]),
        );
      }),
    );

  user
    .command("revoke-sessions <app> <user>")
    .description("end every session of a user (each device must log in again)")
    .action(
      run(async (core, out, [app, userId]) => {
        const revoked = await core.sessionAdmin.revokeUserSessions(app as string, userId as string);
        out.result({ revoked }, () => [`ended ${revoked.length} session(s) of ${userId}`]);
      }),
    );

  for (const [name, disabled] of [
    ["disable", true],
    ["enable", false],
  ] as const) {
    user
      .command(`${name} <app> <user>`)
      .description(
        disabled
          ? "disable a user: refreshes and new logins fail at once, sessions end"
          : "enable a disabled user",
      )
      .action(
        run(async (core, out, [app, userId]) => {
          const u = await core.sessionAdmin.setDisabled(app as string, userId as string, disabled);
          out.result(u, () => [`${disabled ? "disabled" : "enabled"} user ${u.userId}`]);
        }),
      );
  }

  program
    .command("session")
    .description("sessions")
    .command("revoke <app> <session-id>")
    .description("end one session (log one device out)")
    .action(
      run(async (core, out, [app, sessionId]) => {
        await core.sessionAdmin.revokeSession(app as string, sessionId as string);
        out.result({ revoked: sessionId }, () => [`ended session ${sessionId}`]);
      }),
    );

  program
    .command("revoke <kind> <app> <value>")
    .description(
      "revoke a user, a device (key thumbprint), a session or a certificate serial: sessions end now, offline peers learn it from the signed revocation list",
    )
    .action(
      run(async (core, out, [kind, app, value]) => {
        const state = await core.revocations.revoke(app as string, Revocations.kind(kind), value as string);
        out.result(state, () => [
          `revoked ${kind} ${value}; revocation list is now version ${state.version}`,
        ]);
      }),
    );
}
