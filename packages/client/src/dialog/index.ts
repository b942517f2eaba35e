/**
 * The default login dialog: a framework-free `<meshauth-login-dialog>` web component
 * that draws whatever `userInteraction` asks (email, code, provider picker, messages,
 * logout confirmation) as a native modal `<dialog>` in its shadow DOM. The SDK shows
 * it by itself unless the app draws its own dialog; `attachLoginDialog` wires it to any
 * `ObservableValue<UserInteraction | undefined>`. Theming: see ./styles.ts.
 */
import type { UserInteraction } from "../interaction/types.js";
import type { ObservableValue } from "../observable.js";
import { h, renderAlert, renderBody } from "./render.js";
import { styles } from "./styles.js";

// Importing this module outside a browser (Node, SSR) must not throw.
const Base = (globalThis.HTMLElement ?? class {}) as typeof HTMLElement;

const FOCUSABLE = "input:not([disabled]), button:not([disabled])";

/**
 * Renders one `UserInteraction` (set the `interaction` property) as a modal dialog,
 * open while the element is in the document and `interaction` is set. It calls the
 * interaction's `onSubmit` / `onCancel` and never closes itself on them: the SDK
 * answers with the next interaction, or `undefined` to end.
 */
export class MeshauthLoginDialog extends Base {
  #interaction: UserInteraction | undefined;
  #inputs = new Map<string, HTMLInputElement>();
  #cancelButton: HTMLButtonElement | undefined;
  #busy = false;
  /** What had the focus when the dialog opened (the Login button): it gets it back at the end. */
  #opener: HTMLElement | undefined;
  /**
   * Asked when nothing has the focus as the dialog opens (the app disabled its Login
   * button meanwhile, which drops the focus): what had it when login() was called.
   */
  openerHint: (() => Element | undefined) | undefined;
  readonly #dialog: HTMLDialogElement;
  readonly #title: HTMLHeadingElement;
  readonly #alerts: HTMLDivElement;
  readonly #form: HTMLFormElement;

  constructor() {
    super();
    const root = this.attachShadow({ mode: "open" });
    this.#title = h("h2", { id: "meshauth-title", part: "title", tabindex: "-1" });
    // One live region kept across steps, so a new alert in it is announced.
    this.#alerts = h("div", {
      id: "meshauth-alerts",
      class: "alerts",
      part: "alerts",
      "aria-live": "polite",
    });
    this.#form = h("form", { part: "form" });
    this.#dialog = h(
      "dialog",
      { part: "dialog", "aria-labelledby": "meshauth-title" },
      this.#title,
      this.#alerts,
      this.#form,
    );
    root.append(h("style", {}, styles), this.#dialog);

    this.#form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (this.#interaction?.type !== "provider") this.#submit({});
    });
    this.#form.addEventListener("click", (event) => {
      const button = (event.target as Element).closest("button");
      if (!button || button.disabled) return;
      if (button.classList.contains("cancel")) this.#cancel();
      else if (button.classList.contains("option")) this.#submit({ method: button.value });
    });
    // Escape: the SDK decides whether the dialog closes.
    this.#dialog.addEventListener("cancel", (event) => {
      event.preventDefault();
      // Not cancelable: the dialog closes next, and the `close` handler answers.
      if (event.cancelable) this.#cancel();
    });
    // The browser may close a modal without a cancelable `cancel` event (Chrome does on a
    // second Escape without a click in between). Treat that as Escape and stay open.
    this.#dialog.addEventListener("close", () => {
      if (!this.#shouldBeOpen() || this.#dialog.open) return;
      this.#cancel();
      if (this.#shouldBeOpen() && !this.#dialog.open) {
        this.#open();
        this.#focusFirst();
      }
    });
    this.#dialog.addEventListener("keydown", (event) => this.#trapTab(event));
  }

  /** The interaction shown, or `undefined` to close the dialog. */
  get interaction(): UserInteraction | undefined {
    return this.#interaction;
  }

  set interaction(value: UserInteraction | undefined) {
    if (value === this.#interaction) return;
    this.#interaction = value;
    this.#render();
  }

  connectedCallback(): void {
    this.#render();
  }

  disconnectedCallback(): void {
    if (this.#dialog.open) this.#dialog.close();
    this.#restoreFocus();
  }

  #shouldBeOpen(): boolean {
    return this.isConnected && this.#interaction !== undefined;
  }

  #open(): void {
    // Re-opened after the browser closed it (see the close handler): keep the first opener.
    const hinted = this.openerHint?.();
    const active = deepActiveElement() ?? (hinted instanceof HTMLElement ? hinted : undefined);
    if (!this.#opener && active && active !== this && active.getRootNode() !== this.shadowRoot) {
      this.#opener = active;
    }
    try {
      this.#dialog.showModal();
    } catch {
      // Another modal of the page may not allow it (or the dialog is open non-modally).
      this.#dialog.show();
    }
  }

  #render(): void {
    const interaction = this.#interaction;
    if (!this.isConnected) return;
    if (interaction === undefined) {
      this.removeAttribute("data-interaction");
      if (this.#dialog.open) this.#dialog.close();
      this.#restoreFocus();
      return;
    }
    this.setAttribute("data-interaction", interaction.type);
    this.#busy = false;
    this.#form.removeAttribute("aria-busy");

    this.#title.textContent = interaction.title;
    this.#alerts.replaceChildren(...interaction.alerts.map(renderAlert));
    if (interaction.alerts.length > 0) this.#dialog.setAttribute("aria-describedby", "meshauth-alerts");
    else this.#dialog.removeAttribute("aria-describedby");

    const body = renderBody(interaction);
    this.#inputs = body.inputs;
    this.#cancelButton = body.cancel;
    this.#form.replaceChildren(...body.nodes);

    if (!this.#dialog.open) this.#open();
    this.#focusFirst();
  }

  /**
   * Back to the opener, as a native dialog would do if it were not removed while open
   * (the SDK removes it when the login ends); only while the focus is lost (on the
   * body or in this dialog), never taking it from something the page focused since.
   */
  #restoreFocus(): void {
    const opener = this.#opener;
    this.#opener = undefined;
    if (!opener?.isConnected) return;
    const lost = () => {
      const active = document.activeElement;
      return active === null || active === document.body || active === this;
    };
    if (!lost()) return;
    opener.focus();
    if (!lost() || !opener.hasAttribute("disabled")) return;
    // An app may disable its Login button while login() runs and enable it only once the
    // promise settles, after this: focus it when it is enabled again (if nothing else has
    // the focus by then), and stop waiting after a few seconds.
    const watch = new MutationObserver(() => {
      if (opener.hasAttribute("disabled")) return;
      stop();
      if (lost() && opener.isConnected) opener.focus();
    });
    const timer = setTimeout(() => stop(), 5000);
    const stop = () => {
      watch.disconnect();
      clearTimeout(timer);
    };
    watch.observe(opener, { attributes: true, attributeFilter: ["disabled"] });
  }

  /** The first input, else the first button; the title while everything is disabled. */
  #focusFirst(): void {
    const [input] = this.#inputs.values();
    if (input) {
      input.focus();
      if (input.value && !input.readOnly) input.select();
      return;
    }
    // Confirming a logout may lose data: the safe answer has the focus.
    const cancel = this.#cancelButton;
    const target =
      this.#interaction?.type === "logout-confirmation" && cancel && !cancel.disabled
        ? cancel
        : this.#form.querySelector<HTMLElement>(FOCUSABLE);
    (target ?? this.#title).focus();
  }

  #submit(extra: Record<string, string>): void {
    const interaction = this.#interaction;
    if (!interaction || this.#busy) return;
    const values: Record<string, string> = {};
    for (const [key, input] of this.#inputs) values[key] = input.value.trim();
    this.#setBusy();
    interaction.onSubmit({ ...values, ...extra });
  }

  #cancel(): void {
    const interaction = this.#interaction;
    if (interaction?.cancelLabel !== undefined) interaction.onCancel();
  }

  /** Until the next interaction arrives: no second submit, inputs read-only. */
  #setBusy(): void {
    this.#busy = true;
    this.#form.setAttribute("aria-busy", "true");
    const focused = this.shadowRoot?.activeElement;
    for (const input of this.#inputs.values()) input.readOnly = true;
    for (const button of Array.from(this.#form.querySelectorAll("button"))) button.disabled = true;
    // A disabled button loses focus to the (inert) page; keep it in the dialog.
    if (focused instanceof HTMLButtonElement) this.#focusFirst();
  }

  /** Tab and Shift+Tab wrap around inside the dialog instead of leaving for the browser's UI. */
  #trapTab(event: KeyboardEvent): void {
    if (event.key !== "Tab" || event.altKey || event.ctrlKey || event.metaKey) return;
    const focusable = Array.from(this.#dialog.querySelectorAll<HTMLElement>(FOCUSABLE));
    const first = focusable[0];
    const last = focusable[focusable.length - 1];
    const active = this.shadowRoot?.activeElement;
    if (!first || !last) {
      event.preventDefault();
      return;
    }
    if (event.shiftKey && (active === first || active === this.#title || !active)) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && (active === last || !active)) {
      event.preventDefault();
      first.focus();
    }
  }
}

/** The focused element, looking into open shadow roots (a Login button inside a web component). */
function deepActiveElement(): HTMLElement | undefined {
  let element = document.activeElement;
  while (element?.shadowRoot?.activeElement) element = element.shadowRoot.activeElement;
  return element instanceof HTMLElement && element !== document.body ? element : undefined;
}

let baseDefined = false;

/** Registers the element under `tagName` (once; later calls with a defined name do nothing). */
export function defineLoginDialog(tagName = "meshauth-login-dialog"): void {
  if (customElements.get(tagName)) return;
  // A constructor can be registered only once, so further names get a subclass.
  customElements.define(tagName, baseDefined ? class extends MeshauthLoginDialog {} : MeshauthLoginDialog);
  baseDefined = true;
}

export interface AttachLoginDialogOptions {
  /** Where the element is added (default: `document.body`). */
  container?: HTMLElement;
  /** The element's tag name (default: `meshauth-login-dialog`). */
  tagName?: string;
  /** What gets the focus back when the dialog closes if nothing has it as the dialog opens. */
  opener?: () => Element | undefined;
}

/**
 * Shows `source`'s interactions in the default dialog: the element is added on the
 * first interaction, updated on each next one, and removed (closing the modal) when
 * the value becomes `undefined`. Returns the function that stops following `source`
 * and removes the element.
 */
export function attachLoginDialog(
  source: ObservableValue<UserInteraction | undefined>,
  options: AttachLoginDialogOptions = {},
): () => void {
  const tagName = options.tagName ?? "meshauth-login-dialog";
  let element: MeshauthLoginDialog | undefined;
  const remove = () => {
    element?.remove();
    element = undefined;
  };
  const subscription = source.subscribe((interaction) => {
    if (interaction === undefined) return remove();
    if (!element) {
      defineLoginDialog(tagName);
      element = document.createElement(tagName) as MeshauthLoginDialog;
      element.openerHint = options.opener;
      element.interaction = interaction;
      (options.container ?? document.body).append(element);
    } else {
      element.interaction = interaction;
    }
  });
  return () => {
    subscription.unsubscribe();
    remove();
  };
}
