import { abortError, MeshauthClientError } from "../errors.js";
import { type ObservableValue, State } from "../observable.js";
import type { Alert, Field, UserInteraction } from "./types.js";

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** An interaction as the SDK poses it; the callbacks are added here. */
export type AskRequest = DistributiveOmit<UserInteraction, "onSubmit" | "onCancel" | "alerts" | "fields"> & {
  alerts?: readonly Alert[];
  fields?: Readonly<Record<string, Field>>;
};

/**
 * Poses interactions one at a time through an observable value, and shows the default
 * dialog for them unless the app draws its own. Only the latest interaction's
 * callbacks count, so a late click on an old dialog changes nothing.
 */
export class Interactions {
  readonly current = new State<UserInteraction | undefined>(undefined);
  #dialog: Promise<unknown> | undefined;
  #opener: Element | undefined;

  /** `dialog` draws interactions for apps without their own; undefined when the app draws them. */
  constructor(private readonly dialog: DialogAttacher | undefined) {}

  /** Rejects the question still waiting for an answer, if any. */
  #withdraw: (() => void) | undefined;

  async ask(request: AskRequest, signal?: AbortSignal): Promise<Record<string, string>> {
    await this.#ensureDialog();
    if (signal?.aborted) throw abortError();
    return new Promise((resolve, reject) => {
      let settled = false;
      const finish = (fn: () => void) => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener("abort", withdraw);
        if (this.#withdraw === withdraw) this.#withdraw = undefined;
        fn();
      };
      // Aborting, or replacing the question (another ask, clear()), always settles it.
      const withdraw = () => finish(() => reject(abortError()));
      // A dialog's buttons only count while it shows the current question.
      const answer = (fn: () => void) => {
        if (this.current.value === interaction) finish(fn);
      };
      const interaction = {
        alerts: [],
        fields: {},
        ...request,
        onSubmit: (values: Record<string, string>) => answer(() => resolve({ ...values })),
        onCancel: () => answer(() => reject(abortError())),
      } as UserInteraction;
      signal?.addEventListener("abort", withdraw, { once: true });
      this.#withdraw?.();
      this.#withdraw = withdraw;
      this.current.set(interaction);
    });
  }

  /**
   * Notes what has the focus (in browsers), called synchronously by login() and
   * logout(): an app that disables its Login button while login() runs makes the
   * browser drop that focus before the dialog opens, and the dialog gives it back.
   */
  rememberOpener(): void {
    if (typeof document === "undefined") return;
    let element = document.activeElement;
    while (element?.shadowRoot?.activeElement) element = element.shadowRoot.activeElement;
    if (element && element !== document.body) this.#opener = element;
  }

  /** Takes the question away; one still unanswered rejects with an AbortError. */
  clear(): void {
    this.#withdraw?.();
    this.current.set(undefined);
  }

  #ensureDialog(): Promise<unknown> {
    if (!this.dialog) return Promise.resolve();
    this.#dialog ??= Promise.resolve()
      .then(() => this.dialog?.(this.current, () => this.#opener))
      .catch((e: unknown) => {
        this.#dialog = undefined;
        throw e;
      });
    return this.#dialog;
  }
}

/** Shows a default dialog for an interaction source; called once, on the first question. */
export type DialogAttacher = (
  source: ObservableValue<UserInteraction | undefined>,
  /** What had the focus when the SDK was asked to log in (browsers). */
  opener?: () => Element | undefined,
) => unknown;

/** The browser's default: `<meshauth-login-dialog>`, loaded on first use so custom-dialog apps never download it. */
export const browserDialog: DialogAttacher = (source, opener) =>
  import("../dialog/index.js").then((m) => m.attachLoginDialog(source, opener ? { opener } : {}));

/** Where no dialog can be drawn: interactive login explains what to do instead. */
export const noDialog: DialogAttacher = () => {
  throw new MeshauthClientError(
    "no_dialog",
    "interactive login needs a dialog: create the client with customLoginGui: true and answer " +
      "userInteraction, or log in with login(token, provider)",
  );
};
