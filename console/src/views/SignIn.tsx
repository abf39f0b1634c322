import { useState } from "preact/hooks";
import { t } from "../i18n/i18n";
import { errorText } from "./App";

export function SignIn({ signIn, notice }: { signIn: (key: string) => Promise<void>; notice?: string }) {
  const [key, setKey] = useState("");
  const [error, setError] = useState(notice ?? "");
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    if (!key.trim()) {
      setError(t("signIn.keyRequired"));
      return;
    }
    setBusy(true);
    setError("");
    try {
      await signIn(key.trim());
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="card narrow" onSubmit={submit} aria-labelledby="sign-in-title">
      <h1 id="sign-in-title">{t("signIn.title")}</h1>
      <p class="hint">{t("signIn.hint")}</p>
      <label for="api-key">{t("signIn.key")}</label>
      <input
        id="api-key"
        type="password"
        autocomplete="off"
        spellcheck={false}
        value={key}
        aria-invalid={error ? "true" : undefined}
        aria-describedby={error ? "api-key-error" : undefined}
        onInput={(e) => setKey((e.target as HTMLInputElement).value)}
      />
      {error && (
        <p id="api-key-error" class="field-error" role="alert">
          {error}
        </p>
      )}
      <button type="submit" disabled={busy}>
        {t("signIn.submit")}
      </button>
    </form>
  );
}
