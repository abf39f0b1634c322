import { useState } from "preact/hooks";
import { call, newRequestId, type Defs } from "../api/client";
import { points, t, tCode } from "../i18n/i18n";
import { useLoad } from "../load";
import { activityOutcome } from "../logic";
import { errorText } from "./App";
import { FieldError, fieldMessage, invalid } from "./Field";

interface Fields {
  type: string;
  activityKey: string;
}
const empty: Fields = { type: "", activityKey: "" };

/** Activity reports what the member did besides ordering (a review, a share, a
 * check-in); the running ACTIVITY_REWARD campaigns decide what it earns, and the
 * answer says what each one granted, or why it gave nothing. */
export function Activity({
  memberId,
  campaignName,
  onRecorded,
}: {
  memberId: string;
  campaignName: (id: string) => string;
  onRecorded: () => void;
}) {
  const types = useLoad(() => call("get", "/v1/activityTypes", {}).then((r) => r.activityTypes ?? []), []);
  const [fields, setFields] = useState<Fields>(empty);
  // requestId names this report: a retry or a double click answers the first one.
  const [requestId, setRequestId] = useState(newRequestId);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [result, setResult] = useState<Defs["v1RecordActivityResponse"] | null>(null);

  const set = (name: keyof Fields) => (e: Event) => {
    setFields({ ...fields, [name]: (e.target as HTMLInputElement).value });
    setRequestId(newRequestId());
    setResult(null);
  };
  const submit = async (e: Event) => {
    e.preventDefault();
    if (busy) return;
    setBusy(true);
    setError(null);
    setResult(null);
    try {
      const resp = await call("post", "/v1/members/{memberId}/activities", {
        path: { memberId },
        body: { requestId, type: fields.type, activityKey: fields.activityKey.trim() || undefined },
      });
      setResult(resp);
      setFields(empty);
      setRequestId(newRequestId());
      onRecorded();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const typeMsg = fieldMessage(error, "type");
  const keyMsg = fieldMessage(error, "activityKey");
  return (
    <section class="card" aria-labelledby="act-title">
      <h2 id="act-title">{t("activity.title")}</h2>
      {types.error ? <p role="alert">{errorText(types.error)}</p> : null}
      <form onSubmit={submit} class="stack">
        <label for="act-type">{t("activity.type")}</label>
        <select {...invalid("act-type", typeMsg)} value={fields.type} onChange={set("type")} required>
          <option value="">{t("activity.chooseType")}</option>
          {(types.value ?? []).map((x) => (
            <option value={x.type}>{tCode("activityType", x.type)}</option>
          ))}
        </select>
        <FieldError id="act-type" msg={typeMsg} />
        <label for="act-activityKey">{t("activity.key")}</label>
        <input {...invalid("act-activityKey", keyMsg)} value={fields.activityKey} autocomplete="off" onInput={set("activityKey")} />
        <p class="hint small">{t("activity.keyHint")}</p>
        <FieldError id="act-activityKey" msg={keyMsg} />
        <button type="submit" disabled={busy}>
          {busy ? t("common.sending") : t("activity.submit")}
        </button>
      </form>
      {error !== null && !typeMsg && !keyMsg && (
        <p class="error" role="alert">
          {errorText(error)}
        </p>
      )}
      {result && <Outcome result={result} campaignName={campaignName} />}
    </section>
  );
}

function Outcome({ result, campaignName }: { result: Defs["v1RecordActivityResponse"]; campaignName: (id: string) => string }) {
  const o = activityOutcome(result);
  const granted = o.granted.length > 0;
  return (
    <div class={granted ? "success" : "waiting"} role="status" data-testid="activity-result">
      {result.replayed && <p>{t("activity.replayed")}</p>}
      <p>{granted ? t("activity.granted", { points: points(o.total) }) : t("activity.nothing")}</p>
      {o.reason && <p>{tCode("activityRefusal", o.reason)}</p>}
      {(granted || o.refused.length > 0) && (
        <ul>
          {o.granted.map((g) => (
            <li>
              <span translate={false}>{campaignName(g.campaignId)}</span>: {t("activity.points", { points: points(g.points) })}
            </li>
          ))}
          {o.refused.map((r) => (
            <li>
              <span translate={false}>{campaignName(r.campaignId)}</span>: {tCode("activityRefusal", r.reason)}
              {r.ruleError && (
                <>
                  {" "}
                  <code translate={false}>{r.ruleError}</code>
                </>
              )}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
