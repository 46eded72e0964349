// The processor's loop against a scripted database and a stubbed provider: which queue
// function each outcome reaches, with which bytes, and when the run stops.
import { assert, assertEquals, assertThrows } from "../_shared/testing/assert.ts";
import { fakeSql, type SqlCall } from "../_shared/testing/fakes.ts";
import { payloads } from "../_shared/testing/fixtures.ts";
import { HANDOVER_MS, runProcessor, type Settings, settingsFrom } from "./handler.ts";

type Job = { id: string; symbol: string; data_type: string; lease: string };

const SETTINGS: Settings = {
  batchSize: 10,
  concurrency: 5,
  budgetMs: 5000,
  timeoutMs: 200,
  api: { baseUrl: "http://provider.test/stable", apiKey: "TESTKEY123" },
};

/** A provider stub: `reply(endpoint, symbol)` returns [status, body] or "hang". */
async function withProvider(
  reply: (endpoint: string, symbol: string) => [number, string] | "hang",
  fn: () => Promise<void>,
): Promise<string[]> {
  const real = globalThis.fetch;
  const called: string[] = [];
  globalThis.fetch = (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const endpoint = url.pathname.split("/").pop()!;
    const symbol = url.searchParams.get("symbol") ?? url.searchParams.get("exchange") ?? "*";
    called.push(`${endpoint}:${symbol}`);
    const r = reply(endpoint, symbol);
    if (r === "hang") {
      return new Promise((_, reject) =>
        init?.signal?.addEventListener("abort", () => reject(init.signal!.reason))
      );
    }
    return Promise.resolve(new Response(r[1], { status: r[0] }));
  };
  try {
    await fn();
  } finally {
    globalThis.fetch = real;
  }
  return called;
}

type PermitAnswer = (ids: string[], leases: string[], calls: number[]) => (string | null)[];

/**
 * A queue holding `batches` (handed out one per claim, under lease "7") and functions that
 * record their calls. `permits` answers each permit request: null grants it, a string is the
 * reason it is denied (every request is granted by default).
 */
function queueDb(batches: Omit<Job, "lease">[][], opts: {
  upsert?: (call: SqlCall) => void;
  failOutcome?: string;
  permits?: PermitAnswer;
  held?: (id: string) => boolean;
  /** The lease's answer: granted, or held by another run ending in left_s. */
  begin?: () => { granted: boolean; holder: string; left_s: number };
  /** Whether a renewal finds the lease held (a stop asked for: false). */
  renew?: () => boolean;
  /** Whether a job is due. */
  due?: () => boolean;
  /** How long until the call budget frees a call (get_quota_status's call_wait_ms). */
  callWaitMs?: () => number;
  /** Told of each claim. */
  claimed?: () => void;
} = {}) {
  const left = batches; // not a copy: a test may queue more while the run lasts
  return fakeSql((call) => {
    const t = call.text;
    if (t.includes("pg_advisory_xact_lock")) {
      return [opts.begin?.() ?? { granted: true, holder: String(call.values[0]), left_s: 60 }];
    }
    if (t.includes("SET run_lease_until")) return (opts.renew?.() ?? true) ? [{ run_id: "r" }] : [];
    if (t.includes("SET run_id = NULL")) return [];
    if (t.includes("api_call_queue_v2_pending")) {
      const due = opts.due?.() ?? false;
      return [{ due, call_wait_ms: due ? opts.callWaitMs?.() ?? 0 : null }];
    }
    if (t.includes("queue_config_v2")) return [{ slack_ms: 2000, idle_poll_ms: 20 }];
    if (t.includes("get_queue_batch_v2")) {
      opts.claimed?.();
      return (left.shift() ?? []).map((j) => ({ ...j, lease: "7" }));
    }
    if (t.includes("take_call_permits_v2")) {
      const [ids, leases, calls] = call.values as [string[], string[], number[]];
      const answer = opts.permits?.(ids, leases, calls) ?? ids.map(() => null);
      return ids.map((id, i) => ({ job_id: id, granted: answer[i] === null, reason: answer[i] }));
    }
    if (t.includes("complete_queue_jobs_v2")) return (call.values[0] as string[]).map((id) => ({ id }));
    if (t.includes("fail_queue_job_v2")) return [{ outcome: opts.failOutcome ?? "failed" }];
    if (t.includes("reset_job_immediate_v2")) return [{ ok: true }];
    if (t.includes("record_processor_result_v2")) return [{ record_processor_result_v2: "closed" }];
    if (t.startsWith("WITH held AS")) {
      opts.upsert?.(call);
      const held = opts.held?.(String(call.values[1])) ?? true;
      return [{ held: held ? 1 : 0, written: held ? 1 : 0 }];
    }
    throw new Error(`unexpected query: ${t}`);
  });
}

const calls = (sql: { calls: SqlCall[] }, fn: string) => sql.calls.filter((c) => c.text.includes(fn));
const body = (endpoint: string) => JSON.stringify(payloads[endpoint]);

Deno.test("processor: successes are completed once per batch, under their lease, with the bytes the provider sent", async () => {
  const sql = queueDb([[
    { id: "1", symbol: "AAPL", data_type: "quote" },
    { id: "2", symbol: "AAPL", data_type: "financial-statements" },
  ]]);
  await withProvider((e) => [200, body(e)], async () => {
    const s = await runProcessor(sql, SETTINGS);
    assertEquals([s.claimed, s.completed, s.failed, s.calls, s.provider_failures, s.stopped_by], [
      2,
      2,
      0,
      4,
      0,
      "empty",
    ]);
    const statementBytes = ["income-statement", "balance-sheet-statement", "cash-flow-statement"]
      .reduce((n, e) => n + new TextEncoder().encode(body(e)).length, 0);
    const [complete] = calls(sql, "complete_queue_jobs_v2");
    assertEquals(complete.values, [["1", "2"], ["7", "7"], [body("quote").length, statementBytes]]);
    assertEquals(s.bytes, body("quote").length + statementBytes);
    assertEquals(calls(sql, "record_processor_result_v2")[0].values, [null, 4, 0]);
    // Each write names the job and its lease: only the holder writes.
    const writes = sql.calls.filter((c) => c.text.startsWith("WITH held AS"));
    assertEquals(writes.map((w) => w.values.slice(1)), [["1", "7"], ["2", "7"]]);
  });
});

Deno.test("processor: every call has a permit; a job's concurrent calls are asked for together", async () => {
  const asked: number[][] = [];
  const sql = queueDb([[
    { id: "1", symbol: "AAPL", data_type: "quote" },
    { id: "2", symbol: "AAPL", data_type: "financial-statements" },
  ]], {
    permits(ids, _leases, n) {
      asked.push(n);
      return ids.map(() => null);
    },
  });
  await withProvider((e) => [200, body(e)], async () => {
    await runProcessor(sql, SETTINGS);
  });
  assertEquals(asked, [[1, 3]]); // one round trip: the quote's call, the statements' three at once
  assertEquals(calls(sql, "take_call_permits_v2")[0].values.slice(0, 2), [["1", "2"], ["7", "7"]]);
});

Deno.test("processor: without a permit no call is made and the job goes back without spending an attempt", async () => {
  const sql = queueDb([[{ id: "1", symbol: "AAPL", data_type: "quote" }], [{ id: "2", symbol: "MSFT", data_type: "quote" }]], {
    permits: (ids) => ids.map(() => "budget"),
  });
  const called = await withProvider((e) => [200, body(e)], async () => {
    // A short run: a request waits for budget until the run can no longer use a call.
    const s = await runProcessor(sql, { ...SETTINGS, budgetMs: 600, timeoutMs: 100 });
    assertEquals([s.claimed, s.calls, s.reset, s.completed, s.stopped_by], [1, 0, 1, 0, "calls"]);
  });
  assertEquals(called, []);
  const [id, lease, reason] = calls(sql, "reset_job_immediate_v2")[0].values;
  assertEquals([id, lease], ["1", "7"]);
  assert(String(reason).includes("call budget"), String(reason));
  assert(calls(sql, "take_call_permits_v2").length > 1, "it waited and asked again");
  assertEquals(calls(sql, "get_queue_batch_v2").length, 1, "no more claims once the budget said no");
});

Deno.test("processor: a request waits for the budget and calls once it is granted", async () => {
  let denials = 2;
  const sql = queueDb([[{ id: "1", symbol: "AAPL", data_type: "quote" }]], {
    permits: (ids) => ids.map(() => denials-- > 0 ? "budget" : null),
  });
  const called = await withProvider((e) => [200, body(e)], async () => {
    const s = await runProcessor(sql, SETTINGS);
    assertEquals([s.completed, s.calls, s.reset], [1, 1, 0]);
  });
  assertEquals(called, ["quote:AAPL"]);
  assertEquals(calls(sql, "take_call_permits_v2").length, 3);
});

Deno.test("processor: a job whose lease is gone is neither called for nor written; its acknowledgement is refused", async () => {
  const sql = queueDb([[
    { id: "1", symbol: "AAPL", data_type: "quote" },
    { id: "2", symbol: "MSFT", data_type: "quote" },
  ]], {
    permits: (ids) => ids.map((id) => id === "1" ? "lease" : null),
    held: (id) => id !== "2",
  });
  const called = await withProvider((e) => [200, body(e)], async () => {
    const s = await runProcessor(sql, SETTINGS);
    assertEquals([s.completed, s.calls], [0, 1]);
  });
  assertEquals(called, ["quote:MSFT"]); // job 1: no permit, no call
  assertEquals(calls(sql, "complete_queue_jobs_v2").length, 0); // job 2: its rows were not written
  const reported = calls(sql, "reset_job_immediate_v2").map((c) => c.values.map(String));
  assertEquals(reported.map(([id, lease]) => [id, lease]), [["1", "7"], ["2", "7"]]);
  assert(reported[0][2].includes("another lease"), reported[0][2]);
  assert(reported[1][2].includes("lease on job 2 was lost"), reported[1][2]);
});

Deno.test("processor: an open breaker denies the calls and stops the run", async () => {
  const sql = queueDb([[{ id: "1", symbol: "AAPL", data_type: "quote" }], [{ id: "2", symbol: "MSFT", data_type: "quote" }]], {
    permits: (ids) => ids.map(() => "breaker"),
  });
  const called = await withProvider((e) => [200, body(e)], async () => {
    const s = await runProcessor(sql, SETTINGS);
    assertEquals([s.calls, s.reset, s.stopped_by], [0, 1, "breaker"]);
  });
  assertEquals(called, []);
  assertEquals(calls(sql, "get_queue_batch_v2").length, 1);
});

Deno.test("processor: 429, 408, 5xx, timeouts and malformed bodies are retryable; other 4xx, unknown symbols and types are permanent", async () => {
  const sql = queueDb([[
    { id: "1", symbol: "AAPL", data_type: "quote" },
    { id: "2", symbol: "SLOW", data_type: "quote" },
    { id: "3", symbol: "NOPE", data_type: "quote" },
    { id: "4", symbol: "ZZZZ", data_type: "quote" },
    { id: "5", symbol: "BAD", data_type: "quote" },
    { id: "6", symbol: "AAPL", data_type: "bogus" },
    { id: "7", symbol: "WAIT", data_type: "quote" },
  ]], { failOutcome: "retrying" });
  await withProvider((_e, sym) => {
    if (sym === "AAPL") return [503, "unavailable"];
    if (sym === "SLOW") return "hang";
    if (sym === "NOPE") return [402, '{"Error Message":"Premium endpoint"}'];
    if (sym === "ZZZZ") return [200, "[]"];
    if (sym === "WAIT") return [408, "request timeout"];
    return [200, "[{"];
  }, async () => {
    const s = await runProcessor(sql, SETTINGS);
    const fails = calls(sql, "fail_queue_job_v2").map((c) => c.values);
    const byId = Object.fromEntries(
      fails.map(([id, lease, reason, retryable, bytes]) => [id, { lease, reason, retryable, bytes }]),
    );
    assertEquals(byId["1"].retryable, true);
    assertEquals(byId["1"].bytes, "unavailable".length);
    assertEquals(byId["1"].lease, "7");
    assertEquals(byId["2"].retryable, true);
    assert(String(byId["2"].reason).includes("timed out: no answer within 200 ms"));
    assertEquals(byId["3"].retryable, false);
    assertEquals(byId["4"].retryable, false);
    assert(String(byId["4"].reason).includes("unknown symbol ZZZZ"));
    assertEquals(byId["5"].retryable, true);
    assert(String(byId["5"].reason).startsWith("malformed JSON from quote: "));
    assertEquals(byId["6"].retryable, false);
    assert(String(byId["6"].reason).includes("unknown data type"));
    assertEquals(byId["7"].retryable, true);
    // Provider failures are counted per call: the 503, the timeout, the malformed body, the 408.
    assertEquals([s.calls, s.provider_failures], [6, 4]);
    assertEquals(calls(sql, "complete_queue_jobs_v2").length, 0);
    const [error, made, failed] = calls(sql, "record_processor_result_v2")[0].values;
    assertEquals([made, failed], [6, 4]);
    assert(String(error).length > 0);
    for (const [, , reason] of fails) assert(!String(reason).includes("TESTKEY123"), "no key in reasons");
  });
});

Deno.test("processor: a 429 stops claiming for the run", async () => {
  const sql = queueDb([
    [{ id: "1", symbol: "AAPL", data_type: "quote" }, { id: "2", symbol: "MSFT", data_type: "quote" }],
    [{ id: "3", symbol: "NVDA", data_type: "quote" }],
  ], { failOutcome: "retrying" });
  await withProvider((e, sym) => sym === "MSFT" ? [429, "limit"] : [200, body(e)], async () => {
    const s = await runProcessor(sql, SETTINGS);
    assertEquals(s.stopped_by, "rate_limited");
    assertEquals([s.claimed, s.completed, s.retried, s.provider_failures], [2, 1, 1, 1]);
    assertEquals(calls(sql, "get_queue_batch_v2").length, 1);
  });
});

Deno.test("processor: a deadlock on the upsert is retried 3 times, then the job is reset", async () => {
  let attempts = 0;
  const deadlock = Object.assign(new Error("deadlock detected"), { code: "40P01" });
  const sql = queueDb([[{ id: "7", symbol: "AAPL", data_type: "quote" }]], {
    upsert() {
      attempts++;
      throw deadlock;
    },
  });
  await withProvider((e) => [200, body(e)], async () => {
    const s = await runProcessor(sql, SETTINGS);
    assertEquals(attempts, 4);
    assertEquals([s.reset, s.completed, s.failed, s.provider_failures], [1, 0, 0, 0]);
    const [id, lease, reason, bytes] = calls(sql, "reset_job_immediate_v2")[0].values;
    assertEquals([id, lease, bytes], ["7", "7", body("quote").length]);
    assert(String(reason).includes("deadlock"));
  });
});

Deno.test("processor: a deadlock that clears on retry completes the job", async () => {
  let attempts = 0;
  const sql = queueDb([[{ id: "8", symbol: "AAPL", data_type: "quote" }]], {
    upsert() {
      if (++attempts < 3) throw Object.assign(new Error("could not serialize"), { code: "40001" });
    },
  });
  await withProvider((e) => [200, body(e)], async () => {
    const s = await runProcessor(sql, SETTINGS);
    assertEquals([attempts, s.completed, s.reset], [3, 1, 0]);
  });
});

Deno.test("processor: rows the table refuses are retried, not failed for good", async () => {
  const sql = queueDb([[{ id: "8", symbol: "AAPL", data_type: "quote" }]], {
    upsert() {
      throw Object.assign(new Error("numeric field overflow"), { code: "22003" });
    },
    failOutcome: "retrying",
  });
  await withProvider((e) => [200, body(e)], async () => {
    await runProcessor(sql, SETTINGS);
  });
  const [, , reason, retryable] = calls(sql, "fail_queue_job_v2")[0].values;
  assertEquals(retryable, true);
  assert(String(reason).startsWith("rows refused by the database"), String(reason));
});

Deno.test("processor: a hanging provider cannot hold the run past its budget", async () => {
  const sql = queueDb([[{ id: "9", symbol: "AAPL", data_type: "quote" }]]);
  await withProvider(() => "hang", async () => {
    const t = performance.now();
    const s = await runProcessor(sql, { ...SETTINGS, budgetMs: 300, timeoutMs: 10_000 });
    assert(performance.now() - t < 2000, `took ${performance.now() - t} ms`);
    assertEquals([s.reset, s.provider_failures], [1, 0]); // the budget's fault, not the provider's
    assertEquals(s.stopped_by, "budget");
  });
});

Deno.test("processor: one run at a time: a run finding the processor busy claims nothing", async () => {
  const sql = queueDb([[{ id: "1", symbol: "AAPL", data_type: "quote" }]], {
    begin: () => ({ granted: false, holder: "edge-other", left_s: 45 }), // not about to end
  });
  const s = await runProcessor(sql, { ...SETTINGS, drain: "continuous" });
  assertEquals([s.stopped_by, s.claimed], ["busy", 0]);
  assertEquals(calls(sql, "get_queue_batch_v2").length, 0);
  assertEquals(calls(sql, "record_processor_result_v2").length, 0); // no run, nothing to judge
});

Deno.test("processor: a new run waits for a run about to end, then takes over", async () => {
  let asked = 0;
  const sql = queueDb([[{ id: "1", symbol: "AAPL", data_type: "quote" }]], {
    begin: () => (++asked < 3 ? { granted: false, holder: "edge-old", left_s: 0.05 } : { granted: true, holder: "me", left_s: 1 }),
  });
  await withProvider((e) => [200, body(e)], async () => {
    const s = await runProcessor(sql, SETTINGS);
    assertEquals([s.completed, s.stopped_by], [1, "empty"]);
  });
  assertEquals(asked, 3);
});

Deno.test("processor: a continuous run polls while nothing is due and takes what comes, until its time is up", async () => {
  const later = [{ id: "5", symbol: "MSFT", data_type: "quote" }];
  const batches: Omit<Job, "lease">[][] = [[{ id: "4", symbol: "AAPL", data_type: "quote" }], [], []];
  let polls = 0;
  const sql = queueDb(batches, {
    // Nothing due for a few polls; then a job is queued (the next claim finds it).
    due: () => {
      polls++;
      if (polls === 3) batches.splice(0, batches.length, later);
      return polls >= 3;
    },
  });
  await withProvider((e) => [200, body(e)], async () => {
    const t = performance.now();
    const s = await runProcessor(sql, { ...SETTINGS, drain: "continuous", budgetMs: 700, timeoutMs: 100 });
    const took = performance.now() - t;
    assertEquals([s.completed, s.drain, s.stopped_by], [2, "continuous", "budget"]);
    assert(s.polls >= 3, `polls: ${s.polls}`);
    assert(took >= 550 && took < 1500, `took ${took} ms`); // it ran for its time, not until empty
  });
  const completed = calls(sql, "complete_queue_jobs_v2").map((c) => c.values[0]);
  assertEquals(completed, [["4"], ["5"]]);
  assertEquals(calls(sql, "SET run_id = NULL").length, 1); // it let go of the processor
});

Deno.test("processor: a claim that came back empty for want of calls waits until the budget frees one, not a poll", async () => {
  // Jobs are due all along; the first claim finds the call budget spent, which frees a call
  // in 300 ms (polls are 20 ms apart). The run reads that once and claims again then.
  const batches: Omit<Job, "lease">[][] = [[], [{ id: "6", symbol: "AAPL", data_type: "quote" }]];
  const log: [string, number][] = [];
  const sql = queueDb(batches, {
    due: () => log.push(["read", performance.now()]) > 0,
    callWaitMs: () => (log.filter(([what]) => what === "read").length === 1 ? 300 : 0),
    claimed: () => log.push(["claim", performance.now()]),
  });
  await withProvider((e) => [200, body(e)], async () => {
    await runProcessor(sql, { ...SETTINGS, drain: "continuous", budgetMs: 900, timeoutMs: 100 });
  });
  assertEquals(calls(sql, "complete_queue_jobs_v2").map((c) => c.values[0]), [["6"]]);
  assertEquals(log.slice(0, 3).map(([what]) => what), ["claim", "read", "claim"]);
  const waited = log[2][1] - log[0][1];
  assert(waited >= 295, `claimed again after ${waited} ms`);
});

Deno.test("processor: a stop asked for ends a continuous run at its next renewal", async () => {
  const sql = queueDb([], { renew: () => false });
  const t = performance.now();
  const s = await runProcessor(sql, { ...SETTINGS, drain: "continuous", budgetMs: 20_000, timeoutMs: 100 });
  assertEquals(s.stopped_by, "stopped");
  assert(performance.now() - t < 5000, `took ${performance.now() - t} ms`);
});

Deno.test("processor settings: env defaults, body overrides, bounds", () => {
  const env = { MARKET_DATA_BASE_URL: "http://x/stable", MARKET_DATA_API_KEY: "k" };
  const s = settingsFrom({}, env);
  assertEquals([s.batchSize, s.concurrency, s.budgetMs, s.timeoutMs, s.drain], [10, 5, 50_000, 10_000, "once"]);
  // A continuous run: its run time, the handover and one call timeout; the env's budget is a run "once"'s.
  const c = settingsFrom({ drain: "continuous", runSeconds: 30 }, { ...env, PROCESSOR_TIME_BUDGET_MS: "5000" });
  assertEquals([c.drain, c.budgetMs], ["continuous", 30_000 + HANDOVER_MS + 10_000]);
  assertThrows(() => settingsFrom({ drain: "forever" }, env), Error, "drain");
  assertThrows(() => settingsFrom({ drain: "continuous", runSeconds: 500 }, env), Error, "runSeconds");
  const t = settingsFrom({ batchSize: 3, timeBudgetMs: 2000 }, { ...env, MARKET_DATA_TIMEOUT_MS: "500" });
  assertEquals([t.batchSize, t.budgetMs, t.timeoutMs], [3, 2000, 500]);
  assertThrows(() => settingsFrom({ batchSize: 0 }, env), Error, "batchSize");
  assertThrows(() => settingsFrom({ batchSize: "10; DROP" }, env), Error, "batchSize");
  assertThrows(() => settingsFrom({ batchSize: true }, env), Error, "batchSize");
  assertThrows(() => settingsFrom({ timeBudgetMs: [5000] }, env), Error, "timeBudgetMs");
  assertThrows(() => settingsFrom({}, {}), Error, "MARKET_DATA_BASE_URL");
});
