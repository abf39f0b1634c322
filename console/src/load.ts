import { useEffect, useState } from "preact/hooks";

/** Loaded is a read's state: its value once it answered, or its error. */
export interface Loaded<T> {
  value?: T;
  error?: unknown;
  loading: boolean;
  reload: () => void;
}

/** useLoad runs read when deps change, and again on reload(). A late answer of an
 * earlier run is dropped. */
export function useLoad<T>(read: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [state, setState] = useState<{ value?: T; error?: unknown; loading: boolean }>({ loading: true });
  const [round, setRound] = useState(0);
  useEffect(() => {
    let current = true;
    setState((s) => ({ ...s, loading: true }));
    read().then(
      (value) => current && setState({ value, loading: false }),
      (error) => current && setState({ error, loading: false }),
    );
    return () => {
      current = false;
    };
  }, [...deps, round]);
  return { ...state, reload: () => setRound((r) => r + 1) };
}
