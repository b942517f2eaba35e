import { createClient } from "@meshauth/client";
import { MeshauthProvider, resolveText, useCurrentUser, useUserInteraction } from "@meshauth/react";
import { createRoot } from "react-dom/client";

const { hub, appId } = window.MESHAUTH; // the hub's URL and your app's ID
const client = createClient({ hub, appId, customLoginGui: true });
const autoComplete = { email: "email", otp: "one-time-code", password: "current-password", text: "on" };

function MyLoginDialog() {
  const ask = useUserInteraction(); // what the SDK asks now (email, code, a message), or undefined
  if (!ask) return null;
  return (
    <dialog open aria-label={ask.title}>
      <h2>{ask.title}</h2>
      <p role="alert">{ask.alerts.map(resolveText).join(" ")}</p>
      <form action={(data) => ask.onSubmit(Object.fromEntries(data) as Record<string, string>)}>
        {Object.entries(ask.fields).map(([name, field]) => (
          <label key={ask.type + name}>
            {field.label}
            <input
              name={name}
              type={field.type === "otp" ? "text" : field.type}
              autoComplete={autoComplete[field.type]}
              autoFocus
            />
          </label>
        ))}
        <button type="submit">{ask.submitLabel}</button>
        {ask.cancelLabel && (
          <button type="button" onClick={ask.onCancel}>
            {ask.cancelLabel}
          </button>
        )}
      </form>
    </dialog>
  );
}

function App() {
  const user = useCurrentUser();
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
