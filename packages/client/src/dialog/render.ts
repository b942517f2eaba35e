import type { Alert, Field, FieldType, LoginOption, UserInteraction } from "../interaction/types.js";
import { resolveText } from "../interaction/types.js";

// Everything here is built with createElement and text nodes: titles, messages and
// labels can carry what a person typed (an email address), so nothing is parsed as HTML.

type Attributes = Record<string, string | undefined>;

/** `<tag attr…>children</tag>`; strings become text nodes, undefined attributes are left out. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Attributes = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== undefined) element.setAttribute(name, value);
  }
  element.append(...children);
  return element;
}

const inputAttributes: Record<FieldType, Attributes> = {
  email: { type: "email", autocomplete: "email", autocapitalize: "off", spellcheck: "false" },
  otp: {
    type: "text",
    inputmode: "numeric",
    autocomplete: "one-time-code",
    autocapitalize: "off",
    spellcheck: "false",
  },
  password: { type: "password", autocomplete: "current-password" },
  text: { type: "text" },
};

/** One alert: `role="alert"` for errors (announced at once), a polite status otherwise. */
export function renderAlert(alert: Alert): HTMLElement {
  const error = alert.type === "error";
  return h(
    "p",
    {
      class: "alert",
      part: `alert alert-${alert.type}`,
      role: error ? "alert" : "status",
      "aria-live": error ? undefined : "polite",
      "data-type": alert.type,
      "data-message-code": alert.messageCode,
    },
    resolveText(alert),
  );
}

function renderField(
  key: string,
  field: Field,
  index: number,
  invalid: boolean,
): [HTMLElement, HTMLInputElement] {
  const id = `meshauth-field-${index}`;
  const input = h("input", {
    ...(inputAttributes[field.type] ?? inputAttributes.text),
    id,
    name: key,
    part: "input",
    class: "input",
    "data-type": field.type,
    placeholder: field.placeholder,
    required: "",
    "aria-invalid": invalid ? "true" : undefined,
    "aria-describedby": invalid ? "meshauth-alerts" : undefined,
  });
  input.value = field.value ?? "";
  const label = h("label", { for: id, part: "label" }, field.label);
  return [h("div", { class: "field", part: "field" }, label, input), input];
}

function renderOption(option: LoginOption): HTMLButtonElement {
  const button = h("button", { type: "button", class: "option", part: "option", value: option.value });
  if (option.iconUrl) {
    button.append(h("img", { src: option.iconUrl, alt: "", part: "option-icon", width: "20", height: "20" }));
  }
  button.append(h("span", {}, option.displayName));
  return button;
}

export interface RenderedBody {
  /** The form's children: fields, then buttons. */
  nodes: HTMLElement[];
  inputs: Map<string, HTMLInputElement>;
  /** Provider buttons with the method each one submits. */
  options: Map<HTMLButtonElement, string>;
  cancel: HTMLButtonElement | undefined;
}

/** The fields and buttons of `interaction` (the title and alerts are set by the element). */
export function renderBody(interaction: UserInteraction): RenderedBody {
  const invalid = interaction.alerts.some((a) => a.type === "error");
  const inputs = new Map<string, HTMLInputElement>();
  const nodes: HTMLElement[] = [];
  Object.entries(interaction.fields).forEach(([key, field], index) => {
    const [wrapper, input] = renderField(key, field, index, invalid);
    inputs.set(key, input);
    nodes.push(wrapper);
  });

  const options = new Map<HTMLButtonElement, string>();
  const actions = h("div", { class: "actions", part: "actions" });
  if (interaction.type === "provider") {
    for (const option of interaction.options) {
      const button = renderOption(option);
      options.set(button, option.value);
      actions.append(button);
    }
  } else {
    actions.append(h("button", { type: "submit", class: "submit", part: "submit" }, interaction.submitLabel));
  }
  let cancel: HTMLButtonElement | undefined;
  if (interaction.cancelLabel !== undefined) {
    cancel = h("button", { type: "button", class: "cancel", part: "cancel" }, interaction.cancelLabel);
    actions.append(cancel);
  }
  nodes.push(actions);
  return { nodes, inputs, options, cancel };
}
