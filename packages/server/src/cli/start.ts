import { writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import type { HubConfig } from "../config/config.js";
import { createHub } from "../hub.js";

function shown(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel.startsWith("..") ? path : rel;
}

/** Starts the hub, prints what a developer needs once, and shuts down cleanly on SIGINT/SIGTERM. */
export async function startHub(config: HubConfig): Promise<void> {
  const hub = await createHub(config);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    hub.http.log.info({ signal }, "shutting down: draining requests");
    const force = setTimeout(() => process.exit(1), 10_000);
    force.unref();
    hub.close().then(
      () => process.exit(0),
      (e: unknown) => {
        hub.http.log.error({ err: e }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
  const address = await hub.listen();
  const { report } = hub;
  const lines = [
    "",
    `meshauth hub ${config.issuer} (listening on ${address}, ${config.mode} mode)`,
    `  storage: ${config.database.kind === "sqlite" ? `SQLite ${shown(config.database.path)}` : "PostgreSQL (DATABASE_URL)"}`,
    `  discovery: ${config.issuer}/.well-known/oauth-authorization-server`,
  ];
  if (report.generatedAdminToken) {
    lines.push(
      `  admin token (shown once; saved in ${shown(report.adminTokenPath ?? "")}, mode 0600): ${report.generatedAdminToken}`,
    );
  } else if (report.adminTokenPath) {
    lines.push(`  admin token: in ${shown(report.adminTokenPath)}`);
  } else {
    lines.push("  admin token: from MESHAUTH_ADMIN_TOKEN");
  }
  if (report.generatedMasterKeyPath) {
    lines.push(
      `  master key generated in ${shown(report.generatedMasterKeyPath)}.${
        config.mode === "production"
          ? " WARNING: in production set MESHAUTH_MASTER_KEY from a secret store and keep it out of the data folder."
          : ""
      }`,
    );
  }
  if (report.demoApp) {
    const { app, playgroundToken } = report.demoApp;
    lines.push(`  app "demo" created: app ID ${app.id}`);
    if (playgroundToken) {
      lines.push(
        `    playground token (shown once; full read/write for anyone holding it): ${playgroundToken}`,
      );
      writeFileSync(
        join(config.dataDir, "demo-app.json"),
        `${JSON.stringify({ appId: app.id, playgroundToken }, null, 2)}\n`,
        { mode: 0o600 },
      );
    }
  } else {
    const demo = await hub.store.findAppByName("demo");
    if (demo)
      lines.push(
        `  app "demo": app ID ${demo.id} (first playground token in ${shown(join(config.dataDir, "demo-app.json"))})`,
      );
  }
  if (config.mode === "production" && !config.smtpUrl)
    lines.push("  WARNING: MESHAUTH_SMTP_URL is not set; email codes cannot be delivered");
  process.stdout.write(`${lines.join("\n")}\n\n`);
}
