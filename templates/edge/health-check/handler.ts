// health-check: is the refresh system working? For uptime probes (no JWT needed).
//   200 {"status": "ok", "checks": {...}}         healthy
//   503 {"status": "unhealthy", "problems": [...]} database unreachable, jobs stuck in
//                                                  processing, or the circuit breaker open
// Every database call is bounded so the answer comes within ~5 s even when the database
// hangs. Deployed in phase 0, before the queue exists: checks whose objects are not
// deployed yet report {"deployed": false} and do not make the system unhealthy.
//
// HEALTH_CHECK_PROBE_TOKEN (an optional function secret): when set, only a request carrying it
// (header x-probe-token, or ?token= for monitors that cannot send headers) gets an answer;
// others get 401. Without it the function answers anyone.
import { db, sqlState, withTimeout } from "../_shared/db.ts";
import { describeError, errorKind, errorResponse, json, methodNotAllowed, preflight } from "../_shared/responses.ts";
import { qualified } from "../_shared/names.ts";

const PING_TIMEOUT_MS = 2000;
const QUERY_TIMEOUT_MS = 2500;
const NOT_DEPLOYED = new Set(["42P01", "42883", "3F000"]); // undefined table / function / schema

type Check = Record<string, unknown>;

export default async function handler(req: Request): Promise<Response> {
  if (req.method === "OPTIONS") return preflight();
  if (req.method !== "GET" && req.method !== "HEAD") return methodNotAllowed(["GET"]);
  if (!probeAllowed(req, Deno.env.get("HEALTH_CHECK_PROBE_TOKEN") ?? "")) {
    return errorResponse(401, "a probe token is required: send it as the x-probe-token header or the token query parameter");
  }
  const started = performance.now();
  const checks: Record<string, Check> = {};
  const problems: string[] = [];

  checks.database = await ping();
  if (checks.database.ok) {
    const [queue, quota] = await Promise.all([queueCheck(), quotaCheck()]);
    checks.queue = queue;
    checks.quota = quota;
  }
  problems.push(...findProblems(checks));

  const status = problems.length ? "unhealthy" : "ok";
  const ms = Math.round(performance.now() - started);
  return json({ status, checks, problems, ms }, problems.length ? 503 : 200);
}

async function ping(): Promise<Check> {
  const t = performance.now();
  try {
    await withTimeout(db()`SELECT 1`, PING_TIMEOUT_MS);
    return { ok: true, ms: Math.round(performance.now() - t) };
  } catch (err) {
    console.error(`health-check: database: ${describeError(err)}`);
    return { ok: false, error: errorKind(err) };
  }
}

/** Queue depth, stuck jobs, the breaker and the last processor run (the plan's queue_metrics view). */
async function queueCheck(): Promise<Check> {
  try {
    const [m] = await withTimeout(
      db()`
        SELECT pending::int, processing::int, stuck::int, failed_last_hour::int, jobs_per_minute, error_rate,
               extract(epoch FROM oldest_pending_age)::float8 AS oldest_pending_age_seconds,
               breaker_state, last_processor_run
        FROM ${db()(qualified("queue_metrics"))}`,
      QUERY_TIMEOUT_MS,
    );
    return { ok: true, ...m };
  } catch (err) {
    return notDeployedOr(err);
  }
}

async function quotaCheck(): Promise<Check> {
  try {
    const [r] = await withTimeout(db()`SELECT ${db()(qualified("get_quota_status"))}() AS q`, QUERY_TIMEOUT_MS);
    return { ok: true, ...(r.q as Check) };
  } catch (err) {
    return notDeployedOr(err);
  }
}

function notDeployedOr(err: unknown): Check {
  const code = sqlState(err);
  if (code && NOT_DEPLOYED.has(code)) return { ok: true, deployed: false };
  console.error(`health-check: ${describeError(err)}`);
  return { ok: false, error: errorKind(err) };
}

/** Whether the request may see the health check: any request when no token is configured. */
export function probeAllowed(req: Request, token: string): boolean {
  if (!token) return true;
  const given = req.headers.get("x-probe-token") || new URL(req.url).searchParams.get("token") || "";
  return sameSecret(given, token);
}

/** Compares in time independent of where the strings differ. */
function sameSecret(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < y.length; i++) diff |= (x[i] ?? 0) ^ y[i];
  return diff === 0;
}

/** What makes the system unhealthy, in words. Exported for the unit tests. */
export function findProblems(checks: Record<string, Check>): string[] {
  const problems: string[] = [];
  const { database, queue, quota } = checks;
  if (!database?.ok) return ["database unreachable"];
  if (queue && !queue.ok) problems.push("queue metrics unavailable");
  if (queue?.ok && Number(queue.stuck ?? 0) > 0) {
    problems.push(`queue stuck: ${queue.stuck} job(s) in processing past the stuck timeout`);
  }
  if (queue?.ok && queue.breaker_state === "open") problems.push("circuit breaker open");
  if (quota && !quota.ok) problems.push("quota status unavailable");
  return problems;
}
