/**
 * Mutual exclusion within one JavaScript realm: calls with the same name run one
 * after another, in call order. Stores use it where no cross-tab or cross-process
 * lock exists, and in front of one so a realm does not contend with itself.
 */
export function serialLock(): <T>(name: string, fn: () => Promise<T>) => Promise<T> {
  const tails = new Map<string, Promise<unknown>>();
  return <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const previous = tails.get(name) ?? Promise.resolve();
    const run = previous.then(fn, fn);
    const tail = run.catch(() => {});
    tails.set(name, tail);
    void tail.then(() => {
      if (tails.get(name) === tail) tails.delete(name);
    });
    return run;
  };
}
