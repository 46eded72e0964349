// queue-processor: claims due jobs in batches, fetches each job's data from the market-data
// provider through its data-type module, upserts it, and reports every outcome to the queue,
// always under the lease the claim handed out:
//   success                                  -> complete_queue_jobs (once per batch, actual bytes)
//   429 / 408 / 5xx / timeout / network / malformed body -> fail_queue_job(retryable)
//   other 4xx, unknown symbol or type        -> fail_queue_job(permanent)
//   deadlock / serialization failure on the upsert (after 3 retries), the run's own time
//   budget running out mid-call, no call permit (budget, breaker) -> reset_job_immediate (no
//   attempt spent)
// Every provider call is made only with a call permit (_shared/permits.ts): the call budget is
// spent when calls are made, and a worker that lost a job's lease can neither call for it nor
// write its rows. A 429 or an open breaker stops claiming for this run; a spent call budget
// only when no permit is granted before the run's time for taking jobs ends (a permit waits
// for the budget's window to free calls).
// At the end record_processor_result feeds the breaker the run's calls and failed calls.
// Only the service role may call it (the pg_cron / ticker call sends the service-role key).
//
// One run at a time (_shared/run_lease.ts): a run holds the processor under a lease, or waits
// a few seconds for a run that is about to end, or returns at once ("busy"). How it drains is
// the start's choice (body `drain`, which the loop takes from settings.processor):
//   once       (the default of a call without it) claims until nothing is due, then returns;
//   continuous takes jobs for `runSeconds`: when nothing is due it polls for the next due job
//              (one indexed read every processor_idle_poll_ms) instead of returning, so that a
//              job queued while it runs waits for the poll, not for the next start.
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
import { type Holder, LeaseLost, PermitDenied, Permits } from "../_shared/permits.ts";
import { settleLimited } from "../_shared/pool.ts";
import { RunLease } from "../_shared/run_lease.ts";
import {
  describeError,
  errorKind,
  errorResponse,
  json,
  methodNotAllowed,
  preflight,
} from "../_shared/responses.ts";
import { route } from "../_shared/router.ts";
import type { ApiConfig, DataTypeModule, JobDeps, Row } from "../_shared/types/common.ts";

export type Drain = "continuous" | "once";

export interface Settings {
  batchSize: number;
  concurrency: number;
  /** The run's whole time: it takes jobs until one call timeout (at most half of it) is left. */
  budgetMs: number;
  timeoutMs: number;
  api: ApiConfig;
  /** How the run drains (default once). */
  drain?: Drain;
}

/**
 * A continuous run takes jobs this long past its run time, so that the next start (which
 * waits for it, see run_lease.ts) still finds it running, whatever the schedule's jitter:
 * the queue is never without a run between the two.
 */
export const HANDOVER_MS = 3000;

interface Job extends Holder {
  id: string; // bigint: postgres.js hands int8 over as a string, and so do we
  symbol: string;
  data_type: string;
  lease: string;
}

type Outcome =
  | { kind: "done"; bytes: number }
  | { kind: "fail"; reason: string; retryable: boolean; rateLimited: boolean; bytes: number }
  | { kind: "reset"; reason: string; bytes: number };

export interface Summary {
  claimed: number;
  completed: number;
  failed: number;
  retried: number;
  reset: number;
  /** Acknowledgements the queue refused: the job was no longer held under this run's lease. */
  refused: number;
  bytes: number;
  /** Provider calls made (each with a permit), and how many of them failed on the provider's side. */
  calls: number;
  provider_failures: number;
  /** empty (a run "once" found nothing due), budget (its time is up), busy (another run holds the
   * processor), stopped (a stop was asked for, or its lease lapsed), or what the provider or the
   * call budget said. */
  stopped_by: "empty" | "budget" | "rate_limited" | "calls" | "breaker" | "busy" | "stopped";
  drain: Drain;
  /** Idle polls for a due job (continuous runs). */
  polls: number;
  ms: number;
}

/** The calls of one run, as the breaker judges them. */
interface CallCounts {
  calls: number;
  failures: number;
  firstError: string | null;
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
    return errorResponse(500, "MARKET_DATA_BASE_URL and MARKET_DATA_API_KEY must be set for this function");
  }
  let settings: Settings;
  try {
    settings = settingsFrom(await optionalBody(req), env);
  } catch (err) {
    return errorResponse(400, err instanceof SettingError ? err.message : "the body must be a JSON object");
  }
  try {
    return json(await runProcessor(db(), settings));
  } catch (err) {
    // The details (hosts, ports, SQL) go to the function's log only; the answer names the kind.
    console.error(`queue-processor: run failed: ${redact(describeError(err), settings.api.apiKey)}`);
    return errorResponse(500, `the run failed (${errorKind(err)}); see the function's log`);
  }
}

// ---------------------------------------------------------------------------------------
// Settings: environment defaults, overridable per call by the body.

/** A setting the caller got wrong: its message is safe to send back. */
class SettingError extends Error {}

async function optionalBody(req: Request): Promise<Record<string, unknown>> {
  const text = await req.text();
  if (text.length > MAX_BODY) throw new SettingError(`body larger than ${MAX_BODY} bytes`);
  if (text.trim() === "") return {};
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new SettingError("the body is not JSON");
  }
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw new SettingError("the body must be a JSON object");
  }
  return body as Record<string, unknown>;
}

function intSetting(value: unknown, name: string, fallback: number, min: number, max: number): number {
  // Numbers from the body, numeric strings from the environment; nothing else (true, [5]).
  const given = typeof value === "number" || (typeof value === "string" && value.trim() !== "");
  if (value !== undefined && value !== null && value !== "" && !given) {
    throw new SettingError(`${name} must be an integer`);
  }
  const v = given ? Number(value) : fallback;
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new SettingError(`${name} must be an integer in ${min}..${max}`);
  }
  return v;
}

export function settingsFrom(body: Record<string, unknown>, env = Deno.env.toObject()): Settings {
  const baseUrl = env.MARKET_DATA_BASE_URL ?? "";
  const apiKey = env.MARKET_DATA_API_KEY ?? "";
  if (!baseUrl || !apiKey) throw new SettingError("MARKET_DATA_BASE_URL and MARKET_DATA_API_KEY must be set");
  const drain = body.drain ?? "once";
  if (drain !== "continuous" && drain !== "once") throw new SettingError('drain must be "continuous" or "once"');
  const timeoutMs = intSetting(
    env.MARKET_DATA_TIMEOUT_MS,
    "MARKET_DATA_TIMEOUT_MS",
    DEFAULT_TIMEOUT_MS,
    1,
    120_000,
  );
  // A continuous run takes jobs for runSeconds (and the handover), then has one call timeout
  // for the calls it holds; PROCESSOR_TIME_BUDGET_MS is a run "once"'s. The body's
  // timeBudgetMs is the whole run's time either way.
  const runSeconds = intSetting(body.runSeconds, "runSeconds", 60, 1, 110);
  const fallback = drain === "continuous" ? runSeconds * 1000 + HANDOVER_MS + timeoutMs : 50_000;
  return {
    batchSize: intSetting(body.batchSize ?? env.PROCESSOR_BATCH_SIZE, "batchSize", 10, 1, 100),
    budgetMs: intSetting(
      body.timeBudgetMs ?? (drain === "once" ? env.PROCESSOR_TIME_BUDGET_MS : undefined),
      "timeBudgetMs",
      fallback,
      100,
      400_000,
    ),
    concurrency: intSetting(env.PROCESSOR_CONCURRENCY, "PROCESSOR_CONCURRENCY", 5, 1, 50),
    timeoutMs,
    api: { baseUrl, apiKey },
    drain,
  };
}

// ---------------------------------------------------------------------------------------
// The run

export async function runProcessor(sql: Sql, settings: Settings): Promise<Summary> {
  const started = performance.now();
  const deadline = started + settings.budgetMs;
  const drain = settings.drain ?? "once";
  // Jobs are taken until one call timeout is left, so that the last batch ends within the budget.
  const claimEnd = deadline - Math.min(settings.timeoutMs, settings.budgetMs / 2);
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
    refused: 0,
    bytes: 0,
    calls: 0,
    provider_failures: 0,
    stopped_by: "empty",
    drain,
    polls: 0,
    ms: 0,
  };
  const counts: CallCounts = { calls: 0, failures: 0, firstError: null };
  let lease: RunLease | null;
  let slackMs: number;
  try {
    const [cfg] = await sql<{ slack_ms: number; idle_poll_ms: number }[]>`
      SELECT call_slack_ms AS slack_ms, processor_idle_poll_ms AS idle_poll_ms
      FROM ${sql(qualified("queue_config"))}`;
    slackMs = Number(cfg.slack_ms);
    lease = await RunLease.take(sql, worker, {
      endsAt: claimEnd,
      pollMs: Number(cfg.idle_poll_ms ?? 200),
      signal: budget.signal,
    });
  } catch (err) {
    clearTimeout(budgetTimer);
    throw err;
  }
  if (!lease) {
    clearTimeout(budgetTimer);
    s.stopped_by = "busy";
    s.ms = Math.round(performance.now() - started);
    return s;
  }
  try {
    // A request waiting for call budget waits no longer than a call can still be made and
    // answered within the run's time.
    const permits = new Permits(sql, {
      slackMs,
      waitUntilMs: claimEnd,
      signal: budget.signal,
    });
    while (true) {
      // A batch needs up to one call timeout to finish: do not claim what cannot be done. At
      // the end of its time the run lets go of the processor even with a batch in flight.
      if (!lease.held) {
        s.stopped_by = lease.ended ? "budget" : "stopped";
        break;
      }
      const jobs = await sql<Job[]>`
        SELECT id, symbol, data_type, lease::text
        FROM ${sql(qualified("get_queue_batch"))}(${worker}, ${settings.batchSize})`;
      if (jobs.length === 0) {
        if (drain === "once") {
          s.stopped_by = "empty";
          break;
        }
        s.polls += await lease.waitForDueJobs();
        continue;
      }
      s.claimed += jobs.length;
      const settled = await settleLimited(
        jobs,
        settings.concurrency,
        (job) => processJob(sql, job, settings, permits, counts, budget.signal),
      );
      const outcomes = settled.map((r) => r.status === "fulfilled" ? r.value : internalFailure(r.reason, 0));
      await report(sql, jobs, outcomes, s);
      if (outcomes.some((o) => o.kind === "fail" && o.rateLimited)) {
        s.stopped_by = "rate_limited";
        break;
      }
      if (permits.stoppedBy) {
        s.stopped_by = permits.stoppedBy;
        break;
      }
    }
  } finally {
    clearTimeout(budgetTimer);
    await lease.release();
  }
  s.calls = counts.calls;
  s.provider_failures = counts.failures;
  await sql`SELECT ${sql(qualified("record_processor_result"))}(
    true, ${counts.firstError}, ${counts.calls}::int, ${counts.failures}::int)`;
  s.ms = Math.round(performance.now() - started);
  return s;
}

/** Fetch, validate, map and write one job; never throws, returns what to tell the queue. */
async function processJob(
  sql: Sql,
  job: Job,
  settings: Settings,
  permits: Permits,
  counts: CallCounts,
  signal: AbortSignal,
): Promise<Outcome> {
  let bytes = 0;
  const deps: JobDeps = {
    symbol: job.symbol,
    api: settings.api,
    sql,
    get: async (url, endpoint) => {
      await permits.take(job);
      counts.calls++;
      try {
        const res = await getJson(url, endpoint, {
          timeoutMs: settings.timeoutMs,
          signal,
          apiKey: settings.api.apiKey,
          onBytes: (n) => (bytes += n),
        });
        return res.data;
      } catch (err) {
        if (err instanceof MarketDataError && err.providerFailure) {
          counts.failures++;
          counts.firstError ??= redact(err.message, settings.api.apiKey);
        }
        throw err;
      }
    },
  };
  try {
    const module = route(job.data_type);
    const rows = await module.fetchRows(deps);
    return await write(sql, module, rows, job, bytes);
  } catch (err) {
    return classify(err, bytes, settings.api.apiKey);
  }
}

/** The upsert under the job's lease, retried on deadlock / serialization failure; then a reset. */
async function write(sql: Sql, module: DataTypeModule, rows: Row[], job: Job, bytes: number): Promise<Outcome> {
  for (let attempt = 1;; attempt++) {
    try {
      await module.upsert(sql, rows, job);
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
  // Not the job's fault, or no call was made: back to the queue without spending an attempt.
  // A lost lease is reported the same way; the queue refuses it (and logs it, and accounts
  // the bytes), since the job is someone else's now.
  if (err instanceof BudgetExhausted || err instanceof PermitDenied || err instanceof LeaseLost) {
    return { kind: "reset", reason: err.message, bytes };
  }
  if (err instanceof MarketDataError) {
    return {
      kind: "fail",
      reason: redact(err.message, apiKey),
      retryable: err.retryable,
      rateLimited: err instanceof RateLimited,
      bytes,
    };
  }
  return internalFailure(err, bytes, apiKey);
}

/**
 * Anything else (the table refused the rows, a lost connection, a bug): retry later. Only an
 * answer that cannot succeed again (a 4xx, an unknown symbol or type) fails a job for good;
 * rows the table refused today may be rows it takes tomorrow.
 */
function internalFailure(err: unknown, bytes: number, apiKey = ""): Outcome {
  const what = isDataError(err) ? "rows refused by the database" : "internal error";
  const reason = `${what}: ${redact(describeError(err), apiKey)}`;
  return { kind: "fail", reason, retryable: true, rateLimited: false, bytes };
}

// ---------------------------------------------------------------------------------------
// Reporting to the queue, under the claim's lease

async function report(sql: Sql, jobs: Job[], outcomes: Outcome[], s: Summary): Promise<void> {
  const done: { id: string; lease: string; bytes: number }[] = [];
  for (const [i, o] of outcomes.entries()) {
    s.bytes += o.bytes;
    if (o.kind === "done") done.push({ id: jobs[i].id, lease: jobs[i].lease, bytes: o.bytes });
  }
  if (done.length) {
    const completed = await sql`
      SELECT * FROM ${sql(qualified("complete_queue_jobs"))}(
        ARRAY(SELECT v::bigint FROM jsonb_array_elements_text(${
      sql.json(done.map((d) => d.id))
    }) WITH ORDINALITY AS a(v, n) ORDER BY n),
        ARRAY(SELECT v::bigint FROM jsonb_array_elements_text(${
      sql.json(done.map((d) => d.lease))
    }) WITH ORDINALITY AS a(v, n) ORDER BY n),
        ARRAY(SELECT v::bigint FROM jsonb_array_elements_text(${
      sql.json(done.map((d) => d.bytes))
    }) WITH ORDINALITY AS a(v, n) ORDER BY n))`;
    s.completed += completed.length;
    s.refused += done.length - completed.length;
  }
  for (const [i, o] of outcomes.entries()) {
    const { id, lease } = jobs[i];
    if (o.kind === "fail") {
      const [r] = await sql`
        SELECT ${sql(qualified("fail_queue_job"))}(
          ${id}::bigint, ${lease}::bigint, ${o.reason}, ${o.retryable}, ${o.bytes}::bigint) AS outcome`;
      if (r.outcome === "retrying") s.retried++;
      else if (r.outcome === "failed") s.failed++;
      else s.refused++;
    } else if (o.kind === "reset") {
      const [r] = await sql`
        SELECT ${sql(qualified("reset_job_immediate"))}(
          ${id}::bigint, ${lease}::bigint, ${o.reason}, ${o.bytes}::bigint) AS ok`;
      if (r.ok) s.reset++;
      else s.refused++;
    }
  }
}
