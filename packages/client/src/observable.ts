/** Receives values; a plain function or an RxJS-style observer. */
export type Observer<T> = ((value: T) => void) | { next(value: T): void };

export interface Subscription {
  unsubscribe(): void;
}

/**
 * A value that changes over time: read it with `value`, follow it with `subscribe`
 * (called at once with the current value, then on every change). It also speaks the
 * `Symbol.observable` interop protocol, so RxJS's `from()` and Svelte stores accept it,
 * and React's `useSyncExternalStore` works with `subscribe` and `value`.
 */
export interface ObservableValue<T> {
  readonly value: T;
  subscribe(observer: Observer<T>): Subscription;
}

/** The writable side, kept inside the SDK. */
export class State<T> implements ObservableValue<T> {
  #value: T;
  readonly #observers = new Set<(value: T) => void>();

  constructor(initial: T) {
    this.#value = initial;
  }

  get value(): T {
    return this.#value;
  }

  set(value: T): void {
    if (Object.is(value, this.#value)) return;
    this.#value = value;
    for (const fn of [...this.#observers]) {
      try {
        fn(value);
      } catch (e) {
        // One failing subscriber must not stop the others (or the SDK) from seeing the change.
        queueMicrotask(() => {
          throw e;
        });
      }
    }
  }

  subscribe(observer: Observer<T>): Subscription {
    const fn = typeof observer === "function" ? observer : (v: T) => observer.next(v);
    this.#observers.add(fn);
    fn(this.#value);
    return { unsubscribe: () => this.#observers.delete(fn) };
  }

  [Symbol.for("observable")](): this {
    return this;
  }

  ["@@observable"](): this {
    return this;
  }
}

/** A typed event emitter: `on(name, listener)` returns the function that removes it. */
export class Emitter<Events extends { [K in keyof Events]: (...args: never[]) => void }> {
  readonly #listeners = new Map<keyof Events, Set<Events[keyof Events]>>();

  on<K extends keyof Events>(event: K, listener: Events[K]): () => void {
    const set = this.#listeners.get(event) ?? new Set();
    this.#listeners.set(event, set);
    set.add(listener);
    return () => set.delete(listener);
  }

  emit<K extends keyof Events>(event: K, ...args: Parameters<Events[K]>): void {
    for (const listener of [...(this.#listeners.get(event) ?? [])]) {
      try {
        (listener as (...a: Parameters<Events[K]>) => void)(...args);
      } catch (e) {
        queueMicrotask(() => {
          throw e;
        });
      }
    }
  }

  listenerCount(event: keyof Events): number {
    return this.#listeners.get(event)?.size ?? 0;
  }
}
