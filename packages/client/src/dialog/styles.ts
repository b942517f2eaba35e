/**
 * The default dialog's look. Theme it from the page with CSS custom properties on the
 * element (or any ancestor), for example
 *
 *   meshauth-login-dialog { --meshauth-accent: #0f766e; --meshauth-radius: 6px; }
 *
 *   --meshauth-font       font-family                      (system UI font)
 *   --meshauth-bg         card background                  (white / near-black)
 *   --meshauth-fg         text                             (near-black / near-white)
 *   --meshauth-muted      secondary text, placeholders     (grey)
 *   --meshauth-border     input and card borders           (fg mixed into bg)
 *   --meshauth-accent     primary button, focus ring, info (blue; keep 4.5:1 with accent-fg)
 *   --meshauth-accent-fg  text on the primary button       (white)
 *   --meshauth-error      error alerts, destructive button (red; keep 4.5:1 with white)
 *   --meshauth-warning    warning alerts                   (amber)
 *   --meshauth-radius     card corner radius; controls use it minus 4px (12px)
 *   --meshauth-backdrop   the dimmed page behind the card  (translucent black)
 *
 * Without them the defaults follow `prefers-color-scheme`; a value you set applies in
 * both schemes (set it inside your own media query to differ). For anything else, style
 * the parts: `meshauth-login-dialog::part(submit) { … }`. Parts: dialog, title, alerts,
 * alert (plus alert-error / alert-warning / alert-info), form, field, label, input,
 * actions, submit, cancel, option, option-icon. The host carries
 * `data-interaction="<type>"` (email, otp, provider, …) for per-step rules.
 */
export const styles = `
:host {
  display: contents;
  --_font: var(--meshauth-font, system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif);
  --_bg: var(--meshauth-bg, #ffffff);
  --_fg: var(--meshauth-fg, #18181b);
  --_muted: var(--meshauth-muted, #5b5b66);
  --_border: var(--meshauth-border, #d4d4d8);
  --_accent: var(--meshauth-accent, #2563eb);
  --_accent-fg: var(--meshauth-accent-fg, #ffffff);
  --_error: var(--meshauth-error, #dc2626);
  /* Behind white text: the same in both schemes, so it keeps WCAG AA contrast (4.8:1). */
  --_danger: var(--meshauth-error, #dc2626);
  --_warning: var(--meshauth-warning, #d97706);
  --_radius: var(--meshauth-radius, 12px);
  --_control-radius: max(0px, calc(var(--_radius) - 4px));
}
@media (prefers-color-scheme: dark) {
  :host {
    --_bg: var(--meshauth-bg, #1c1c21);
    --_fg: var(--meshauth-fg, #f4f4f5);
    --_muted: var(--meshauth-muted, #a1a1aa);
    --_border: var(--meshauth-border, #3f3f46);
    --_accent: var(--meshauth-accent, #2563eb); /* white on it: 5.2:1 (blue-500 was 3.7:1) */
    --_error: var(--meshauth-error, #f87171);
    --_warning: var(--meshauth-warning, #fbbf24);
  }
}
* { box-sizing: border-box; }
dialog {
  width: min(360px, calc(100vw - 32px));
  max-height: calc(100vh - 32px);
  overflow: auto;
  margin: auto;
  padding: 28px 24px 18px;
  border: 1px solid var(--_border);
  border-radius: var(--_radius);
  background: var(--_bg);
  color: var(--_fg);
  font-family: var(--_font);
  font-size: 15px;
  line-height: 1.45;
  box-shadow: 0 1px 2px rgb(0 0 0 / 0.06), 0 16px 48px rgb(0 0 0 / 0.22);
  color-scheme: light dark;
}
dialog::backdrop {
  background: var(--meshauth-backdrop, rgb(9 9 11 / 0.5));
}
@media (prefers-reduced-motion: no-preference) {
  dialog[open] { animation: meshauth-in 140ms ease-out; }
}
@keyframes meshauth-in {
  from { opacity: 0; transform: translateY(6px) scale(0.985); }
}
h2 {
  margin: 0 0 18px;
  font-size: 1.3em;
  font-weight: 650;
  letter-spacing: -0.01em;
  line-height: 1.25;
}
h2:focus { outline: none; }
.alerts:empty { display: none; }
.alerts { display: grid; gap: 8px; margin: 0 0 18px; }
.alert {
  --_tone: var(--_accent);
  margin: 0;
  padding: 10px 12px;
  border: 1px solid color-mix(in srgb, var(--_tone) 35%, transparent);
  border-left-width: 3px;
  border-left-color: var(--_tone);
  border-radius: var(--_control-radius);
  background: color-mix(in srgb, var(--_tone) 9%, var(--_bg));
  font-size: 0.9em;
  overflow-wrap: anywhere;
}
.alert[data-type="error"] { --_tone: var(--_error); }
.alert[data-type="warning"] { --_tone: var(--_warning); }
form { display: grid; gap: 16px; margin: 0; }
form[aria-busy="true"] { cursor: progress; }
.field { display: grid; gap: 6px; }
label { font-size: 0.9em; font-weight: 550; }
input {
  width: 100%;
  height: 42px;
  padding: 0 12px;
  border: 1px solid var(--_border);
  border-radius: var(--_control-radius);
  background: var(--_bg);
  color: var(--_fg);
  font: inherit;
  /* iOS Safari zooms the page into any input under 16px when it gets focus. */
  font-size: max(16px, 1em);
  outline: none;
  transition: border-color 120ms, box-shadow 120ms;
}
input::placeholder { color: var(--_muted); opacity: 0.75; }
input:focus {
  border-color: var(--_accent);
  box-shadow: 0 0 0 3px color-mix(in srgb, var(--_accent) 28%, transparent);
}
input[aria-invalid="true"] { border-color: var(--_error); }
input[aria-invalid="true"]:focus { box-shadow: 0 0 0 3px color-mix(in srgb, var(--_error) 25%, transparent); }
input[data-type="otp"] {
  font-size: 1.35em;
  letter-spacing: 0.3em;
  text-align: center;
  font-variant-numeric: tabular-nums;
}
input[data-type="otp"]::placeholder { letter-spacing: 0.3em; }
input[readonly] { opacity: 0.7; }
.actions { display: grid; gap: 8px; }
form > .actions:first-child { margin-top: 0; }
button {
  display: flex;
  align-items: center;
  justify-content: center;
  gap: 10px;
  width: 100%;
  min-height: 42px;
  padding: 8px 14px;
  border: 1px solid transparent;
  border-radius: var(--_control-radius);
  background: transparent;
  color: var(--_fg);
  font: inherit;
  font-weight: 550;
  cursor: pointer;
  transition: background-color 120ms, border-color 120ms, filter 120ms;
}
button:focus-visible {
  outline: 2px solid var(--_accent);
  outline-offset: 2px;
}
button:disabled { cursor: progress; opacity: 0.6; }
.submit { background: var(--_accent); color: var(--_accent-fg); }
/* Darker on hover, never lighter: lighter would drop the text's contrast under 4.5:1. */
.submit:hover:not(:disabled) { filter: brightness(0.92); }
:host([data-interaction="logout-confirmation"]) .submit { background: var(--_danger); color: #fff; }
.cancel { color: var(--_muted); }
.cancel:hover:not(:disabled) { color: var(--_fg); background: color-mix(in srgb, var(--_fg) 6%, transparent); }
.option { border-color: var(--_border); background: var(--_bg); }
.option:hover:not(:disabled) {
  border-color: color-mix(in srgb, var(--_fg) 30%, var(--_border));
  background: color-mix(in srgb, var(--_fg) 4%, var(--_bg));
}
.option img { width: 20px; height: 20px; object-fit: contain; flex: none; }
form[aria-busy="true"] .submit::after {
  content: "";
  width: 14px;
  height: 14px;
  border: 2px solid currentColor;
  border-right-color: transparent;
  border-radius: 50%;
  animation: meshauth-spin 700ms linear infinite;
}
@keyframes meshauth-spin { to { transform: rotate(360deg); } }
@media (forced-colors: active) {
  .submit { border-color: ButtonText; }
  .alert { border-color: CanvasText; }
}
`;
