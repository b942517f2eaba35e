// The SDK in a plain TypeScript page: the default login dialog (no customLoginGui),
// the current user on screen, and buttons for login, refresh and logout.
import { type CurrentUser, createClient, isAbortError } from "@meshauth/client";

// The hub's URL and the app's ID; examples/serve.mjs fills them in (/config.js).
const { hub, appId } = window.MESHAUTH;
const client = createClient({ hub, appId });

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const loginButton = $<HTMLButtonElement>("login");
const logoutButton = $<HTMLButtonElement>("logout");
const refreshButton = $<HTMLButtonElement>("refresh");
const message = $("message");

type Rules = CurrentUser["permissions"]["read"];
/** "everything", "nothing", or the collections with how many `_id` queries each has. */
function summarize(rules: Rules): string {
  if (rules.everything) return "everything";
  const collections = Object.entries(rules.queriesByCollection).filter(([, queries]) => queries.length > 0);
  if (collections.length === 0) return "nothing";
  return collections.map(([name, queries]) => `${name} (${queries.join(" or ")})`).join(", ");
}

function show(user: CurrentUser): void {
  // Until the stored session has been read: neither "Logged out" nor a Login button.
  if (user.status === "loading") return;
  $("state").textContent = user.isLoggedIn ? `Logged in as ${user.email ?? user.userId}` : "Logged out";
  $("details").hidden = !user.isLoggedIn;
  loginButton.hidden = user.isLoggedIn;
  logoutButton.hidden = refreshButton.hidden = !user.isLoggedIn;
  if (!user.isLoggedIn) return;
  $("email").textContent = user.email ?? "(none)";
  $("user-id").textContent = user.userId;
  $("provider").textContent = user.provider;
  $("permissions").textContent =
    `read ${summarize(user.permissions.read)}; write ${summarize(user.permissions.write)}`;
  $("status").textContent = user.status;
  $("access-until").textContent = user.accessTokenExpiresAt.toLocaleString();
  $("session-until").textContent = user.sessionExpiresAt?.toLocaleString() ?? "(no end)";
}

client.currentUser.subscribe(show);
client.on("authenticationRequired", (reason) => {
  message.textContent = reason.code === "not_logged_in" ? "" : `Please log in again: ${reason.message}`;
});
client.on("error", (error) => {
  message.textContent = `Background refresh: ${error.message}`;
});

/** Runs an action from a button, showing its failure (a cancelled dialog is not one). */
function action(button: HTMLButtonElement, run: () => Promise<string>): void {
  button.addEventListener("click", async () => {
    button.disabled = true;
    message.textContent = "";
    try {
      message.textContent = await run();
    } catch (e) {
      message.textContent = isAbortError(e) ? "Login cancelled." : `${(e as Error).message}`;
    } finally {
      button.disabled = false;
    }
  });
}

action(loginButton, async () => {
  await client.login();
  return "";
});
action(refreshButton, async () => {
  const user = await client.refresh();
  return `Refreshed at ${new Date().toLocaleTimeString()} (${user.status}).`;
});
action(logoutButton, async () => {
  const { revokedOnHub, pending } = await client.logout();
  return revokedOnHub
    ? "Logged out; the hub ended the session."
    : pending
      ? "Logged out; the hub is unreachable, the session will be revoked when it is back."
      : "Logged out.";
});

client.ready().catch((e: Error) => {
  message.textContent = `Could not read the stored session: ${e.message}`;
});
