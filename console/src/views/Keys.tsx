import { useState } from "preact/hooks";
import { ApiError, call, type Defs } from "../api/client";
import { dateTime, points, t, tCode, tField } from "../i18n/i18n";
import { useLoad } from "../load";
import { errorText } from "./App";

const roles = ["agent", "app", "marketer", "auditor", "admin"] as const;

/** Keys is the admin's list of API keys: create one (its secret is shown once),
 * revoke one, set an agent key's goodwill limits. */
export function Keys() {
  const list = useLoad(() => call("get", "/v1/apiKeys", {}), []);
  const [created, setCreated] = useState<Defs["v1CreateApiKeyResponse"] | null>(null);
  const [message, setMessage] = useState<{ text: string; error: boolean } | null>(null);
  const [limitsFor, setLimitsFor] = useState<string>("");

  const revoke = async (k: Defs["v1ApiKey"]) => {
    if (!confirm(t("keys.confirmRevoke", { name: k.name ?? "" }))) return;
    try {
      await call("delete", "/v1/apiKeys/{keyId}", { path: { keyId: k.keyId ?? "" } });
      setMessage({ text: t("keys.revoked", { name: k.name ?? "" }), error: false });
      list.reload();
    } catch (err) {
      setMessage({ text: errorText(err), error: true });
    }
  };

  return (
    <>
      <CreateKey
        onCreated={(c) => {
          setCreated(c);
          list.reload();
        }}
      />
      {created && (
        <section class="card wide secret" aria-labelledby="secret-title" role="status">
          <h2 id="secret-title">{t("keys.secretTitle", { name: created.key?.name ?? "" })}</h2>
          <p>{t("keys.secretOnce")}</p>
          <p>
            <code data-testid="secret" translate={false}>
              {created.secret}
            </code>
          </p>
          <button type="button" class="secondary" onClick={() => setCreated(null)}>
            {t("keys.secretDone")}
          </button>
        </section>
      )}
      <section class="card wide" aria-labelledby="keys-title">
        <h1 id="keys-title">{t("keys.title")}</h1>
        {message && (
          <p class={message.error ? "error" : "success"} role={message.error ? "alert" : "status"}>
            {message.text}
          </p>
        )}
        {list.error ? (
          <p role="alert">{errorText(list.error)}</p>
        ) : (
          <div class="scroll-x" tabIndex={0} role="group" aria-labelledby="keys-title">
            <table data-testid="keys">
              <thead>
                <tr>
                  <th scope="col">{t("keys.name")}</th>
                  <th scope="col">{t("keys.role")}</th>
                  <th scope="col">{t("keys.prefix")}</th>
                  <th scope="col">{t("keys.created")}</th>
                  <th scope="col">{t("keys.lastUse")}</th>
                  <th scope="col">{t("keys.actions")}</th>
                </tr>
              </thead>
              <tbody>
                {(list.value?.keys ?? []).map((k) => (
                  <>
                    <tr class={k.revokeTime ? "revoked" : ""}>
                      <td translate={false}>{k.name}</td>
                      <td>{tCode("role", k.role)}</td>
                      <td>
                        <code>{k.publicPrefix}</code>
                      </td>
                      <td>{dateTime(k.createTime)}</td>
                      <td>{k.lastUseTime ? dateTime(k.lastUseTime) : t("keys.never")}</td>
                      <td class="actions">
                        {k.revokeTime ? (
                          <span class="badge status-revoked">{t("keys.revokedOn", { time: dateTime(k.revokeTime) })}</span>
                        ) : (
                          <>
                            {k.role === "agent" && (
                              <button
                                type="button"
                                class="secondary small-button"
                                aria-expanded={limitsFor === k.keyId}
                                aria-label={t("keys.limitsOf", { name: k.name ?? "" })}
                                onClick={() => setLimitsFor(limitsFor === k.keyId ? "" : (k.keyId ?? ""))}
                              >
                                {t("keys.limits")}
                              </button>
                            )}
                            <button
                              type="button"
                              class="secondary small-button"
                              aria-label={t("keys.revokeOne", { name: k.name ?? "" })}
                              onClick={() => revoke(k)}
                            >
                              {t("keys.revoke")}
                            </button>
                          </>
                        )}
                      </td>
                    </tr>
                    {limitsFor === k.keyId && (
                      <tr>
                        <td colSpan={6}>
                          <Limits keyId={k.keyId ?? ""} />
                        </td>
                      </tr>
                    )}
                  </>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </>
  );
}

function CreateKey({ onCreated }: { onCreated: (c: Defs["v1CreateApiKeyResponse"]) => void }) {
  const [name, setName] = useState("");
  const [role, setRole] = useState("agent");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    if (busy) return;
    setBusy(true);
    setError(null);
    try {
      onCreated(await call("post", "/v1/apiKeys", { body: { name, role } }));
      setName("");
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const nameError = error instanceof ApiError ? tField(error.fieldError("name")) : undefined;
  return (
    <form class="card wide" onSubmit={submit} aria-labelledby="new-key-title">
      <h2 id="new-key-title">{t("keys.create")}</h2>
      <div class="filters">
        <div>
          <label for="key-name">{t("keys.name")}</label>
          <input
            id="key-name"
            value={name}
            required
            autocomplete="off"
            aria-invalid={nameError ? "true" : undefined}
            aria-describedby={nameError ? "key-name-error" : undefined}
            onInput={(e) => setName((e.target as HTMLInputElement).value)}
          />
          {nameError && (
            <p id="key-name-error" class="field-error">
              {nameError}
            </p>
          )}
        </div>
        <div>
          <label for="key-role">{t("keys.role")}</label>
          <select id="key-role" value={role} onChange={(e) => setRole((e.target as HTMLSelectElement).value)}>
            {roles.map((r) => (
              <option value={r}>{tCode("role", r)}</option>
            ))}
          </select>
        </div>
        <div class="end">
          <button type="submit" disabled={busy}>
            {t("keys.createSubmit")}
          </button>
        </div>
      </div>
      {error !== null && !nameError && (
        <p class="error" role="alert">
          {errorText(error)}
        </p>
      )}
    </form>
  );
}

// An agent key's goodwill limits: the form starts from what the server applies
// (GetGoodwillLimits: the key's own, or the defaults) and shows what it kept.
function Limits({ keyId }: { keyId: string }) {
  const [perGrant, setPerGrant] = useState("");
  const [perDay, setPerDay] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState<Defs["v1GoodwillLimits"] | null>(null);
  const current = useLoad(
    () =>
      call("get", "/v1/apiKeys/{keyId}/goodwillLimits", { path: { keyId } }).then((r) => {
        setPerGrant(r.limits?.perGrant ?? "");
        setPerDay(r.limits?.perDay ?? "");
        return r.limits ?? {};
      }),
    [keyId],
  );
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      const resp = await call("put", "/v1/apiKeys/{keyId}/goodwillLimits", { path: { keyId }, body: { perGrant, perDay } });
      setSaved(resp.limits ?? null);
      current.reload();
    } catch (err) {
      setError(err);
    }
  };
  const fieldError = (f: string) => (error instanceof ApiError ? tField(error.fieldError(f)) : undefined);
  return (
    <form class="filters" onSubmit={submit} aria-label={t("keys.limits")} data-testid="limits">
      {current.error ? (
        <p class="error" role="alert">
          {errorText(current.error)}
        </p>
      ) : (
        current.value && (
          <p class="muted small span" data-testid="limits-now">
            {t(current.value.defaultLimits ? "keys.limitsDefault" : "keys.limitsNow", {
              perGrant: points(current.value.perGrant),
              perDay: points(current.value.perDay),
            })}
          </p>
        )
      )}
      <div>
        <label for={`pg-${keyId}`}>{t("keys.perGrant")}</label>
        <input id={`pg-${keyId}`} type="number" min="0" required value={perGrant} onInput={(e) => setPerGrant((e.target as HTMLInputElement).value)} />
        {fieldError("perGrant") && <p class="field-error">{fieldError("perGrant")}</p>}
      </div>
      <div>
        <label for={`pd-${keyId}`}>{t("keys.perDay")}</label>
        <input id={`pd-${keyId}`} type="number" min="0" required value={perDay} onInput={(e) => setPerDay((e.target as HTMLInputElement).value)} />
        {fieldError("perDay") && <p class="field-error">{fieldError("perDay")}</p>}
      </div>
      <div class="end">
        <button type="submit">{t("keys.saveLimits")}</button>
      </div>
      {saved && (
        <p class="success" role="status">
          {t("keys.limitsSaved", { perGrant: points(saved.perGrant), perDay: points(saved.perDay) })}
        </p>
      )}
      {error !== null && !(error instanceof ApiError && error.fields.length > 0) && (
        <p class="error" role="alert">
          {errorText(error)}
        </p>
      )}
    </form>
  );
}
