import { useState } from "preact/hooks";
import { ApiError, call, newRequestId, type Defs } from "../api/client";
import { dateTime, points, t, tCode, tField } from "../i18n/i18n";
import { errorText } from "./App";

// reasonCodes are the goodwill reasons the API accepts (api: GrantGoodwillRequest).
export const reasonCodes = [
  "LATE_DELIVERY",
  "DAMAGED_ITEM",
  "WRONG_ITEM",
  "MISSING_ITEM",
  "REFUND_DELAY",
  "SERVICE_COMPLAINT",
  "OTHER",
] as const;

type Result = { kind: "posted"; points: string } | { kind: "waiting"; approvalId: string; points: string };

interface Fields {
  points: string;
  reasonCode: string;
  ticketId: string;
  note: string;
}

const empty: Fields = { points: "", reasonCode: "", ticketId: "", note: "" };

export function Goodwill({
  memberId,
  allowance,
  onGranted,
}: {
  memberId: string;
  allowance?: Defs["v1GoodwillAllowance"];
  onGranted: () => void;
}) {
  const [fields, setFields] = useState<Fields>(empty);
  // requestId names this grant: resending it (a double click, a retry after a
  // network error) answers the first result instead of granting twice. It changes
  // when the form does.
  const [requestId, setRequestId] = useState(newRequestId);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | string | null>(null);
  const [result, setResult] = useState<Result | null>(null);

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
    try {
      const resp = await call("post", "/v1/members/{memberId}:grantGoodwill", {
        path: { memberId },
        body: {
          requestId,
          points: fields.points,
          reasonCode: fields.reasonCode,
          ticketId: fields.ticketId,
          note: fields.note,
        },
      });
      setResult(
        resp.approval
          ? { kind: "waiting", approvalId: resp.approval.approvalId ?? "", points: resp.approval.points ?? "0" }
          : { kind: "posted", points: resp.entry?.points ?? "0" },
      );
      setFields(empty);
      setRequestId(newRequestId());
      onGranted();
    } catch (err) {
      setError(err instanceof ApiError && err.fields.length > 0 ? err : errorText(err));
    } finally {
      setBusy(false);
    }
  };

  const fieldError = (name: string) => (error instanceof ApiError ? tField(error.fieldError(name)) : undefined);
  const field = (name: keyof Fields) => {
    const msg = fieldError(name);
    return {
      id: `gw-${name}`,
      value: fields[name],
      "aria-invalid": msg ? ("true" as const) : undefined,
      "aria-describedby": msg ? `gw-${name}-error` : undefined,
    };
  };
  const errorOf = (name: keyof Fields) => {
    const msg = fieldError(name);
    return msg ? (
      <p id={`gw-${name}-error`} class="field-error">
        {msg}
      </p>
    ) : null;
  };

  return (
    <section class="card" aria-labelledby="gw-title">
      <h2 id="gw-title">{t("goodwill.title")}</h2>
      {!allowance && <p class="allowance">{t("goodwill.unlimited")}</p>}
      {allowance && (
        <p class="allowance" data-testid="allowance">
          {t("goodwill.left", { left: points(allowance.remainingToday), perDay: points(allowance.perDay) })}
          <br />
          <span class="muted small">
            {t("goodwill.perGrant", { perGrant: points(allowance.perGrant) })} ·{" "}
            {t("goodwill.resets", { time: dateTime(allowance.dayEndTime) })}
          </span>
        </p>
      )}
      <form onSubmit={submit} class="stack">
        <label for="gw-points">{t("goodwill.points")}</label>
        <input {...field("points")} type="number" min="1" step="1" inputMode="numeric" required onInput={set("points")} />
        {errorOf("points")}
        <label for="gw-reasonCode">{t("goodwill.reason")}</label>
        <select {...field("reasonCode")} required onChange={set("reasonCode")}>
          <option value="">{t("goodwill.chooseReason")}</option>
          {reasonCodes.map((c) => (
            <option value={c}>{tCode("reason", c)}</option>
          ))}
        </select>
        {errorOf("reasonCode")}
        <label for="gw-ticketId">{t("goodwill.ticket")}</label>
        <input {...field("ticketId")} autocomplete="off" onInput={set("ticketId")} />
        {errorOf("ticketId")}
        <label for="gw-note">{t("goodwill.note")}</label>
        <textarea {...field("note")} rows={2} onInput={set("note")} />
        {errorOf("note")}
        <button type="submit" disabled={busy}>
          {busy ? t("common.sending") : t("goodwill.submit")}
        </button>
      </form>
      {typeof error === "string" && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {result && (
        <p class={result.kind === "posted" ? "success" : "waiting"} role="status" data-testid="goodwill-result">
          {result.kind === "posted"
            ? t("goodwill.posted", { points: points(result.points) })
            : t("goodwill.waiting", { points: points(result.points), id: result.approvalId })}
        </p>
      )}
    </section>
  );
}
