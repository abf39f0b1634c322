import { useState } from "preact/hooks";
import { ApiError, call, type Defs } from "../api/client";
import { date, dateTime, money, points, t, tCode } from "../i18n/i18n";
import { useLoad } from "../load";
import { can } from "../roles";
import { href } from "../route";
import type { Me } from "./App";
import { errorText } from "./App";
import { Coupons } from "./Coupons";
import { Entitlements } from "./Entitlements";
import { Goodwill } from "./Goodwill";
import { AfterSales } from "./AfterSales";
import { Activity } from "./Activity";
import { MyRequests } from "./MyRequests";
import { Referrals } from "./Referrals";
import { latestOrders, Orders } from "./Orders";
import { Statement } from "./Statement";

type Props = { memberId: string; me: Me; refreshMe: () => Promise<void> };

/** MemberPage finds the member first; the rest of the page reads only a member that exists. */
export function MemberPage(props: Props) {
  const { memberId } = props;
  const member = useLoad(() => call("get", "/v1/members/{memberId}", { path: { memberId } }), [memberId]);
  if (member.error) {
    const notFound = member.error instanceof ApiError && member.error.status === 404;
    return (
      <section class="card narrow">
        <p role="alert">{notFound ? t("member.notFound", { id: memberId }) : errorText(member.error)}</p>
        <a href={href({ name: "find" })}>{t("member.findAnother")}</a>
      </section>
    );
  }
  if (!member.value) return <p class="loading">{t("common.loading")}</p>;
  return <MemberBody {...props} member={member.value.member ?? {}} />;
}

function MemberBody({ memberId, me, refreshMe, member: m }: Props & { member: Defs["v1Member"] }) {
  const role = me.key?.role ?? "";
  // changed counts the member's changes made here: the reads below run again.
  const [changed, setChanged] = useState(0);
  const balance = useLoad(() => call("get", "/v1/members/{memberId}/balance", { path: { memberId } }), [memberId, changed]);
  const perks = useLoad(() => call("get", "/v1/members/{memberId}/perks", { path: { memberId } }), [memberId, changed]);
  const orders = useLoad(() => latestOrders(memberId), [memberId, changed]);
  const policy = useLoad(() => call("get", "/v1/tierPolicy", {}), []);
  const program = useLoad(() => call("get", "/v1/program", {}), []);
  const currency = program.value?.program?.currencies?.[0];
  // Campaign names, for a role that may read campaigns; others see the campaign's id.
  const campaigns = useLoad(
    () => (can(role, "readCampaigns") ? call("get", "/v1/campaigns", { query: { pageSize: 500 } }) : Promise.resolve({ campaigns: [] })),
    [role, changed],
  );
  const campaignName = (id: string) => campaigns.value?.campaigns?.find((c) => c.campaignId === id)?.displayName || id;
  // tierName shows a tier by the name the policy gives it.
  const tierName = (id: string | undefined) => policy.value?.tiers?.find((x) => x.id === id)?.displayName || id || "";

  const onChange = () => {
    setChanged((c) => c + 1);
    void refreshMe();
  };
  return (
    <div class="member">
      <header class="member-head">
        <h1 translate={false}>
          {m.displayName || memberId} <span class="muted">{memberId}</span>
        </h1>
        {m.joinTime && <p class="muted">{t("member.joined", { date: date(m.joinTime) })}</p>}
      </header>
      <div class="grid">
        <section class="card" aria-labelledby="balance-title" data-testid="balance">
          <h2 id="balance-title">{t("balance.title")}</h2>
          {balance.error ? (
            <p role="alert">{errorText(balance.error)}</p>
          ) : (
            <dl class="figures">
              <div>
                <dt>{t("balance.available")}</dt>
                <dd data-testid="available">{balance.value ? points(balance.value.available) : "…"}</dd>
              </div>
              <div>
                <dt>{t("balance.pending")}</dt>
                <dd>{balance.value ? points(balance.value.pending) : "…"}</dd>
              </div>
              <div>
                <dt>{t("balance.held")}</dt>
                <dd>{balance.value ? points(balance.value.held) : "…"}</dd>
              </div>
              <div class="span">
                <dt>{t("balance.nextExpiring")}</dt>
                <dd>
                  {balance.value?.expiring?.[0]
                    ? t("balance.expiringOn", {
                        points: points(balance.value.expiring[0].points),
                        date: date(balance.value.expiring[0].expireTime),
                      })
                    : t("balance.nothingExpiring")}
                </dd>
              </div>
            </dl>
          )}
        </section>
        <section class="card" aria-labelledby="tier-title">
          <h2 id="tier-title">{t("tier.title")}</h2>
          {perks.error ? <p role="alert">{errorText(perks.error)}</p> : perks.value && <Tier perks={perks.value} tierName={tierName} currency={currency} />}
        </section>
        {can(role, "readMembers") && (
          <Entitlements
            memberId={memberId}
            changed={changed}
            canConsume={can(role, "consumeEntitlements")}
            onConsumed={onChange}
          />
        )}
      </div>
      <div class="grid forms">
        {can(role, "grantGoodwill") && (
          <Goodwill memberId={memberId} allowance={me.goodwill} onGranted={onChange} />
        )}
        {can(role, "listOwnApprovals") && <MyRequests changed={changed} />}
        {can(role, "reportAfterSales") && (
          <AfterSales
            memberId={memberId}
            orderIds={(orders.value ?? []).map((o) => o.orderId ?? "").filter(Boolean)}
            onReported={onChange}
          />
        )}
        {can(role, "recordActivities") && <Activity memberId={memberId} campaignName={campaignName} onRecorded={onChange} />}
      </div>
      <Orders orders={orders} tierName={tierName} campaignName={campaignName} />
      {can(role, "readReferrals") && (
        <Referrals memberId={memberId} changed={changed} canRecord={can(role, "recordReferrals")} onRecorded={onChange} />
      )}
      <Coupons memberId={memberId} changed={changed} canRevoke={can(role, "revokeCoupons")} onRevoked={onChange} />
      <Statement memberId={memberId} changed={changed} />
    </div>
  );
}

function Tier({
  perks,
  tierName,
  currency,
}: {
  perks: Defs["v1GetPerksResponse"];
  tierName: (id?: string) => string;
  currency?: string;
}) {
  const p = perks.progress;
  const k = perks.perks;
  return (
    <>
      <p class="tier-name" data-testid="tier">
        <span translate={false}>{perks.tier?.displayName || perks.tier?.id}</span>
        <span class="badge">{tCode("tierSource", perks.source)}</span>
      </p>
      {p && (
        <p>
          {p.nextTierId
            ? t("tier.toNext", { needed: points(p.neededForNext), next: tierName(p.nextTierId) })
            : t("tier.top")}
          {p.heldUntil && ` · ${t("tier.heldUntil", { date: date(p.heldUntil) })}`}
          {p.inGrace && ` · ${t("tier.inGrace")}`}
        </p>
      )}
      {p?.keepNeeded && p.keepNeeded !== "0" && p.qualifiedTierId && (
        <p>
          {t("tier.toKeep", { needed: points(p.keepNeeded), tier: tierName(p.qualifiedTierId), date: date(p.heldUntil) })}
        </p>
      )}
      {p?.nextThreshold && p.nextThreshold !== "0" && (
        <progress
          aria-label={t("tier.progress")}
          max={Number(p.nextThreshold)}
          value={Math.min(Number(p.value ?? 0), Number(p.nextThreshold))}
        />
      )}
      {k && (
        <ul class="perks" aria-label={t("tier.perks")}>
          <li>{t("perk.multiplier", { percent: k.earnMultiplierPercent ?? 100 })}</li>
          <li>{t("perk.support", { priority: tCode("priority", k.supportPriority), hours: k.supportResponseHours ?? 0 })}</li>
          <li>{t("perk.refund", { mode: tCode("refundMode", k.refundMode) })}</li>
          {k.refundMode === "INSTANT" && k.instantRefundLimitMinor && k.instantRefundLimitMinor !== "0" && (
            <li>{t("perk.instantRefundLimit", { amount: money(k.instantRefundLimitMinor, currency) })}</li>
          )}
          {k.freeReturnShipping && <li>{t("perk.freeReturnShipping")}</li>}
          {k.birthdayBonusPoints && k.birthdayBonusPoints !== "0" && (
            <li>{t("perk.birthday", { points: points(k.birthdayBonusPoints) })}</li>
          )}
        </ul>
      )}
      {perks.asOf && <p class="muted small">{t("common.asOf", { time: dateTime(perks.asOf) })}</p>}
    </>
  );
}
