// What every data-type module shares: the module contract, request URLs, payload checks,
// value conversions (lenient: a field that is missing or of the wrong type becomes null) and
// the upsert (one statement per job, rows passed as a single jsonb parameter).
import type { Sql } from "../db.ts";
import { Malformed, UnknownSymbol } from "../http.ts";
import { qualified } from "../names.ts";
import { type Holder, LeaseLost } from "../permits.ts";

export type Item = Record<string, unknown>;
export type Value = string | number | boolean | null | Item;
export type Row = Record<string, Value>;

export type ColumnType =
  | "text"
  | "numeric"
  | "bigint"
  | "integer"
  | "date"
  | "timestamptz"
  | "boolean"
  | "jsonb";

export interface Column {
  name: string;
  type: ColumnType;
  /**
   * Keep the stored value when the new one is null: for fields the current provider
   * endpoint does not send but the legacy refresh filled (e.g. a quote's eps).
   */
  keep?: boolean;
}

export interface TableSpec {
  table: string;
  columns: readonly Column[];
  key: readonly string[];
}

export interface ApiConfig {
  baseUrl: string;
  apiKey: string;
}

/**
 * What a module needs to fetch one job's data: `get` fetches a URL's JSON, counting its
 * bytes and classifying failures (see http.ts); `sql` is for modules that read the
 * database to know what to fetch (exchange-market-status '*').
 */
export interface JobDeps {
  symbol: string;
  api: ApiConfig;
  get(url: string, endpoint: string): Promise<unknown>;
  sql: Sql;
}

/**
 * One data type: where its data comes from and where it goes. The processor calls
 * fetchRows (provider calls, validation, mapping) and then upsert (one INSERT ... ON CONFLICT
 * statement) separately, so that a deadlock while writing retries the write only, never the
 * provider calls. With a holder, the rows are written only while that claim holds the job.
 */
export interface DataTypeModule {
  dataType: string;
  endpoints: readonly string[];
  spec: TableSpec;
  fetchRows(deps: JobDeps): Promise<Row[]>;
  upsert(sql: Sql, rows: Row[], holder?: Holder): Promise<number>;
}

// ---------------------------------------------------------------------------------------
// Requests

/** `<base>/<endpoint>?<params>&apikey=<key>`; the base keeps its path (e.g. /stable). */
export function endpointUrl(api: ApiConfig, endpoint: string, params: Record<string, string> = {}): string {
  const query = new URLSearchParams({ ...params, apikey: api.apiKey });
  return `${api.baseUrl.replace(/\/+$/, "")}/${endpoint}?${query}`;
}

// ---------------------------------------------------------------------------------------
// Validation

export function malformed(endpoint: string, why: string): Malformed {
  return new Malformed(`malformed JSON from ${endpoint}: ${why}`, endpoint);
}

/**
 * The payload must be an array of objects, each with every `required` field present (not
 * null, not an empty string). An empty array means the provider does not know the symbol,
 * unless `emptyIsNoData`: for histories a known symbol may simply not have (see below).
 */
export function expectItems(
  payload: unknown,
  endpoint: string,
  symbol: string,
  required: readonly string[],
  emptyIsNoData = false,
): Item[] {
  if (!Array.isArray(payload)) {
    throw malformed(endpoint, `expected an array, got ${describeJson(payload)}`);
  }
  if (payload.length === 0 && emptyIsNoData) return [];
  if (payload.length === 0) {
    const what = symbol === "*"
      ? `${endpoint} returned no data`
      : `unknown symbol ${symbol}: ${endpoint} returned no data`;
    throw new UnknownSymbol(what, endpoint);
  }
  payload.forEach((item, i) => {
    if (item === null || typeof item !== "object" || Array.isArray(item)) {
      throw malformed(endpoint, `item ${i} is ${describeJson(item)}, not an object`);
    }
    for (const field of required) {
      const v = (item as Item)[field];
      if (v === undefined || v === null || v === "") {
        throw malformed(endpoint, `item ${i} lacks "${field}"`);
      }
    }
  });
  return payload as Item[];
}

function describeJson(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  return typeof v === "object" ? "an object" : `a ${typeof v}`;
}

/** A key field that must convert (e.g. a date); a bad one is malformed, never null. */
export function requireValue<T>(value: T | null, endpoint: string, i: number, field: string): T {
  if (value === null) throw malformed(endpoint, `item ${i} has an invalid "${field}"`);
  return value;
}

// ---------------------------------------------------------------------------------------
// Conversions: provider values to what the column accepts, or null.

export function text(v: unknown): string | null {
  if (typeof v === "string") return v === "" ? null : v;
  if (typeof v === "number" && Number.isFinite(v)) return String(v);
  return null;
}

export function num(v: unknown): number | null {
  if (typeof v === "number") return Number.isFinite(v) ? v : null;
  if (typeof v === "string" && v.trim() !== "") {
    const n = Number(v);
    return Number.isFinite(n) ? n : null;
  }
  return null;
}

/** Whole numbers for bigint columns: the provider sends some as floats or strings. */
export function whole(v: unknown): number | null {
  const n = num(v);
  return n === null ? null : Math.round(n);
}

export function int(v: unknown): number | null {
  const n = whole(v);
  return n === null || Math.abs(n) > 2_147_483_647 ? null : n;
}

export function bool(v: unknown): boolean | null {
  if (typeof v === "boolean") return v;
  if (v === "true" || v === 1) return true;
  if (v === "false" || v === 0) return false;
  return null;
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})/;

/** 'YYYY-MM-DD' (a longer date-time is cut to its date), or null. */
export function date(v: unknown): string | null {
  if (typeof v !== "string") return null;
  const m = DATE.exec(v);
  if (!m) return null;
  const d = new Date(`${m[1]}-${m[2]}-${m[3]}T00:00:00Z`);
  return Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== m[0] ? null : m[0];
}

const TIMESTAMP = /^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}(:?\d{2})?)?$/;

/** A timestamp string Postgres reads as timestamptz, or epoch seconds; else null. */
export function timestamp(v: unknown): string | null {
  if (typeof v === "number" && Number.isFinite(v) && v > 0) {
    return new Date(v * 1000).toISOString();
  }
  if (typeof v === "string" && TIMESTAMP.test(v.trim()) && date(v.trim()) !== null) return v.trim();
  return null;
}

export function object(v: unknown): Item | null {
  return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Item) : null;
}

// ---------------------------------------------------------------------------------------
// Writing

/** Rows with the same key collapse to the first one (the provider lists newest first). */
export function dedupe(rows: Row[], key: readonly string[]): Row[] {
  const seen = new Set<string>();
  return rows.filter((r) => {
    const k = JSON.stringify(key.map((c) => r[c]));
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;

/**
 * The upsert statement of a table spec (built from constants only; values go in $1), its
 * SELECT filtered by `where` when given.
 */
export function upsertSql(spec: TableSpec, where = ""): string {
  const cols = spec.columns.map((c) => ident(c.name));
  const record = spec.columns.map((c) => `${ident(c.name)} ${c.type}`).join(", ");
  const updates = spec.columns
    .filter((c) => !spec.key.includes(c.name))
    .map((c) =>
      c.keep
        ? `${ident(c.name)} = COALESCE(excluded.${ident(c.name)}, t.${ident(c.name)})`
        : `${ident(c.name)} = excluded.${ident(c.name)}`
    );
  return `INSERT INTO public.${ident(spec.table)} AS t (${cols.join(", ")}, updated_at)\n` +
    `SELECT ${
      cols.map((c) => `x.${c}`).join(", ")
    }, now() FROM jsonb_to_recordset($1::jsonb) AS x(${record})\n` +
    (where ? `${where}\n` : "") +
    `ON CONFLICT (${spec.key.map(ident).join(", ")}) DO UPDATE SET ${
      [...updates, "updated_at = now()"].join(", ")
    }`;
}

/**
 * The upsert, written only while the claim ($2 job id, $3 lease) holds the job: the job's row
 * is share-locked in the same statement, so a recovery cannot take the job from under the
 * write, and a worker whose lease ended writes nothing (`held` 0). One statement, so atomic.
 */
export function heldUpsertSql(spec: TableSpec): string {
  return `WITH held AS (SELECT 1 FROM ${qualified("api_call_queue_processing")} AS q\n` +
    `              WHERE q.id = $2::bigint AND q.lease = $3::bigint FOR SHARE),\n` +
    `written AS (${upsertSql(spec, "WHERE EXISTS (SELECT 1 FROM held)")}\nRETURNING 1)\n` +
    `SELECT (SELECT count(*) FROM held)::int AS held, (SELECT count(*) FROM written)::int AS written`;
}

/**
 * Upsert rows in one statement; returns how many were written. With a holder, only while it
 * holds the job (LeaseLost otherwise: nothing was written).
 */
export async function upsertRows(sql: Sql, spec: TableSpec, rows: Row[], holder?: Holder): Promise<number> {
  const unique = dedupe(rows, spec.key);
  if (unique.length === 0) return 0;
  if (!holder) {
    const result = await sql.unsafe(upsertSql(spec), [sql.json(unique as never)]);
    return result.count;
  }
  const [r] = await sql.unsafe(heldUpsertSql(spec), [sql.json(unique as never), holder.id, holder.lease]);
  if (!r || Number(r.held) === 0) throw new LeaseLost(holder.id);
  return Number(r.written);
}

export interface SingleEndpointModule extends DataTypeModule {
  requestUrls(api: ApiConfig, symbol: string): string[];
  parse(payload: unknown, symbol: string): Row[];
}

/**
 * A module for the common case: one endpoint called with ?symbol=, its items validated and
 * mapped to rows. `requestUrls` and `parse` are exported for the unit tests.
 */
export function singleEndpointModule(def: {
  dataType: string;
  endpoint: string;
  spec: TableSpec;
  required: readonly string[];
  /**
   * [] is a valid answer for a known symbol (a company that never paid a dividend): the job
   * completes with nothing to write instead of failing as an unknown symbol. Failing it would
   * count a failed job, an error for the type's bake verdict, on every view of such a symbol.
   */
  emptyIsNoData?: boolean;
  toRows(items: Item[], symbol: string, endpoint: string): Row[];
}): SingleEndpointModule {
  const requestUrls = (api: ApiConfig, symbol: string) => [endpointUrl(api, def.endpoint, { symbol })];
  const parse = (payload: unknown, symbol: string) =>
    def.toRows(
      expectItems(payload, def.endpoint, symbol, def.required, def.emptyIsNoData ?? false),
      symbol,
      def.endpoint,
    );
  return {
    dataType: def.dataType,
    endpoints: [def.endpoint],
    spec: def.spec,
    requestUrls,
    parse,
    async fetchRows(deps: JobDeps): Promise<Row[]> {
      const [url] = requestUrls(deps.api, deps.symbol);
      return parse(await deps.get(url, def.endpoint), deps.symbol);
    },
    upsert: (sql: Sql, rows: Row[], holder?: Holder) => upsertRows(sql, def.spec, rows, holder),
  };
}
