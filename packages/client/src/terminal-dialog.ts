/**
 * The default login dialog for Node: asks in the terminal what `userInteraction` asks,
 * so a CLI gets email-code login with no UI code. `@meshauth/client/node` uses it when
 * stdin is a terminal and the app has no dialog of its own.
 */
import { createInterface, type Interface } from "node:readline/promises";
import type { Readable, Writable } from "node:stream";
import { type Alert, resolveText, type UserInteraction } from "./interaction/types.js";
import type { ObservableValue } from "./observable.js";

export interface TerminalDialogOptions {
  input?: Readable;
  output?: Writable;
}

const MARK: Record<Alert["type"], string> = { error: "✖", warning: "!", info: "›" };

/**
 * Answers interactions from `source` in the terminal; returns a function that stops it.
 * The terminal is read only while a question is open, so a CLI exits when it is done.
 */
export function attachTerminalDialog(
  source: ObservableValue<UserInteraction | undefined>,
  options: TerminalDialogOptions = {},
): () => void {
  const input = options.input ?? process.stdin;
  const output = options.output ?? process.stderr;
  let rl: Interface | undefined;
  let current: AbortController | undefined;

  const stopReading = () => {
    const open = rl;
    rl = undefined;
    open?.close();
    // readline resumed the stream; pausing lets the process exit once nothing else runs.
    if (input === process.stdin) input.pause();
  };
  // One reader across the questions of a login, so input typed ahead is not lost.
  const reader = (): Interface => {
    if (rl) return rl;
    const opened = createInterface({ input, output, terminal: false });
    rl = opened;
    // End of input (or Ctrl+C on a terminal) cancels, as the dialog's Cancel button would.
    opened.once("close", () => {
      if (rl !== opened) return;
      rl = undefined;
      const interaction = source.value;
      if (current && !current.signal.aborted && interaction) {
        current.abort();
        interaction.onCancel();
      }
    });
    return opened;
  };

  const subscription = source.subscribe((interaction) => {
    current?.abort();
    current = undefined;
    if (!interaction) {
      stopReading();
      return;
    }
    const controller = new AbortController();
    current = controller;
    const question = (text: string) => reader().question(text, { signal: controller.signal });
    ask(interaction, question, output).then(
      (values) => {
        if (!controller.signal.aborted) interaction.onSubmit(values);
      },
      () => {
        if (!controller.signal.aborted) interaction.onCancel();
      },
    );
  });
  return () => {
    subscription.unsubscribe();
    current?.abort();
    stopReading();
  };
}

async function ask(
  interaction: UserInteraction,
  question: (text: string) => Promise<string>,
  output: Writable,
): Promise<Record<string, string>> {
  output.write(`\n${interaction.title}\n`);
  for (const alert of interaction.alerts) output.write(`${MARK[alert.type]} ${resolveText(alert)}\n`);
  switch (interaction.type) {
    case "provider": {
      interaction.options.forEach((o, i) => {
        output.write(`  ${i + 1}) ${o.displayName}\n`);
      });
      for (;;) {
        const answer = (await question(`Choose 1-${interaction.options.length}: `)).trim();
        const chosen = interaction.options[Number(answer) - 1];
        if (chosen) return { method: chosen.value };
      }
    }
    case "message-alert":
      await question(`${interaction.submitLabel} (Enter) `);
      return {};
    case "logout-confirmation": {
      const answer = await question(`${interaction.submitLabel}? [y/N] `);
      if (/^y(es)?$/i.test(answer.trim())) return {};
      throw new Error("declined");
    }
    default: {
      const values: Record<string, string> = {};
      for (const [name, field] of Object.entries(interaction.fields)) {
        const hint = field.value ? ` [${field.value}]` : "";
        const answer = (await question(`${field.label}${hint}: `)).trim();
        values[name] = answer || field.value || "";
      }
      return values;
    }
  }
}
