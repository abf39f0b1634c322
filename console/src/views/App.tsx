import { useEffect, useState } from "preact/hooks";
import { ApiError, call, useKey, type Defs } from "../api/client";
import { has, locale, locales, setLocale, t, tCode, type Locale } from "../i18n/i18n";
import { can } from "../roles";
import { href, useRoute } from "../route";
import { forgetKey, storedKey, storeKey } from "../session";
import { Approvals } from "./Approvals";
import { AuditLog } from "./AuditLog";
import { CampaignBuilder } from "./CampaignBuilder";
import { CampaignPage } from "./CampaignPage";
import { Campaigns } from "./Campaigns";
import { Events } from "./Events";
import { Liability } from "./Liability";
import { FindMember } from "./FindMember";
import { Keys } from "./Keys";
import { MemberPage } from "./MemberPage";
import { Settings } from "./Settings";
import { SignIn } from "./SignIn";
import { Webhooks } from "./Webhooks";

export type Me = Defs["v1GetCallerKeyResponse"];

export function App() {
  const [, setLang] = useState<Locale>(locale());
  const [me, setMe] = useState<Me | null>(null);
  const [restoring, setRestoring] = useState(() => storedKey() !== "");
  const [restoreError, setRestoreError] = useState("");

  const signOut = () => {
    forgetKey();
    useKey("", () => {});
    setMe(null);
  };

  // signIn checks the key by asking the API whose it is, and keeps it for the tab.
  const signIn = async (key: string): Promise<void> => {
    useKey(key, signOut);
    const who = await call("get", "/v1/apiKeys/self", {});
    storeKey(key);
    setMe(who);
  };

  const refreshMe = async () => {
    try {
      setMe(await call("get", "/v1/apiKeys/self", {}));
    } catch {
      // A failed refresh keeps what was shown; a 401 signs out (useKey).
    }
  };

  useEffect(() => {
    const key = storedKey();
    if (!key) return;
    // A reload signs in again with the tab's key. Only a refused key is forgotten: when
    // the server cannot be reached, the next reload tries the same key again.
    signIn(key)
      .catch((err) => (err instanceof ApiError && err.status === 401 ? signOut() : setRestoreError(errorText(err))))
      .finally(() => setRestoring(false));
  }, []);

  const switchLang = (l: Locale) => {
    setLocale(l);
    setLang(l);
  };

  if (restoring) return <p class="loading">{t("common.loading")}</p>;
  return (
    <>
      <header class="top">
        <a class="brand" href="#/">
          {t("app.title")}
        </a>
        {me && <Nav role={me.key?.role ?? ""} />}
        <span class="spacer" />
        <div class="lang">
          <label for="lang">{t("app.language")}</label>
          <select id="lang" value={locale()} onChange={(e) => switchLang((e.target as HTMLSelectElement).value as Locale)}>
            {locales.map((l) => (
              <option value={l}>{tCode("lang", l)}</option>
            ))}
          </select>
        </div>
        {me && (
          <>
            <span class="who" data-testid="who">
              <span translate={false}>{me.key?.name}</span> · {tCode("role", me.key?.role)}
            </span>
            <button type="button" class="secondary" onClick={signOut}>
              {t("app.signOut")}
            </button>
          </>
        )}
      </header>
      <main>{me ? <Screen me={me} refreshMe={refreshMe} /> : <SignIn signIn={signIn} notice={restoreError} />}</main>
    </>
  );
}

function Nav({ role }: { role: string }) {
  const route = useRoute();
  return (
    <nav aria-label={t("nav.label")}>
      {can(role, "readMembers") && (
        <a href={href({ name: "find" })} aria-current={route.name === "find" || route.name === "member" ? "page" : undefined}>
          {t("nav.members")}
        </a>
      )}
      {can(role, "listApprovals") && (
        <a href={href({ name: "approvals" })} aria-current={route.name === "approvals" ? "page" : undefined}>
          {t("nav.approvals")}
        </a>
      )}
      {can(role, "readCampaigns") && (
        <a
          href={href({ name: "campaigns" })}
          aria-current={route.name === "campaigns" || route.name === "campaign" || route.name === "newCampaign" ? "page" : undefined}
        >
          {t("nav.campaigns")}
        </a>
      )}
      {can(role, "readLiability") && (
        <a href={href({ name: "liability" })} aria-current={route.name === "liability" ? "page" : undefined}>
          {t("nav.liability")}
        </a>
      )}
      {can(role, "readAudit") && (
        <a href={href({ name: "audit" })} aria-current={route.name === "audit" ? "page" : undefined}>
          {t("nav.audit")}
        </a>
      )}
      {can(role, "readEvents") && (
        <a href={href({ name: "events" })} aria-current={route.name === "events" ? "page" : undefined}>
          {t("nav.events")}
        </a>
      )}
      {can(role, "manageWebhooks") && (
        <a href={href({ name: "webhooks" })} aria-current={route.name === "webhooks" ? "page" : undefined}>
          {t("nav.webhooks")}
        </a>
      )}
      {can(role, "editSettings") && (
        <a href={href({ name: "settings" })} aria-current={route.name === "settings" ? "page" : undefined}>
          {t("nav.settings")}
        </a>
      )}
      {can(role, "manageKeys") && (
        <a href={href({ name: "keys" })} aria-current={route.name === "keys" ? "page" : undefined}>
          {t("nav.keys")}
        </a>
      )}
    </nav>
  );
}

function Screen({ me, refreshMe }: { me: Me; refreshMe: () => Promise<void> }) {
  const route = useRoute();
  const role = me.key?.role ?? "";
  if (route.name === "approvals" && can(role, "listApprovals")) return <Approvals role={role} />;
  if (route.name === "keys" && can(role, "manageKeys")) return <Keys />;
  if (route.name === "campaigns" && can(role, "readCampaigns")) return <Campaigns role={role} />;
  if (route.name === "newCampaign" && can(role, "manageCampaigns")) return <CampaignBuilder />;
  if (route.name === "campaign" && can(role, "readCampaigns"))
    return <CampaignPage key={route.campaignId} campaignId={route.campaignId} role={role} />;
  if (route.name === "liability" && can(role, "readLiability")) return <Liability />;
  if (route.name === "audit" && can(role, "readAudit")) return <AuditLog />;
  if (route.name === "events" && can(role, "readEvents")) return <Events />;
  if (route.name === "webhooks" && can(role, "manageWebhooks")) return <Webhooks />;
  if (route.name === "settings" && can(role, "editSettings")) return <Settings />;
  // A role without the member desk starts on its own first screen.
  if (!can(role, "readMembers")) {
    if (can(role, "readCampaigns")) return <Campaigns role={role} />;
    return <p class="notice">{t("app.nothingForRole")}</p>;
  }
  // Keyed by member: another member starts with fresh filters and forms.
  if (route.name === "member") return <MemberPage key={route.memberId} memberId={route.memberId} me={me} refreshMe={refreshMe} />;
  return <FindMember />;
}

/** errorText is what to show for a failed call: the API's message, or a generic one. */
export function errorText(err: unknown): string {
  if (err instanceof ApiError) {
    if (err.status === 401) return t("error.unauthenticated");
    if (err.status === 403) return t("error.forbidden");
    if (err.status === 404) return t("error.notFound");
    const key = `apiError.${err.reason}`;
    return has(key) ? t(key) : err.message;
  }
  return t("error.network");
}
