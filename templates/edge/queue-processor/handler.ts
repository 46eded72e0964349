// queue-processor: claims due jobs in batches, fetches each job's data from the market-data
// provider through its data-type module, upserts it, and reports every outcome to the queue:
//   success                      -> complete_queue_jobs (once per batch, with actual bytes)
//   429 / 5xx / timeout / network -> fail_queue_job(retryable) and a provider failure
//   4xx, unknown symbol or type, malformed JSON, rows the table refuses -> fail_queue_job(permanent)
//   deadlock / serialization failure on the upsert (after 3 retries), or the run's own time
//   budget running out mid-call   -> reset_job_immediate (no attempt spent)
// A 429 stops claiming for this run. At the end record_processor_result feeds the breaker.
// Only the service role may call it (the pg_cron / ticker call sends the service-role key).
import { db, isDataError, isTransientConflict, type Sql } from "../_shared/db.ts";
import {
  BudgetExhausted,
  DEFAULT_TIMEOUT_MS,
  getJson,
  MarketDataError,
  RateLimited,
  redact,
} from "../_shared/http.ts";
import { requestClaims } from "../_shared/jwt.ts";
import { qualified } from "../_shared/names.ts";
import { settleLimited } from "../_shared/pool.ts";
import { describeError, errorResponse, json, methodNotAllowed, preflight } from "../_shared/responses.ts";
import { route } from "../_shared/router.ts";
import type { ApiConfig, DataTypeModule, JobDeps, Row } from "../_shared/types/common.ts";

export interface Settings {
  batchSize: number;
  concurrency: number;
  budgetMs: number;
  timeoutMs: number;
  api: ApiConfig;
}

interface Job {
  id: string; // bigint: postgres.js hands int8 over as a string, and so do we
  symbol: string;
  data_type: string;
}

type Outcome =
  | { kind: "done"; bytes: number }
  | {
    kind: "fail";
    reason: string;
    retryable: boolean;
    providerFailure: boolean;
    rateLimited: boolean;
    bytes: number;
  }
  | { kind: "reset"; reason: string; bytes: number };

export interface Summary {
  claimed: number;
  completed: number;
  failed: number;
  retried: number;
  reset: number;
  bytes: number;
  provider_failures: number;
  stopped_by: "empty" | "budget" | "rate_limited";
  ms: number;
}

const WRITE_RETRIES = 3;
const MAX_BODY = 4096;

export default async function handler(req: Request): Promise<Response> {
  if (req.method === "OPTIONS") return preflight();
  if (req.method !== "POST") return methodNotAllowed(["POST"]);
  const claims = await requestClaims(req);
  if (!claims) return json({ code: 401, message: "Missing or invalid authorization" }, 401);
  if (claims.role !== "service_role") {
    return errorResponse(403, "the queue processor runs with the service-role key only");
  }

  const env = Deno.env.toObject();
  if (!env.MARKET_DATA_BASE_URL || !env.MARKET_DATA_API_KEY) {
    return json({ error: "MARKET_DATA_BASE_URL and MARKET_DATA_API_KEY must be set for this function" }, 500);
  }
  let settings: Settings;
  try {
    settings = settingsFrom(await optionalBody(req), env);
  } catch (err) {
    return errorResponse(400, describeError(err));
  }
  try {
    return json(await runProcessor(db(), settings));
  } catch (err) {
    return json({ error: redact(describeError(err), settings.api.apiKey) }, 500);
  }
}

// ---------------------------------------------------------------------------------------
// Settings: environment defaults, overridable per call by the body.

async function optionalBody(req: Request): Promise<Record<string, unknown>> {
  const text = await req.text();
  if (text.length > MAX_BODY) throw new Error(`body larger than ${MAX_BODY} bytes`);
  if (text.trim() === "") return {};
  const body = JSON.parse(text);
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw new Error("body must be a JSON object");
  }
  return body;
}

function intSetting(value: unknown, name: string, fallback: number, min: number, max: number): number {
  // Numbers from the body, numeric strings from the environment; nothing else (true, [5]).
  const given = typeof value === "number" || (typeof value === "string" && value.trim() !== "");
  if (value !== undefined && value !== null && value !== "" && !given) {
    throw new Error(`${name} must be an integer`);
  }
  const v = given ? Number(value) : fallback;
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new Error(`${name} must be an integer in ${min}..${max}`);
  }
  return v;
}

export function settingsFrom(body: Record<string, unknown>, env = Deno.env.toObject()): Settings {
  const baseUrl = env.MARKET_DATA_BASE_URL ?? "";
  const apiKey = env.MARKET_DATA_API_KEY ?? "";
  if (!baseUrl || !apiKey) throw new Error("MARKET_DATA_BASE_URL and MARKET_DATA_API_KEY must be set");
  return {
    batchSize: intSetting(body.batchSize ?? env.PROCESSOR_BATCH_SIZE, "batchSize", 10, 1, 100),
    budgetMs: intSetting(
      body.timeBudgetMs ?? env.PROCESSOR_TIME_BUDGET_MS,
      "timeBudgetMs",
      50_000,
      100,
      400_000,
    ),
    concurrency: intSetting(env.PROCESSOR_CONCURRENCY, "PROCESSOR_CONCURRENCY", 5, 1, 50),
    timeoutMs: intSetting(
      env.MARKET_DATA_TIMEOUT_MS,
      "MARKET_DATA_TIMEOUT_MS",
      DEFAULT_TIMEOUT_MS,
      1,
      120_000,
    ),
    api: { baseUrl, apiKey },
  };
}

// ---------------------------------------------------------------------------------------
// The run

export async function runProcessor(sql: Sql, settings: Settings): Promise<Summary> {
  const started = performance.now();
  const deadline = started + settings.budgetMs;
  // Aborts calls still in flight when the budget ends, so the run returns on time even
  // when the provider hangs with a longer timeout than the budget has left.
  const budget = new AbortController();
  const budgetTimer = setTimeout(() => budget.abort(), settings.budgetMs);
  const worker = `edge-${crypto.randomUUID().slice(0, 8)}`;
  const s: Summary = {
    claimed: 0,
    completed: 0,
    failed: 0,
    retried: 0,
    reset: 0,
    bytes: 0,
    provider_failures: 0,
    stopped_by: "empty",
    ms: 0,
  };
  let firstProviderError: string | null = null;
  try {
    while (true) {
      // A batch needs up to one call timeout to finish: do not claim what cannot be done
      // (claimed jobs count against the call budget).
      const left = deadline - performance.now();
      if (left < Math.min(settings.timeoutMs, settings.budgetMs / 2)) {
        s.stopped_by = "budget";
        break;
      }
      const jobs = await sql<Job[]>`
        SELECT id, symbol, data_type FROM ${sql(qualified("get_queue_batch"))}(${worker}, ${settings.batchSize})`;
      if (jobs.length === 0) {
        s.stopped_by = "empty";
        break;
      }
      s.claimed += jobs.length;
      const settled = await settleLimited(
        jobs,
        settings.concurrency,
        (job) => processJob(sql, job, settings, budget.signal),
      );
      const outcomes = settled.map((r) => r.status === "fulfilled" ? r.value : internalFailure(r.reason, 0));
      await report(sql, jobs, outcomes, s);
      for (const o of outcomes) {
        if (o.kind === "fail" && o.providerFailure) firstProviderError ??= o.reason;
      }
      if (outcomes.some((o) => o.kind === "fail" && o.rateLimited)) {
        s.stopped_by = "rate_limited";
        break;
      }
    }
  } finally {
    clearTimeout(budgetTimer);
  }
  await sql`SELECT ${sql(qualified("record_processor_result"))}(${s.provider_failures === 0}, ${firstProviderError})`;
  s.ms = Math.round(performance.now() - started);
  return s;
}

/** Fetch, validate, map and write one job; never throws, returns what to tell the queue. */
async function processJob(sql: Sql, job: Job, settings: Settings, signal: AbortSignal): Promise<Outcome> {
  let bytes = 0;
  const deps: JobDeps = {
    symbol: job.symbol,
    api: settings.api,
    sql,
    get: async (url, endpoint) => {
      const res = await getJson(url, endpoint, {
        timeoutMs: settings.timeoutMs,
        signal,
        apiKey: settings.api.apiKey,
        onBytes: (n) => (bytes += n),
      });
      return res.data;
    },
  };
  try {
    const module = route(job.data_type);
    const rows = await module.fetchRows(deps);
    return await write(sql, module, rows, bytes);
  } catch (err) {
    return classify(err, bytes, settings.api.apiKey);
  }
}

/** The upsert, retried on deadlock / serialization failure; after that, a reset. */
async function write(sql: Sql, module: DataTypeModule, rows: Row[], bytes: number): Promise<Outcome> {
  for (let attempt = 1;; attempt++) {
    try {
      await module.upsert(sql, rows);
      return { kind: "done", bytes };
    } catch (err) {
      if (!isTransientConflict(err)) throw err;
      if (attempt > WRITE_RETRIES) {
        return {
          kind: "reset",
          reason: `upsert into ${module.spec.table} kept conflicting: ${describeError(err)}`,
          bytes,
        };
      }
      // Jitter, so that the two sides of a deadlock do not collide again.
      await new Promise((r) => setTimeout(r, 20 * attempt + Math.random() * 50));
    }
  }
}

function classify(err: unknown, bytes: number, apiKey: string): Outcome {
  if (err instanceof BudgetExhausted) return { kind: "reset", reason: err.message, bytes };
  if (err instanceof MarketDataError) {
    return {
      kind: "fail",
      reason: redact(err.message, apiKey),
      retryable: err.retryable,
      providerFailure: err.providerFailure,
      rateLimited: err instanceof RateLimited,
      bytes,
    };
  }
  if (isDataError(err)) {
    // The table refused the rows (a value out of range, a check): retrying cannot help.
    return {
      kind: "fail",
      reason: `rows refused by the database: ${describeError(err)}`,
      retryable: false,
      providerFailure: false,
      rateLimited: false,
      bytes,
    };
  }
  return internalFailure(err, bytes, apiKey);
}

/** Anything else (a lost connection, a bug): retry later, and it is not the provider's fault. */
function internalFailure(err: unknown, bytes: number, apiKey = ""): Outcome {
  const reason = `internal error: ${redact(describeError(err), apiKey)}`;
  return { kind: "fail", reason, retryable: true, providerFailure: false, rateLimited: false, bytes };
}

// ---------------------------------------------------------------------------------------
// Reporting to the queue

async function report(sql: Sql, jobs: Job[], outcomes: Outcome[], s: Summary): Promise<void> {
  const doneIds: string[] = [];
  const doneBytes: number[] = [];
  for (const [i, o] of outcomes.entries()) {
    s.bytes += o.bytes;
    if (o.kind === "done") {
      doneIds.push(jobs[i].id);
      doneBytes.push(o.bytes);
    }
  }
  if (doneIds.length) {
    const completed = await sql`
      SELECT * FROM ${sql(qualified("complete_queue_jobs"))}(
        ARRAY(SELECT v::bigint FROM jsonb_array_elements_text(${
      sql.json(doneIds)
    }) WITH ORDINALITY AS a(v, n) ORDER BY n),
        ARRAY(SELECT v::bigint FROM jsonb_array_elements_text(${
      sql.json(doneBytes)
    }) WITH ORDINALITY AS a(v, n) ORDER BY n))`;
    s.completed += completed.length;
  }
  for (const [i, o] of outcomes.entries()) {
    const id = jobs[i].id;
    if (o.kind === "fail") {
      if (o.providerFailure) s.provider_failures++;
      const [r] = await sql`
        SELECT ${sql(qualified("fail_queue_job"))}(${id}::bigint, ${o.reason}, ${o.retryable}, ${o.bytes}::bigint) AS outcome`;
      if (r.outcome === "retrying") s.retried++;
      else if (r.outcome === "failed") s.failed++;
    } else if (o.kind === "reset") {
      const [r] =
        await sql`SELECT ${sql(qualified("reset_job_immediate"))}(${id}::bigint, ${o.reason}, ${o.bytes}::bigint) AS ok`;
      if (r.ok) s.reset++;
    }
  }
}
