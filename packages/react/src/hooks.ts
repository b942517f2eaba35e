import type { CurrentUser, ObservableValue, UserInteraction } from "@meshauth/client";
import { useCallback, useSyncExternalStore } from "react";
import { useMeshauth } from "./context.js";

/**
 * The current value of an observable (`client.currentUser`, `client.userInteraction`,
 * or any `{value, subscribe}`); re-renders when it changes.
 */
export function useObservable<T>(source: ObservableValue<T>): T {
  const subscribe = useCallback(
    (onChange: () => void) => {
      const subscription = source.subscribe(() => onChange());
      return () => subscription.unsubscribe();
    },
    [source],
  );
  const snapshot = () => source.value;
  return useSyncExternalStore(subscribe, snapshot, snapshot);
}

/** Who is logged in (`isLoggedIn: false` until the stored session is loaded, or when nobody is). */
export function useCurrentUser(): CurrentUser {
  return useObservable(useMeshauth().currentUser);
}

/** What the SDK asks of the person right now (draw it as a dialog), or undefined. */
export function useUserInteraction(): UserInteraction | undefined {
  return useObservable(useMeshauth().userInteraction);
}
