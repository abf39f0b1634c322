import { useState } from "preact/hooks";
import { ApiError, call, type Defs } from "../api/client";
import { dateTime, points, t, tCode } from "../i18n/i18n";
import { useLoad } from "../load";
import { splitList } from "../logic";
import { errorText } from "./App";
import { fieldMessage, invalid, Labelled } from "./Field";

type Endpoint = Defs["v1WebhookEndpoint"];

// Event types are codes of the catalogue (docs/EVENTS.md), the same in every language.
const typeExample = "points.earned, tier.changed";
type Delivery = Defs["v1WebhookDelivery"];

/** Webhooks is the admin's list of webhook endpoints: register one (its signing
 * secret is shown once), rotate its secret (the new one shown once), replay its
 * events from a time (which enables a disabled endpoint again), delete it, and read
 * its deliveries with their attempts, retrying one that failed. */
export function Webhooks() {
  const list = useLoad(() => call("get", "/v1/webhookEndpoints", {}), []);
  const [secret, setSecret] = useState<{ url: string; secret: string } | null>(null);
  const [message, setMessage] = useState<{ text: string; error: boolean } | null>(null);
  const [open, setOpen] = useState("");

  const rotate = async (e: Endpoint) => {
    if (!confirm(t("webhooks.confirmRotate", { url: e.url ?? "" }))) return;
    try {
      const resp = await call("post", "/v1/webhookEndpoints/{endpointId}:rotateSecret", { path: { endpointId: e.endpointId ?? "" } });
      setSecret({ url: e.url ?? "", secret: resp.secret ?? "" });
      setMessage(null);
      list.reload();
    } catch (err) {
      setMessage({ text: errorText(err), error: true });
    }
  };
  const remove = async (e: Endpoint) => {
    if (!confirm(t("webhooks.confirmDelete", { url: e.url ?? "" }))) return;
    try {
      await call("delete", "/v1/webhookEndpoints/{endpointId}", { path: { endpointId: e.endpointId ?? "" } });
      setMessage({ text: t("webhooks.deleted", { url: e.url ?? "" }), error: false });
      if (open === e.endpointId) setOpen("");
      list.reload();
    } catch (err) {
      setMessage({ text: errorText(err), error: true });
    }
  };

  return (
    <>
      <CreateEndpoint
        onCreated={(c) => {
          setSecret({ url: c.endpoint?.url ?? "", secret: c.secret ?? "" });
          setMessage(null);
          list.reload();
        }}
      />
      {secret && (
        <section class="card wide secret" aria-labelledby="hook-secret-title" role="status">
          <h2 id="hook-secret-title">{t("webhooks.secretTitle")}</h2>
          <p>
            <span translate={false}>{secret.url}</span>
          </p>
          <p>{t("webhooks.secretOnce")}</p>
          <p>
            <code data-testid="webhook-secret" translate={false}>
              {secret.secret}
            </code>
          </p>
          <button type="button" class="secondary" onClick={() => setSecret(null)}>
            {t("keys.secretDone")}
          </button>
        </section>
      )}
      <section class="card wide" aria-labelledby="hooks-title">
        <h1 id="hooks-title">{t("webhooks.title")}</h1>
        {message && (
          <p class={message.error ? "error" : "success"} role={message.error ? "alert" : "status"}>
            {message.text}
          </p>
        )}
        {list.error ? (
          <p role="alert">{errorText(list.error)}</p>
        ) : (list.value?.endpoints ?? []).length === 0 && !list.loading ? (
          <p class="muted">{t("webhooks.none")}</p>
        ) : (
          <div class="scroll-x" tabIndex={0} role="group" aria-labelledby="hooks-title">
            <table data-testid="webhooks">
              <thead>
                <tr>
                  <th scope="col">{t("webhooks.url")}</th>
                  <th scope="col">{t("webhooks.eventTypes")}</th>
                  <th scope="col">{t("webhooks.status")}</th>
                  <th scope="col">{t("webhooks.created")}</th>
                  <th scope="col">{t("keys.actions")}</th>
                </tr>
              </thead>
              <tbody>
                {(list.value?.endpoints ?? []).map((e) => (
                  <>
                    <tr>
                      <td>
                        <code translate={false}>{e.url}</code>
                        {e.description && (
                          <div class="muted small" translate={false}>
                            {e.description}
                          </div>
                        )}
                      </td>
                      <td>{(e.eventTypes ?? []).length ? <code translate={false}>{(e.eventTypes ?? []).join(", ")}</code> : t("webhooks.allTypes")}</td>
                      <td>
                        <span class={`badge status-${(e.status ?? "").toLowerCase()}`}>{tCode("endpointStatus", e.status)}</span>
                        {e.disabledReason && (
                          <div class="muted small" translate={false}>
                            {e.disabledReason}
                          </div>
                        )}
                        {e.previousSecretExpireTime && (
                          <div class="muted small">{t("webhooks.oldSecretUntil", { time: dateTime(e.previousSecretExpireTime) })}</div>
                        )}
                      </td>
                      <td class="time">{dateTime(e.createTime)}</td>
                      <td class="actions">
                        <button
                          type="button"
                          class="secondary small-button"
                          aria-expanded={open === e.endpointId}
                          aria-label={t("webhooks.deliveriesOf", { url: e.url ?? "" })}
                          onClick={() => setOpen(open === e.endpointId ? "" : (e.endpointId ?? ""))}
                        >
                          {t("webhooks.deliveries")}
                        </button>
                        <button
                          type="button"
                          class="secondary small-button"
                          aria-label={t("webhooks.rotateOf", { url: e.url ?? "" })}
                          onClick={() => rotate(e)}
                        >
                          {t("webhooks.rotate")}
                        </button>
                        <button
                          type="button"
                          class="secondary small-button"
                          aria-label={t("webhooks.deleteOf", { url: e.url ?? "" })}
                          onClick={() => remove(e)}
                        >
                          {t("webhooks.delete")}
                        </button>
                      </td>
                    </tr>
                    {open === e.endpointId && (
                      <tr>
                        <td colSpan={5}>
                          <Deliveries endpoint={e} onReplayed={list.reload} />
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

function CreateEndpoint({ onCreated }: { onCreated: (c: Defs["v1CreateWebhookEndpointResponse"]) => void }) {
  const [url, setUrl] = useState("");
  const [types, setTypes] = useState("");
  const [description, setDescription] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    if (busy) return;
    setBusy(true);
    setError(null);
    try {
      onCreated(await call("post", "/v1/webhookEndpoints", { body: { url: url.trim(), eventTypes: splitList(types), description } }));
      setUrl("");
      setTypes("");
      setDescription("");
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const msg = (f: string) => fieldMessage(error, f);
  const placed = error instanceof ApiError && error.fields.some((f) => /^(url|eventTypes|description)/.test(f.field));
  return (
    <form class="card wide" onSubmit={submit} aria-labelledby="new-hook-title" noValidate>
      <h2 id="new-hook-title">{t("webhooks.create")}</h2>
      <div class="form-grid">
        <Labelled id="hook-url" label={t("webhooks.url")} msg={msg("url")}>
          <input
            {...invalid("hook-url", msg("url"))}
            type="url"
            required
            autocomplete="off"
            value={url}
            onInput={(e) => setUrl((e.target as HTMLInputElement).value)}
          />
        </Labelled>
        <Labelled id="hook-types" label={t("webhooks.eventTypes")} msg={msg("eventTypes")}>
          <input
            {...invalid("hook-types", msg("eventTypes"))}
            autocomplete="off"
            aria-describedby={msg("eventTypes") ? "hook-types-error" : "hook-types-hint"}
            value={types}
            onInput={(e) => setTypes((e.target as HTMLInputElement).value)}
          />
        </Labelled>
        <Labelled id="hook-description" label={t("webhooks.description")} msg={msg("description")}>
          <input
            {...invalid("hook-description", msg("description"))}
            autocomplete="off"
            value={description}
            onInput={(e) => setDescription((e.target as HTMLInputElement).value)}
          />
        </Labelled>
      </div>
      <p id="hook-types-hint" class="muted small">
        {t("webhooks.typesHint")} <code translate={false}>{typeExample}</code>
      </p>
      {error !== null && !placed && (
        <p class="error" role="alert">
          {errorText(error)}
        </p>
      )}
      <button type="submit" disabled={busy}>
        {busy ? t("common.sending") : t("webhooks.createSubmit")}
      </button>
    </form>
  );
}

function Deliveries({ endpoint, onReplayed }: { endpoint: Endpoint; onReplayed: () => void }) {
  const endpointId = endpoint.endpointId ?? "";
  const [pages, setPages] = useState<string[]>([""]);
  const [round, setRound] = useState(0);
  const list = useLoad(async () => {
    // Every page shown so far, read again: a retry changes a row of any of them.
    const out: Delivery[] = [];
    let next = "";
    for (const token of pages) {
      const r = await call("get", "/v1/webhookEndpoints/{endpointId}/deliveries", { path: { endpointId }, query: { pageSize: 20, pageToken: token || undefined } });
      out.push(...(r.deliveries ?? []));
      next = r.nextPageToken ?? "";
    }
    return { deliveries: out, next };
  }, [pages, round]);
  const [message, setMessage] = useState<{ text: string; error: boolean } | null>(null);
  const [since, setSince] = useState("");

  const retry = async (d: Delivery) => {
    try {
      await call("post", "/v1/webhookEndpoints/{endpointId}/deliveries/{deliveryId}:retry", {
        path: { endpointId, deliveryId: d.deliveryId ?? "" },
      });
      setMessage({ text: t("webhooks.retried", { id: d.deliveryId ?? "" }), error: false });
      setRound((r) => r + 1);
    } catch (err) {
      setMessage({ text: errorText(err), error: true });
    }
  };
  const replay = async (e: Event) => {
    e.preventDefault();
    if (!since) return;
    try {
      await call("post", "/v1/webhookEndpoints/{endpointId}:replay", { path: { endpointId }, body: { startTime: new Date(since).toISOString() } });
      setMessage({ text: t("webhooks.replayed", { time: dateTime(new Date(since).toISOString()) }), error: false });
      onReplayed();
      setRound((r) => r + 1);
    } catch (err) {
      setMessage({ text: errorText(err), error: true });
    }
  };
  const rows = list.value?.deliveries ?? [];
  const replayId = `replay-${endpointId}`;
  return (
    <div class="deliveries" data-testid="deliveries">
      <form class="filters" onSubmit={replay} aria-label={t("webhooks.replay")}>
        <div>
          <label for={replayId}>{t("webhooks.replaySince")}</label>
          <input id={replayId} type="datetime-local" value={since} required onInput={(e) => setSince((e.target as HTMLInputElement).value)} />
        </div>
        <div class="end">
          <button type="submit" class="secondary">
            {endpoint.status === "DISABLED" ? t("webhooks.replayEnable") : t("webhooks.replay")}
          </button>
        </div>
        <div class="end">
          <button type="button" class="secondary" onClick={() => setRound((r) => r + 1)}>
            {t("webhooks.refresh")}
          </button>
        </div>
      </form>
      {message && (
        <p class={message.error ? "error" : "success"} role={message.error ? "alert" : "status"}>
          {message.text}
        </p>
      )}
      {list.error ? (
        <p role="alert">{errorText(list.error)}</p>
      ) : rows.length === 0 ? (
        <p class="muted">{list.loading ? t("common.loading") : t("webhooks.noDeliveries")}</p>
      ) : (
        <table>
          <caption class="sr-only">{t("webhooks.deliveriesOf", { url: endpoint.url ?? "" })}</caption>
          <thead>
            <tr>
              <th scope="col">{t("webhooks.event")}</th>
              <th scope="col">{t("events.member")}</th>
              <th scope="col">{t("webhooks.status")}</th>
              <th scope="col">{t("webhooks.attempts")}</th>
              <th scope="col">{t("webhooks.lastAttempt")}</th>
              <th scope="col">{t("webhooks.time")}</th>
              <th scope="col">{t("keys.actions")}</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((d) => (
              <tr>
                <td>
                  <code translate={false}>{d.eventType}</code>
                </td>
                <td translate={false}>{d.memberId ? `${d.memberId} #${d.memberSeq}` : ""}</td>
                <td>
                  <span class={`badge status-${(d.status ?? "").toLowerCase()}`}>{tCode("deliveryStatus", d.status)}</span>
                </td>
                <td>{points(d.attempts ?? 0)}</td>
                <td>
                  {d.attempts
                    ? t("webhooks.answer", { code: d.lastStatusCode ? String(d.lastStatusCode) : "—", ms: points(d.lastLatencyMs ?? "0") })
                    : ""}
                  {d.lastError && (
                    <div class="muted small" translate={false}>
                      {d.lastError}
                    </div>
                  )}
                  {d.status === "PENDING" && d.nextAttemptTime && (
                    <div class="muted small">{t("webhooks.nextAttempt", { time: dateTime(d.nextAttemptTime) })}</div>
                  )}
                </td>
                <td class="time">{dateTime(d.deliverTime || d.createTime)}</td>
                <td>
                  {d.status !== "SUCCEEDED" && (
                    <button
                      type="button"
                      class="secondary small-button"
                      aria-label={t("webhooks.retryOne", { id: d.deliveryId ?? "" })}
                      onClick={() => retry(d)}
                    >
                      {t("webhooks.retry")}
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {list.value?.next && (
        <button type="button" class="secondary" onClick={() => setPages([...pages, list.value?.next ?? ""])}>
          {t("audit.more")}
        </button>
      )}
    </div>
  );
}
