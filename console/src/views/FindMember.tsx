import { useState } from "preact/hooks";
import { t } from "../i18n/i18n";
import { go } from "../route";

// memberIdPattern is the API's rule for a member id (api: Member.member_id).
const memberIdPattern = /^[A-Za-z0-9._:-]{1,64}$/;

export function FindMember() {
  const [id, setId] = useState("");
  const [error, setError] = useState("");

  const submit = (e: Event) => {
    e.preventDefault();
    const v = id.trim();
    if (!memberIdPattern.test(v)) {
      setError(t("find.invalid"));
      return;
    }
    go({ name: "member", memberId: v });
  };

  return (
    <form class="card narrow" role="search" onSubmit={submit} aria-labelledby="find-title">
      <h1 id="find-title">{t("find.title")}</h1>
      <label for="member-id">{t("find.memberId")}</label>
      <div class="row">
        <input
          id="member-id"
          value={id}
          autocomplete="off"
          aria-invalid={error ? "true" : undefined}
          aria-describedby={error ? "member-id-error" : "member-id-hint"}
          onInput={(e) => setId((e.target as HTMLInputElement).value)}
        />
        <button type="submit">{t("find.submit")}</button>
      </div>
      {error ? (
        <p id="member-id-error" class="field-error" role="alert">
          {error}
        </p>
      ) : (
        <p id="member-id-hint" class="hint">
          {t("find.hint")}
        </p>
      )}
    </form>
  );
}
