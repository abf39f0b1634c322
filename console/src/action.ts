import { useState } from "preact/hooks";
import { newRequestId } from "./api/client";

/** useAction runs one kind of mutating call at a time. Each intent gets a requestId,
 * kept until the call succeeds: a retry after an error resends it, so the server
 * answers the first result instead of acting twice; a click while a call is in
 * flight does nothing. */
export function useAction<K extends string>(run: (key: K, requestId: string) => Promise<void>) {
  const [busy, setBusy] = useState<K | null>(null);
  const [ids] = useState(() => new Map<K, string>());
  const [error, setError] = useState<{ key: K; err: unknown } | null>(null);
  const act = async (key: K) => {
    if (busy !== null) return;
    const id = ids.get(key) ?? newRequestId();
    ids.set(key, id);
    setBusy(key);
    setError(null);
    try {
      await run(key, id);
      ids.delete(key);
    } catch (err) {
      setError({ key, err });
    } finally {
      setBusy(null);
    }
  };
  return { act, busy, error };
}
