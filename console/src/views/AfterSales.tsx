import { useState } from "preact/hooks";
import { ApiError, call, newRequestId, type Defs } from "../api/client";
import { points, t, tCode, tField } from "../i18n/i18n";
import { errorText } from "./App";
import { reasonCodes } from "./Goodwill";

// Event types with a delay the campaigns may judge by (api: ReportAfterSalesEventRequest).
const delayed = new Set(["LATE_DELIVERY", "REFUND_DELAY"]);

interface Fields {
  orderId: string;
  type: string;
  delayHours: string;
  note: string;
}
const empty: Fields = { orderId: "", type: "", delayHours: "", note: "" };

/** AfterSales reports an after-sales event on an order; the compensation campaigns
 * decide what it earns, and the answer says what was granted, or why nothing. */
export function AfterSales({ memberId, orderIds, onReported }: { memberId: string; orderIds: string[]; onReported: () => void }) {
  const [fields, setFields] = useState<Fields>(empty);
  const [requestId, setRequestId] = useState(newRequestId);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [result, setResult] = useState<Defs["v1ReportAfterSalesEventResponse"] | null>(null);

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
      const resp = await call("post", "/v1/afterSalesEvents", {
        body: {
          requestId,
          memberId,
          orderId: fields.orderId,
          type: fields.type,
          delayHours: delayed.has(fields.type) && fields.delayHours ? Number(fields.delayHours) : undefined,
          note: fields.note,
        },
      });
      setResult(resp);
      setFields(empty);
      setRequestId(newRequestId());
      onReported();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const fieldError = (name: string) => (error instanceof ApiError ? tField(error.fieldError(name)) : undefined);
  const attrs = (name: keyof Fields) => ({
    id: `as-${name}`,
    value: fields[name],
    "aria-invalid": fieldError(name) ? ("true" as const) : undefined,
    "aria-describedby": fieldError(name) ? `as-${name}-error` : undefined,
    onInput: set(name),
  });
  const errorOf = (name: keyof Fields) =>
    fieldError(name) ? (
      <p id={`as-${name}-error`} class="field-error">
        {fieldError(name)}
      </p>
    ) : null;

  return (
    <section class="card" aria-labelledby="as-title">
      <h2 id="as-title">{t("afterSales.title")}</h2>
      <form onSubmit={submit} class="stack">
        <label for="as-orderId">{t("afterSales.order")}</label>
        <input {...attrs("orderId")} list="as-orders" autocomplete="off" required />
        <datalist id="as-orders">
          {orderIds.map((id) => (
            <option value={id} />
          ))}
        </datalist>
        {errorOf("orderId")}
        <label for="as-type">{t("afterSales.type")}</label>
        <select {...attrs("type")} onChange={set("type")} required>
          <option value="">{t("goodwill.chooseReason")}</option>
          {reasonCodes.map((c) => (
            <option value={c}>{tCode("reason", c)}</option>
          ))}
        </select>
        {errorOf("type")}
        {delayed.has(fields.type) && (
          <>
            <label for="as-delayHours">{t("afterSales.delayHours")}</label>
            <input {...attrs("delayHours")} type="number" min="0" step="1" inputMode="numeric" />
            {errorOf("delayHours")}
          </>
        )}
        <label for="as-note">{t("afterSales.note")}</label>
        <textarea {...attrs("note")} rows={2} />
        {errorOf("note")}
        <button type="submit" disabled={busy}>
          {busy ? t("common.sending") : t("afterSales.submit")}
        </button>
      </form>
      {error !== null && !(error instanceof ApiError && error.fields.length > 0) && (
        <p class="error" role="alert">
          {errorText(error)}
        </p>
      )}
      {result && <Outcome result={result} />}
    </section>
  );
}

function Outcome({ result }: { result: Defs["v1ReportAfterSalesEventResponse"] }) {
  const grants = result.grants ?? [];
  if (grants.length === 0) {
    const why = [result.reason, ...(result.refusals ?? []).map((r) => r.reason)].filter(Boolean) as string[];
    return (
      <div class="waiting" role="status" data-testid="after-sales-result">
        {t("afterSales.nothing")}{" "}
        {why.map((w) => tCode("refusal", w)).join(" · ")}
      </div>
    );
  }
  return (
    <div class="success" role="status" data-testid="after-sales-result">
      {result.replayed && <p>{t("afterSales.replayed")}</p>}
      {t("afterSales.granted")}
      <ul>
        {grants.map((g) => (
          <li>
            {g.points && g.points !== "0" ? t("afterSales.points", { points: points(g.points) }) : null}
            {g.couponCode ? t("afterSales.coupon", { code: g.couponCode }) : null}
          </li>
        ))}
      </ul>
    </div>
  );
}
