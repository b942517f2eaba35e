import { createClient } from "@meshauth/client";
import { MeshauthProvider, resolveText, useCurrentUser, useUserInteraction } from "@meshauth/react";
import { type KeyboardEvent, type SyntheticEvent, useEffect, useRef } from "react";
import { createRoot } from "react-dom/client";

const { hub, appId } = window.MESHAUTH; // the hub's URL and your app's ID
const client = createClient({ hub, appId, customLoginGui: true });
const autoComplete = { email: "email", otp: "one-time-code", password: "current-password", text: "on" };

/** Tab and Shift+Tab wrap around inside the dialog instead of leaving it. */
function trapTab(event: KeyboardEvent<HTMLDialogElement>) {
  const items = event.currentTarget.querySelectorAll<HTMLElement>("input, button:not(:disabled)");
  const [first, last] = [items[0], items[items.length - 1]];
  if (event.key !== "Tab" || !first || !last) return;
  const edge = event.shiftKey ? first : last;
  if (document.activeElement === edge) {
    event.preventDefault();
    (event.shiftKey ? last : first).focus();
  }
}

function MyLoginDialog() {
  const ask = useUserInteraction(); // what the SDK asks now (email, code, a message), or undefined
  const dialog = useRef<HTMLDialogElement>(null);
  const open = ask !== undefined;
  useEffect(() => {
    if (!open) return;
    const opener = document.activeElement as HTMLElement | null;
    dialog.current?.showModal(); // modal: the page behind is inert; Escape fires "cancel"
    return () => opener?.focus(); // when the SDK is done, back to the Login button
  }, [open]);
  if (!ask) return null;
  const cancel = (event: SyntheticEvent) => {
    event.preventDefault(); // the SDK closes the dialog by asking nothing more
    if (ask.cancelLabel) ask.onCancel();
  };
  return (
    <dialog ref={dialog} aria-labelledby="login-title" onCancel={cancel} onKeyDown={trapTab}>
      <h2 id="login-title">{ask.title}</h2>
      {ask.alerts.map((alert) => (
        // Errors interrupt (role=alert); "We sent a code" is a polite status.
        <p key={alert.messageCode} role={alert.type === "error" ? "alert" : "status"} className={alert.type}>
          {resolveText(alert)}
        </p>
      ))}
      <form action={(data) => ask.onSubmit(Object.fromEntries(data) as Record<string, string>)}>
        {Object.entries(ask.fields).map(([name, field]) => (
          <label key={ask.type + name}>
            {field.label}
            <input
              name={name}
              type={field.type === "otp" ? "text" : field.type}
              inputMode={field.type === "otp" ? "numeric" : undefined}
              autoComplete={autoComplete[field.type]}
              defaultValue={field.value}
              required
              autoFocus
            />
          </label>
        ))}
        <button type="submit">{ask.submitLabel}</button>
        {ask.cancelLabel && (
          <button type="button" onClick={cancel}>
            {ask.cancelLabel}
          </button>
        )}
      </form>
    </dialog>
  );
}

function App() {
  const user = useCurrentUser();
  if (user.status === "loading") return <main aria-busy="true" />; // the stored session is being read
  const toggle = () => void (user.isLoggedIn ? client.logout() : client.login().catch(() => {}));
  return (
    <main>
      <p>{user.isLoggedIn ? `Logged in as ${user.email} (${user.status})` : "Logged out"}</p>
      <button type="button" onClick={toggle}>
        {user.isLoggedIn ? "Logout" : "Login"}
      </button>
      <MyLoginDialog />
    </main>
  );
}

createRoot(document.getElementById("root")!).render(
  <MeshauthProvider client={client}>
    <App />
  </MeshauthProvider>,
);
