import type { MeshauthClient } from "@meshauth/client";
import { createContext, createElement, type ReactNode, useContext } from "react";

const MeshauthContext = createContext<MeshauthClient | null>(null);

export interface MeshauthProviderProps {
  /** The app's client, from `createClient`. Create it once, outside render. */
  client: MeshauthClient;
  children?: ReactNode;
}

/** Makes `client` available to the hooks and `<LoginDialog>` below it. */
export function MeshauthProvider({ client, children }: MeshauthProviderProps): ReactNode {
  return createElement(MeshauthContext.Provider, { value: client }, children);
}

/** The client of the nearest `<MeshauthProvider>`; throws outside one. */
export function useMeshauth(): MeshauthClient {
  const client = useContext(MeshauthContext);
  if (client === null) {
    throw new Error(
      "useMeshauth: no client here; wrap the app in <MeshauthProvider client={createClient(...)}>",
    );
  }
  return client;
}

/** The nearest provider's client, or null (for components that also work without one). */
export function useOptionalMeshauth(): MeshauthClient | null {
  return useContext(MeshauthContext);
}
