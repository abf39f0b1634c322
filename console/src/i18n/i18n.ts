// Translations and locale formatting. Every string the console shows comes from a
// catalogue (en.json, zh-CN.json, the same keys: test/i18n.test.mjs checks it), and
// every number and date is formatted for the chosen locale.
import en from "./en.json";
import zh from "./zh-CN.json";
import { fieldMessage, pickLocale, type Locale } from "../logic";

export type { Locale };

export type Key = keyof typeof en;
export const locales: Locale[] = ["en", "zh-CN"];

const catalogues: Record<Locale, Record<Key, string>> = { en, "zh-CN": zh };
const storageKey = "loyalty-console.locale";

let current: Locale = pickLocale(localStorage.getItem(storageKey), navigator.languages ?? []);

export function locale(): Locale {
  return current;
}

/** setLocale switches the language and remembers it for the next visit. */
export function setLocale(l: Locale): void {
  current = l;
  localStorage.setItem(storageKey, l);
  document.documentElement.lang = l;
}
document.documentElement.lang = current;

/** t translates key, filling {name} placeholders from params. */
export function t(key: Key, params?: Record<string, string | number>): string {
  const s = catalogues[current][key] ?? key;
  return params ? s.replace(/\{(\w+)\}/g, (m, n: string) => (n in params ? String(params[n]) : m)) : s;
}

/** has tells whether key is in the catalogue (codes from the API: reasons, kinds). */
export function has(key: string): key is Key {
  return key in catalogues.en;
}

/** tCode translates a code the API answers (kind.EARN, reason.LATE_DELIVERY), or shows
 * the code itself when the catalogue does not know it yet. */
export function tCode(prefix: string, code: string | undefined): string {
  if (!code) return "";
  const key = `${prefix}.${code}`;
  return has(key) ? t(key) : code;
}

/** points formats an int64 the API sends as a string. */
export function points(v: string | number | undefined): string {
  return new Intl.NumberFormat(current).format(BigInt(v ?? 0));
}

/** money formats minor units of a currency. */
export function money(minor: string | undefined, currency: string | undefined): string {
  if (!currency) return points(minor);
  const f = new Intl.NumberFormat(current, { style: "currency", currency });
  const digits = f.resolvedOptions().maximumFractionDigits ?? 2;
  return f.format(Number(minor ?? 0) / 10 ** digits);
}

/** dateTime formats an RFC 3339 instant in the viewer's time zone. */
export function dateTime(v: string | undefined): string {
  if (!v) return "";
  return new Intl.DateTimeFormat(current, { dateStyle: "medium", timeStyle: "short" }).format(new Date(v));
}

/** date formats an RFC 3339 instant as a day in the viewer's time zone. */
export function date(v: string | undefined): string {
  if (!v) return "";
  return new Intl.DateTimeFormat(current, { dateStyle: "medium" }).format(new Date(v));
}

/** tField says an API field violation in the viewer's language when it is one the
 * catalogues know, else as the API wrote it. */
export function tField(description: string | undefined): string | undefined {
  if (!description) return description;
  const m = fieldMessage(description);
  const key = m && `apiField.${m.key}`;
  return m && key && has(key) ? t(key, { value: m.value }) : description;
}
