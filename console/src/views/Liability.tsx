import { useState } from "preact/hooks";
import { call, type Defs } from "../api/client";
import { dateTime, points, t, tCode } from "../i18n/i18n";
import { useLoad } from "../load";
import { errorText } from "./App";
import { BarChart } from "./Chart";

/** Liability is the finance view: what the program owes its members (by the month
 * the points expire in), the system accounts, and the ledger's verification. */
export function Liability() {
  const report = useLoad(() => call("get", "/v1/reports/liability", {}), []);
  const r = report.value;
  return (
    <div class="liability">
      <h1>{t("liability.title")}</h1>
      {report.error && <p role="alert">{errorText(report.error)}</p>}
      {!r && !report.error && <p class="loading">{t("common.loading")}</p>}
      {r && (
        <>
          <div class="grid">
            <section class="card" aria-labelledby="li-totals">
              <h2 id="li-totals">{t("liability.outstanding")}</h2>
              <dl class="figures" data-testid="liability-totals">
                <div class="span">
                  <dt>{t("liability.outstandingTotal")}</dt>
                  <dd data-testid="outstanding">{points(r.outstanding)}</dd>
                </div>
                <div>
                  <dt>{t("balance.available")}</dt>
                  <dd>{points(r.available)}</dd>
                </div>
                <div>
                  <dt>{t("balance.pending")}</dt>
                  <dd>{points(r.pending)}</dd>
                </div>
                <div>
                  <dt>{t("balance.held")}</dt>
                  <dd>{points(r.held)}</dd>
                </div>
                <div>
                  <dt>{t("liability.debt")}</dt>
                  <dd>{points(r.debt)}</dd>
                </div>
              </dl>
              <p class={r.consistent ? "success small" : "error small"}>
                {r.consistent ? t("liability.consistent") : t("liability.inconsistent")}
              </p>
              <p class="muted small">{t("common.asOf", { time: dateTime(r.reportTime) })}</p>
            </section>
            <section class="card" aria-labelledby="li-flows">
              <h2 id="li-flows">{t("liability.flows")}</h2>
              <dl class="figures">
                <div>
                  <dt>{t("liability.issued")}</dt>
                  <dd>{points(r.issued)}</dd>
                </div>
                <div>
                  <dt>{t("liability.redeemed")}</dt>
                  <dd>{points(r.redeemed)}</dd>
                </div>
                <div>
                  <dt>{t("liability.expired")}</dt>
                  <dd>{points(r.expired)}</dd>
                </div>
                <div>
                  <dt>{t("liability.goodwill")}</dt>
                  <dd>{points(r.goodwill)}</dd>
                </div>
              </dl>
            </section>
            <Verify />
          </div>
          <section class="card wide" aria-labelledby="li-months">
            <h2 id="li-months">{t("liability.byMonth")}</h2>
            <p class="muted small">{t("liability.monthsIn", { tz: r.timeZone ?? "" })}</p>
            {(r.byExpiryMonth ?? []).length === 0 ? (
              <p class="muted">{t("liability.noMonths")}</p>
            ) : (
              <div data-testid="liability-chart">
                <BarChart
                  label={t("liability.byMonth")}
                  xs={(r.byExpiryMonth ?? []).map((m) => m.month ?? "")}
                  series={[
                    { name: t("balance.available"), values: (r.byExpiryMonth ?? []).map((m) => Number(m.available ?? 0)), cls: "series-a" },
                    { name: t("balance.pending"), values: (r.byExpiryMonth ?? []).map((m) => Number(m.pending ?? 0)), cls: "series-b" },
                  ]}
                  format={(v) => points(Math.round(v))}
                />
              </div>
            )}
          </section>
          <SystemAccounts accounts={r.systemAccounts ?? []} />
        </>
      )}
    </div>
  );
}

function SystemAccounts({ accounts }: { accounts: Defs["v1SystemAccountBalance"][] }) {
  return (
    <section class="card wide" aria-labelledby="li-accounts">
      <h2 id="li-accounts">{t("liability.systemAccounts")}</h2>
      <div class="scroll-x" tabIndex={0} role="group" aria-labelledby="li-accounts">
        <table>
          <thead>
            <tr>
              <th scope="col">{t("liability.account")}</th>
              <th scope="col" class="num">
                {t("liability.balance")}
              </th>
            </tr>
          </thead>
          <tbody>
            {accounts.map((a) => (
              <tr>
                <td>
                  <code translate={false}>{a.account}</code>
                </td>
                <td class={Number(a.balance ?? 0) < 0 ? "num neg" : "num"}>{points(a.balance)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

/** Verify runs the ledger's verification on demand (it reads every entry, so it is
 * not run on every visit) and shows its result. */
function Verify() {
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<Defs["v1VerifyLedgerResponse"] | null>(null);
  const [error, setError] = useState("");
  const run = async () => {
    if (busy) return;
    setBusy(true);
    setError("");
    try {
      setResult(await call("get", "/v1/ledger:verify", {}));
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section class="card" aria-labelledby="li-verify">
      <h2 id="li-verify">{t("verify.title")}</h2>
      <p class="hint small">{t("verify.help")}</p>
      <button type="button" class="secondary" disabled={busy} onClick={run}>
        {busy ? t("verify.running") : t("verify.run")}
      </button>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {result && (
        <div class={result.ok ? "success" : "error"} role="status" data-testid="verify-result">
          <p>
            {result.ok
              ? t("verify.ok", { entries: points(result.entriesChecked), accounts: points(result.accountsChecked) })
              : t("verify.bad", { n: (result.discrepancies ?? []).length })}
          </p>
          {(result.discrepancies ?? []).length > 0 && (
            <ul class="small">
              {(result.discrepancies ?? []).map((d) => (
                <li>
                  {tCode("discrepancy", d.kind)} <code translate={false}>{d.account || d.memberId || d.entryId}</code>{" "}
                  <span translate={false}>{d.detail}</span>
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
    </section>
  );
}
