import { useEffect, useRef, useState } from "preact/hooks";
import { call, newRequestId, type Defs } from "../api/client";
import { dateTime, points, t, tCode } from "../i18n/i18n";
import { referralPaid } from "../logic";
import { errorText } from "./App";
import { FieldError, fieldMessage, invalid } from "./Field";

const pageSize = 20;

/** Referrals lists whom the member referred (newest first, a page at a time) with
 * each referral's status and what it paid; a role that may record one gets the
 * form. A referral is paid later, by the REFERRAL campaign, once the referred
 * member's first order is out of its return window: the form's answer is PENDING. */
export function Referrals({
  memberId,
  changed,
  canRecord,
  onRecorded,
}: {
  memberId: string;
  changed: number;
  canRecord: boolean;
  onRecorded: () => void;
}) {
  const [list, setList] = useState<Defs["v1Referral"][]>([]);
  const [next, setNext] = useState<string | null>(null); // null: no more pages
  const [loading, setLoading] = useState(false);
  const [loadError, setLoadError] = useState<unknown>(null);
  // generation drops the pages of an earlier member or change.
  const generation = useRef(0);

  const load = async (token: string, gen: number) => {
    setLoading(true);
    try {
      const resp = await call("get", "/v1/members/{memberId}/referrals", {
        path: { memberId },
        query: { pageSize, pageToken: token || undefined },
      });
      if (gen !== generation.current) return;
      setList((prev) => (token ? [...prev, ...(resp.referrals ?? [])] : (resp.referrals ?? [])));
      setNext(resp.nextPageToken || null);
      setLoadError(null);
    } catch (err) {
      if (gen === generation.current) setLoadError(err);
    } finally {
      if (gen === generation.current) setLoading(false);
    }
  };
  useEffect(() => {
    generation.current++;
    setList([]);
    setNext(null);
    void load("", generation.current);
  }, [memberId, changed]);

  return (
    <section class="card wide" aria-labelledby="ref-title" data-testid="referrals">
      <h2 id="ref-title">{t("referrals.title")}</h2>
      {canRecord && <RecordReferral memberId={memberId} onRecorded={onRecorded} />}
      {loadError !== null && <p role="alert">{errorText(loadError)}</p>}
      {list.length > 0 && (
        <div class="scroll-x" tabIndex={0} role="group" aria-labelledby="ref-title">
          <table>
            <thead>
              <tr>
                <th scope="col">{t("referrals.referred")}</th>
                <th scope="col">{t("referrals.status")}</th>
                <th scope="col">{t("referrals.paid")}</th>
                <th scope="col">{t("referrals.recorded")}</th>
                <th scope="col">{t("referrals.settled")}</th>
              </tr>
            </thead>
            <tbody>
              {list.map((r) => {
                const paid = referralPaid(r);
                return (
                  <tr data-referred={r.referredMemberId}>
                    <td>
                      <a href={`#/members/${encodeURIComponent(r.referredMemberId ?? "")}`} translate={false}>
                        {r.referredMemberId}
                      </a>
                    </td>
                    <td>
                      <span class={`badge status-${(r.status ?? "").toLowerCase()}`}>{tCode("referralStatus", r.status)}</span>
                    </td>
                    <td>
                      {paid
                        ? t("referrals.paidBoth", { referrer: points(paid.referrer), referred: points(paid.referred) })
                        : t("referrals.paidNothing")}
                    </td>
                    <td>{dateTime(r.createTime)}</td>
                    <td>{r.settleTime ? dateTime(r.settleTime) : t("referrals.notSettled")}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      {!loading && list.length === 0 && loadError === null && <p class="muted">{t("referrals.none")}</p>}
      {loading && <p class="muted">{t("common.loading")}</p>}
      {!loading && next !== null && (
        <button type="button" class="secondary" onClick={() => void load(next, generation.current)}>
          {t("referrals.more")}
        </button>
      )}
    </section>
  );
}

function RecordReferral({ memberId, onRecorded }: { memberId: string; onRecorded: () => void }) {
  const [referred, setReferred] = useState("");
  // requestId names this referral: a retry or a double click answers the first
  // result. A new member id typed is a new intent.
  const [requestId, setRequestId] = useState(newRequestId);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [result, setResult] = useState<Defs["v1RecordReferralResponse"] | null>(null);

  const submit = async (e: Event) => {
    e.preventDefault();
    if (busy) return;
    setBusy(true);
    setError(null);
    setResult(null);
    try {
      const resp = await call("post", "/v1/members/{memberId}/referrals", {
        path: { memberId },
        body: { requestId, referredMemberId: referred.trim() },
      });
      setResult(resp);
      setReferred("");
      setRequestId(newRequestId());
      onRecorded();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const msg = fieldMessage(error, "referredMemberId");
  return (
    <form onSubmit={submit} class="stack side-form" aria-labelledby="ref-form-title">
      <h3 id="ref-form-title">{t("referrals.record")}</h3>
      <div class="field">
        <label for="ref-referredMemberId">{t("referrals.referredId")}</label>
        <input
          {...invalid("ref-referredMemberId", msg)}
          value={referred}
          autocomplete="off"
          required
          onInput={(e) => {
            setReferred((e.target as HTMLInputElement).value);
            setRequestId(newRequestId());
            setResult(null);
          }}
        />
        <FieldError id="ref-referredMemberId" msg={msg} />
      </div>
      <button type="submit" disabled={busy}>
        {busy ? t("common.sending") : t("referrals.submit")}
      </button>
      {error !== null && !msg && (
        <p class="error" role="alert">
          {errorText(error)}
        </p>
      )}
      {result?.referral && (
        <p class="success" role="status" data-testid="referral-result">
          {t(result.replayed ? "referrals.replayed" : "referrals.recordedOne", {
            member: result.referral.referredMemberId ?? "",
            status: tCode("referralStatus", result.referral.status),
          })}
        </p>
      )}
    </form>
  );
}
