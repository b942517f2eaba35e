import {
  type Field,
  type LoginOption,
  type ObservableValue,
  resolveText,
  type UserInteraction,
} from "@meshauth/client";
import {
  type FormEvent,
  createElement as h,
  type InputHTMLAttributes,
  type ReactNode,
  type SyntheticEvent,
  useEffect,
  useId,
  useRef,
  useState,
} from "react";
import { useOptionalMeshauth } from "./context.js";
import { useObservable } from "./hooks.js";

/** The parts of `<LoginDialog>` that `classNames` can style. */
export type LoginDialogPart =
  | "title"
  | "alerts"
  | "alert"
  | "form"
  | "field"
  | "label"
  | "input"
  | "options"
  | "option"
  | "actions"
  | "submit"
  | "cancel";

export interface LoginDialogProps {
  /**
   * The interaction to draw. Without this prop the dialog follows the provider's
   * `client.userInteraction`; with it (even `undefined`) it draws only what it is given.
   */
  interaction?: UserInteraction | undefined;
  /** Open as a modal `<dialog>` (inert page, Escape cancels); false draws it in place. Default true. */
  modal?: boolean;
  /** Class of the `<dialog>` element. */
  className?: string;
  /** Classes of the inner parts; every part also carries `data-part="<name>"`. */
  classNames?: Partial<Record<LoginDialogPart, string>>;
}

const NOTHING: ObservableValue<undefined> = {
  value: undefined,
  subscribe: () => ({ unsubscribe() {} }),
};

/**
 * An unstyled, accessible login dialog for the current interaction: title, alerts
 * (`role="alert"` for errors), one labelled input per field, provider buttons, submit
 * and cancel. Renders nothing while the SDK asks nothing.
 */
export function LoginDialog(props: LoginDialogProps): ReactNode {
  const client = useOptionalMeshauth();
  const fromClient = useObservable(client?.userInteraction ?? NOTHING);
  const controlled = "interaction" in props;
  if (!controlled && client === null) {
    throw new Error(
      "LoginDialog: no client here; wrap it in <MeshauthProvider client={...}> or pass an interaction",
    );
  }
  const interaction = controlled ? props.interaction : fromClient;
  if (!interaction) return null;
  return h(DialogFrame, {
    interaction,
    modal: props.modal ?? true,
    className: props.className,
    classNames: props.classNames ?? {},
  });
}

interface FrameProps {
  interaction: UserInteraction;
  modal: boolean;
  className: string | undefined;
  classNames: Partial<Record<LoginDialogPart, string>>;
}

// Stays mounted from one step to the next (so the modal does not close in between);
// the form inside is keyed by the interaction, so each new step starts empty.
function DialogFrame({ interaction, modal, className, classNames }: FrameProps): ReactNode {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const alertsId = useId();
  const cancellable = interaction.cancelLabel !== undefined;
  // Whatever had the focus before the dialog (typically the Login button) gets it back after.
  const [opener] = useState(() => (typeof document === "undefined" ? null : document.activeElement));

  useEffect(() => {
    const dialog = ref.current;
    if (!modal || !dialog || dialog.open) return;
    dialog.showModal();
    if (!dialog.contains(document.activeElement) || document.activeElement === dialog) {
      dialog.querySelector<HTMLElement>("input, button")?.focus();
    }
  });

  useEffect(() => {
    const dialog = ref.current;
    return () => {
      // Only after a real unmount (React's StrictMode also runs cleanups of live components).
      const lost = document.activeElement === null || document.activeElement === document.body;
      if (dialog && !dialog.isConnected && lost && opener instanceof HTMLElement && opener.isConnected) {
        opener.focus();
      }
    };
  }, [opener]);

  return h(
    "dialog",
    {
      ref,
      className,
      open: modal ? undefined : true,
      "aria-modal": modal ? true : undefined,
      "aria-labelledby": titleId,
      "aria-describedby": interaction.alerts.length > 0 ? alertsId : undefined,
      "data-interaction": interaction.type,
      // Escape: cancel when the step allows it, otherwise stay open.
      onCancel: (e: SyntheticEvent<HTMLDialogElement>) => {
        e.preventDefault();
        if (cancellable) interaction.onCancel();
      },
      // Closed anyway (a browser may force a second Escape through).
      onClose: () => {
        if (cancellable) interaction.onCancel();
        else if (modal && ref.current?.isConnected && !ref.current.open) ref.current.showModal();
      },
    },
    h("h2", { id: titleId, className: classNames.title, "data-part": "title" }, interaction.title),
    interaction.alerts.length > 0
      ? h(
          "div",
          { id: alertsId, className: classNames.alerts, "data-part": "alerts" },
          interaction.alerts.map((alert, i) =>
            h(
              "p",
              {
                key: `${i}:${alert.messageCode}`,
                role: alert.type === "error" ? "alert" : "status",
                className: classNames.alert,
                "data-part": "alert",
                "data-alert-type": alert.type,
                "data-message-code": alert.messageCode,
              },
              resolveText(alert),
            ),
          ),
        )
      : null,
    h(InteractionForm, { key: keyOf(interaction), interaction, classNames }),
  );
}

const keys = new WeakMap<UserInteraction, number>();
let nextKey = 0;
function keyOf(interaction: UserInteraction): number {
  let key = keys.get(interaction);
  if (key === undefined) {
    key = ++nextKey;
    keys.set(interaction, key);
  }
  return key;
}

function InteractionForm({
  interaction,
  classNames,
}: {
  interaction: UserInteraction;
  classNames: Partial<Record<LoginDialogPart, string>>;
}): ReactNode {
  // After an answer the SDK works (a network round trip) until it asks the next thing.
  const [busy, setBusy] = useState(false);
  const idPrefix = useId();
  const answer = (values: Record<string, string>) => {
    if (busy) return;
    setBusy(true);
    interaction.onSubmit(values);
  };
  const onSubmit = (e: FormEvent<HTMLFormElement>) => {
    e.preventDefault();
    const data = new FormData(e.currentTarget);
    const values: Record<string, string> = {};
    for (const name of Object.keys(interaction.fields)) {
      const value = data.get(name);
      values[name] = typeof value === "string" ? value : "";
    }
    answer(values);
  };
  const fields = Object.entries(interaction.fields);
  const options: readonly LoginOption[] = interaction.type === "provider" ? interaction.options : [];

  return h(
    "form",
    {
      className: classNames.form,
      "data-part": "form",
      noValidate: true,
      "aria-busy": busy || undefined,
      onSubmit,
    },
    fields.map(([name, field], i) =>
      h(
        "div",
        { key: name, className: classNames.field, "data-part": "field" },
        h(
          "label",
          { htmlFor: `${idPrefix}-${name}`, className: classNames.label, "data-part": "label" },
          field.label,
        ),
        h("input", {
          ...inputAttributes(field),
          id: `${idPrefix}-${name}`,
          name,
          defaultValue: field.value ?? "",
          placeholder: field.placeholder,
          required: true,
          readOnly: busy,
          autoFocus: i === 0,
          className: classNames.input,
          "data-part": "input",
        }),
      ),
    ),
    options.length > 0
      ? h(
          "div",
          { role: "group", className: classNames.options, "data-part": "options" },
          options.map((option, i) =>
            h(
              "button",
              {
                key: option.value,
                type: "button",
                value: option.value,
                disabled: busy,
                autoFocus: i === 0,
                className: classNames.option,
                "data-part": "option",
                onClick: () => answer({ method: option.value }),
              },
              option.iconUrl ? h("img", { src: option.iconUrl, alt: "", width: 20, height: 20 }) : null,
              option.displayName,
            ),
          ),
        )
      : null,
    h(
      "div",
      { className: classNames.actions, "data-part": "actions" },
      // A provider picker answers with its option buttons; a bare submit would pick nothing.
      interaction.type === "provider"
        ? null
        : h(
            "button",
            { type: "submit", disabled: busy, className: classNames.submit, "data-part": "submit" },
            interaction.submitLabel,
          ),
      interaction.cancelLabel !== undefined
        ? h(
            "button",
            {
              type: "button",
              className: classNames.cancel,
              "data-part": "cancel",
              onClick: () => interaction.onCancel(),
            },
            interaction.cancelLabel,
          )
        : null,
    ),
  );
}

function inputAttributes(field: Field): InputHTMLAttributes<HTMLInputElement> {
  switch (field.type) {
    case "email":
      return { type: "email", autoComplete: "email", autoCapitalize: "off", spellCheck: false };
    case "otp":
      return { type: "text", autoComplete: "one-time-code", inputMode: "numeric", spellCheck: false };
    case "password":
      return { type: "password", autoComplete: "current-password" };
    default:
      return { type: "text" };
  }
}
