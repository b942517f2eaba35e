import type { MeshauthClient, UserInteraction, UserInteractionType } from "../../src/index.js";

const seen = new WeakSet<object>();

/**
 * The next interaction the client poses (of `type`, if given) that the test has not
 * answered yet, as a custom dialog would receive it through `userInteraction`.
 */
export function nextInteraction<T extends UserInteractionType>(
  client: MeshauthClient,
  type?: T,
  timeoutMs = 10_000,
): Promise<Extract<UserInteraction, { type: T }>> {
  return new Promise((resolve, reject) => {
    let done = false;
    const timer = setTimeout(() => {
      done = true;
      sub?.unsubscribe();
      reject(
        new Error(
          `no ${type ?? "interaction"} within ${timeoutMs} ms (now: ${client.userInteraction.value?.type})`,
        ),
      );
    }, timeoutMs);
    let sub: { unsubscribe(): void } | undefined;
    sub = client.userInteraction.subscribe((i) => {
      if (done || !i || seen.has(i)) return;
      if (type !== undefined && i.type !== type) {
        done = true;
        clearTimeout(timer);
        queueMicrotask(() => sub?.unsubscribe());
        reject(new Error(`expected a ${type} interaction, got ${i.type}: ${JSON.stringify(i.alerts)}`));
        return;
      }
      done = true;
      seen.add(i);
      clearTimeout(timer);
      queueMicrotask(() => sub?.unsubscribe());
      resolve(i as Extract<UserInteraction, { type: T }>);
    });
  });
}
