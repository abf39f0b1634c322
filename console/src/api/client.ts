// A typed fetch over the REST gateway. Paths, parameters and answers come from
// schema.ts, which openapi-typescript generates from the served OpenAPI document
// (make console-client), so a call the API does not have does not compile.
import type { definitions, paths } from "./schema";

export type Defs = definitions;

type Method = "get" | "post" | "put" | "delete";
type Parameters<O> = O extends { parameters: infer X } ? X : Record<string, never>;
type PathOf<X> = X extends { path: infer P } ? { path: P } : { path?: undefined };
type QueryOf<X> = X extends { query: infer Q } ? { query?: Q } : { query?: undefined };
// The body parameter is named after what the REST body is: "body" for a whole
// request (body: "*"), else the field (program, policy).
type BodyOf<X> = X extends { body: infer O } ? { body: O[keyof O] } : { body?: undefined };
export type Request<O> = PathOf<Parameters<O>> & QueryOf<Parameters<O>> & BodyOf<Parameters<O>>;
export type Answer<O> = O extends { responses: { 200: { schema: infer S } } } ? S : never;

/** FieldViolation is one field an API error names, with why. */
export interface FieldViolation {
  field: string;
  description: string;
}

/** ApiError is a non-2xx answer: its HTTP status, ErrorInfo reason and fields. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
    readonly fields: FieldViolation[],
  ) {
    super(message);
  }

  /** fieldError is the description of the violation naming field, if any. */
  fieldError(field: string): string | undefined {
    return this.fields.find((f) => f.field === field)?.description;
  }
}

let bearer = "";
let onUnauthenticated: () => void = () => {};

/** useKey sets the API key every call sends, and what to do when it is refused. */
export function useKey(key: string, unauthenticated: () => void): void {
  bearer = key;
  onUnauthenticated = unauthenticated;
}

/** fill puts path parameters into a path template: {memberId} → alice. */
export function fill(template: string, vars: Record<string, unknown> | undefined): string {
  return template.replace(/\{([^}]+)\}/g, (_, name: string) => {
    const v = vars?.[name];
    if (v === undefined || v === "") throw new Error(`missing path parameter ${name}`);
    return encodeURIComponent(String(v));
  });
}

/** queryString encodes a query the way the gateway reads it: repeated fields repeat. */
export function queryString(query: Record<string, unknown> | undefined): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) {
    if (v === undefined || v === "" || v === null) continue;
    for (const item of Array.isArray(v) ? v : [v]) q.append(k, String(item));
  }
  const s = q.toString();
  return s ? `?${s}` : "";
}

/** call sends one API call and answers its decoded body, or throws ApiError. */
export async function call<P extends keyof paths, M extends Method & keyof paths[P]>(
  method: M,
  path: P,
  req: Request<paths[P][M]>,
): Promise<Answer<paths[P][M]>> {
  const r = req as { path?: Record<string, unknown>; query?: Record<string, unknown>; body?: unknown };
  const url = fill(path as string, r.path) + queryString(r.query);
  const headers: Record<string, string> = { Authorization: `Bearer ${bearer}` };
  let body: string | undefined;
  if (r.body !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(r.body);
  }
  const resp = await fetch(url, { method: method.toUpperCase(), headers, body });
  const text = await resp.text();
  const json: unknown = text ? safeJSON(text) : {};
  if (!resp.ok) {
    const err = toApiError(resp.status, json);
    if (resp.status === 401) onUnauthenticated();
    throw err;
  }
  return json as Answer<paths[P][M]>;
}

function safeJSON(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return { message: text };
  }
}

interface StatusBody {
  message?: string;
  details?: { "@type"?: string; reason?: string; fieldViolations?: FieldViolation[] }[];
}

/** toApiError reads a google.rpc.Status body: ErrorInfo's reason, BadRequest's fields. */
export function toApiError(status: number, body: unknown): ApiError {
  const b = (body ?? {}) as StatusBody;
  let reason = "";
  const fields: FieldViolation[] = [];
  for (const d of b.details ?? []) {
    if (d["@type"]?.endsWith("google.rpc.ErrorInfo")) reason = d.reason ?? "";
    if (d["@type"]?.endsWith("google.rpc.BadRequest")) fields.push(...(d.fieldViolations ?? []));
  }
  return new ApiError(status, reason, b.message ?? `HTTP ${status}`, fields);
}

/** newRequestId names one user action: a retry of it sends the same id, so a
 * double click never acts twice. */
export function newRequestId(): string {
  return `console-${crypto.randomUUID()}`;
}
