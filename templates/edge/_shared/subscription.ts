// Input checks of track- and untrack-subscription: everything is validated here, before the
// database is touched, so malformed or hostile input never reaches SQL (and never counts
// against the user's rate limit).
import { requestClaims } from "./jwt.ts";
import { errorKind, errorResponse, json, methodNotAllowed, preflight } from "./responses.ts";

export const MAX_BODY_BYTES = 4096;
export const MAX_DATA_TYPES = 11;
// The ticker-symbol rule of toolkit.rules (a test holds the two, and SQL's, to one table of cases).
export const SYMBOL = /^[A-Z0-9][A-Z0-9.^-]{0,11}$/;
export const SYMBOL_RULE = "1 to 12 of A-Z, 0-9, dot, dash and caret, starting with a letter or a digit";
export const DATA_TYPE = /^[a-z][a-z0-9-]{0,40}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export type Checked<T> = { ok: true; value: T } | { ok: false; error: string };

export interface TrackInput {
  symbol: string;
  dataTypes: string[];
}

/**
 * The body as text, or null when it is larger than `limit` bytes: read as a stream and cut
 * off at the limit, so a huge body is never buffered whole.
 */
export async function readBody(req: Request, limit = MAX_BODY_BYTES): Promise<string | null> {
  const declared = Number(req.headers.get("content-length") ?? "0");
  if (declared > limit) {
    await req.body?.cancel();
    return null;
  }
  if (!req.body) return "";
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel();
      return null;
    }
    chunks.push(value);
  }
  const all = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.byteLength;
  }
  return new TextDecoder().decode(all);
}

function parseObject(text: string): Checked<Record<string, unknown>> {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return { ok: false, error: "the body is not JSON" };
  }
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    return { ok: false, error: "the body must be a JSON object" };
  }
  return { ok: true, value: body as Record<string, unknown> };
}

/** The one message for a refused symbol (the same as toolkit.rules and public.symbol_error). */
export function symbolMessage(symbol: string): string {
  const shown = symbol.length > 40 ? symbol.slice(0, 40) + "..." : symbol;
  return `'${shown.replaceAll("'", "''")}' is not a ticker symbol (${SYMBOL_RULE})`;
}

export function checkSymbol(value: unknown): Checked<string> {
  if (typeof value !== "string") return { ok: false, error: "symbol must be a string" };
  const symbol = value.trim().toUpperCase();
  if (!SYMBOL.test(symbol)) {
    return { ok: false, error: symbolMessage(value) };
  }
  return { ok: true, value: symbol };
}

export function checkDataTypes(value: unknown): Checked<string[]> {
  if (!Array.isArray(value) || value.length === 0 || value.length > MAX_DATA_TYPES) {
    return { ok: false, error: `dataTypes must be an array of 1 to ${MAX_DATA_TYPES} data type names` };
  }
  for (const t of value) {
    if (typeof t !== "string" || !DATA_TYPE.test(t)) {
      return { ok: false, error: "dataTypes holds something that is not a data type name" };
    }
  }
  return { ok: true, value: [...new Set(value as string[])] };
}

export function checkTrack(text: string): Checked<TrackInput> {
  const body = parseObject(text);
  if (!body.ok) return body;
  const symbol = checkSymbol(body.value.symbol);
  if (!symbol.ok) return symbol;
  const dataTypes = checkDataTypes(body.value.dataTypes);
  if (!dataTypes.ok) return dataTypes;
  return { ok: true, value: { symbol: symbol.value, dataTypes: dataTypes.value } };
}

export function checkUntrack(text: string): Checked<{ symbol: string }> {
  const body = parseObject(text);
  if (!body.ok) return body;
  const symbol = checkSymbol(body.value.symbol);
  return symbol.ok ? { ok: true, value: { symbol: symbol.value } } : symbol;
}

/** The signed-in user's id: role authenticated and a uuid subject, else null. */
export function userId(claims: { sub?: unknown; role?: unknown } | null): string | null {
  if (!claims || claims.role !== "authenticated") return null;
  return typeof claims.sub === "string" && UUID.test(claims.sub) ? claims.sub : null;
}

/** How long a subscription call waits for the database before answering "not tracked". */
export function dbTimeoutMs(): number {
  return Number(Deno.env.get("SUBSCRIPTION_DB_TIMEOUT_MS") ?? 3000);
}

/**
 * The reason a page gets when the database failed: its kind only (the details, which may
 * name hosts, go to the function's log).
 */
export function unavailable(err: unknown): string {
  return `database unavailable (${errorKind(err)})`;
}

/**
 * The front half track and untrack share: the method, a signed-in user, a bounded body and its
 * checked input; an answer to send back when any of them is missing.
 */
export async function subscriptionRequest<T>(
  req: Request,
  check: (text: string) => Checked<T>,
): Promise<Response | { user: string; input: T }> {
  if (req.method === "OPTIONS") return preflight();
  if (req.method !== "POST") return methodNotAllowed(["POST"]);
  const user = userId(await requestClaims(req));
  if (!user) return json({ code: 401, message: "a signed-in user is required" }, 401);
  const text = await readBody(req);
  if (text === null) return errorResponse(400, `the body is larger than ${MAX_BODY_BYTES} bytes`);
  const input = check(text);
  if (!input.ok) return errorResponse(400, input.error);
  return { user, input: input.value };
}
