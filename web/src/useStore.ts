import { useSyncExternalStore } from "react";
import { store } from "./session";

/** The session store, re-rendering on change. */
export function useStore() {
  return useSyncExternalStore(store.subscribe, store.get);
}
