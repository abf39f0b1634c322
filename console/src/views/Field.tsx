// The form fields the API's errors name: the error sits under its field, which says
// it is invalid and is described by it (aria-invalid, aria-describedby).
import type { ComponentChildren } from "preact";
import { ApiError } from "../api/client";
import { t, tField } from "../i18n/i18n";
import { violationsFor } from "../logic";

/** fieldMessage is what the error says about a field (or the items of a list typed
 * in it), in the viewer's language; undefined when it names nothing there. */
export function fieldMessage(err: unknown, name: string): string | undefined {
  if (!(err instanceof ApiError)) return undefined;
  const found = violationsFor(err.fields, name);
  if (found.length === 0) return undefined;
  return found
    .map((v) => (v.item === null ? tField(v.description) : t("form.item", { n: v.item + 1, error: tField(v.description) ?? "" })))
    .join(t("form.separator"));
}

/** invalid are the attributes of an input whose error may be shown under it. */
export function invalid(id: string, msg: string | undefined) {
  return { id, "aria-invalid": msg ? ("true" as const) : undefined, "aria-describedby": msg ? `${id}-error` : undefined };
}

/** FieldError is the error under a field, if any. */
export function FieldError({ id, msg }: { id: string; msg: string | undefined }) {
  return msg ? (
    <p id={`${id}-error`} class="field-error" data-testid={`${id}-error`}>
      {msg}
    </p>
  ) : null;
}

/** Labelled is one labelled field with its error. */
export function Labelled({ id, label, msg, children }: { id: string; label: string; msg: string | undefined; children: ComponentChildren }) {
  return (
    <div class="field">
      <label for={id}>{label}</label>
      {children}
      <FieldError id={id} msg={msg} />
    </div>
  );
}
