import { abortError, MeshauthClientError } from "../errors.js";
import { State } from "../observable.js";
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

  constructor(private readonly defaultDialog: boolean) {}

  async ask(request: AskRequest, signal?: AbortSignal): Promise<Record<string, string>> {
    await this.#ensureDialog();
    signal?.throwIfAborted();
    return new Promise((resolve, reject) => {
      let settled = false;
      const settle = (fn: () => void) => {
        if (settled || this.current.value !== interaction) return;
        settled = true;
        signal?.removeEventListener("abort", onAbort);
        fn();
      };
      const onAbort = () => settle(() => reject(abortError()));
      const interaction = {
        alerts: [],
        fields: {},
        ...request,
        onSubmit: (values: Record<string, string>) => settle(() => resolve({ ...values })),
        onCancel: () => settle(() => reject(abortError())),
      } as UserInteraction;
      signal?.addEventListener("abort", onAbort, { once: true });
      this.current.set(interaction);
    });
  }

  clear(): void {
    this.current.set(undefined);
  }

  #ensureDialog(): Promise<unknown> {
    if (!this.defaultDialog) return Promise.resolve();
    if (typeof document === "undefined") {
      return Promise.reject(
        new MeshauthClientError(
          "no_dialog",
          "interactive login needs a dialog: create the client with customLoginGui: true and answer " +
            "userInteraction, or log in with login(token, provider)",
        ),
      );
    }
    // Loaded on first use, so apps with their own dialog never download this one.
    this.#dialog ??= import("../dialog/index.js").then((m) => m.attachLoginDialog(this.current));
    return this.#dialog;
  }
}
