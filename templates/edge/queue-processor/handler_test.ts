// The processor's loop against a scripted database and a stubbed provider: which queue
// function each outcome reaches, with which bytes, and when the run stops.
import { assert, assertEquals, assertThrows } from "../_shared/testing/assert.ts";
import { fakeSql, type SqlCall } from "../_shared/testing/fakes.ts";
import { payloads } from "../_shared/testing/fixtures.ts";
import { runProcessor, type Settings, settingsFrom } from "./handler.ts";

type Job = { id: string; symbol: string; data_type: string };

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
): Promise<void> {
  const real = globalThis.fetch;
  globalThis.fetch = (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const endpoint = url.pathname.split("/").pop()!;
    const r = reply(endpoint, url.searchParams.get("symbol") ?? url.searchParams.get("exchange") ?? "*");
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
}

/** A queue holding `batches` (handed out one per claim) and functions that record their calls. */
function queueDb(batches: Job[][], opts: { upsert?: (call: SqlCall) => void; failOutcome?: string } = {}) {
  const left = [...batches];
  return fakeSql((call) => {
    const t = call.text;
    if (t.includes("get_queue_batch_v2")) return left.shift() ?? [];
    if (t.includes("complete_queue_jobs_v2")) return (call.values[0] as string[]).map((id) => ({ id }));
    if (t.includes("fail_queue_job_v2")) return [{ outcome: opts.failOutcome ?? "failed" }];
    if (t.includes("reset_job_immediate_v2")) return [{ ok: true }];
    if (t.includes("record_processor_result_v2")) return [{ record_processor_result_v2: "closed" }];
    if (t.startsWith("INSERT INTO")) {
      opts.upsert?.(call);
      return [{}];
    }
    throw new Error(`unexpected query: ${t}`);
  });
}

const calls = (sql: { calls: SqlCall[] }, fn: string) => sql.calls.filter((c) => c.text.includes(fn));
const body = (endpoint: string) => JSON.stringify(payloads[endpoint]);

Deno.test("processor: successes are completed once per batch with the bytes the provider sent", async () => {
  const sql = queueDb([[
    { id: "1", symbol: "AAPL", data_type: "quote" },
    { id: "2", symbol: "AAPL", data_type: "financial-statements" },
  ]]);
  await withProvider((e) => [200, body(e)], async () => {
    const s = await runProcessor(sql, SETTINGS);
    assertEquals([s.claimed, s.completed, s.failed, s.provider_failures, s.stopped_by], [
      2,
      2,
      0,
      0,
      "empty",
    ]);
    const statementBytes = ["income-statement", "balance-sheet-statement", "cash-flow-statement"]
      .reduce((n, e) => n + new TextEncoder().encode(body(e)).length, 0);
    const [complete] = calls(sql, "complete_queue_jobs_v2");
    assertEquals(complete.values, [["1", "2"], [body("quote").length, statementBytes]]);
    assertEquals(s.bytes, body("quote").length + statementBytes);
    assertEquals(calls(sql, "record_processor_result_v2")[0].values, [true, null]);
  });
});

Deno.test("processor: 5xx and timeouts are retryable provider failures; 4xx, unknown symbols, malformed JSON and unknown types are permanent", async () => {
  const sql = queueDb([[
    { id: "1", symbol: "AAPL", data_type: "quote" },
    { id: "2", symbol: "SLOW", data_type: "quote" },
    { id: "3", symbol: "NOPE", data_type: "quote" },
    { id: "4", symbol: "ZZZZ", data_type: "quote" },
    { id: "5", symbol: "BAD", data_type: "quote" },
    { id: "6", symbol: "AAPL", data_type: "bogus" },
  ]], { failOutcome: "retrying" });
  await withProvider((_e, sym) => {
    if (sym === "AAPL") return [503, "unavailable"];
    if (sym === "SLOW") return "hang";
    if (sym === "NOPE") return [402, '{"Error Message":"Premium endpoint"}'];
    if (sym === "ZZZZ") return [200, "[]"];
    return [200, "[{"];
  }, async () => {
    const s = await runProcessor(sql, SETTINGS);
    const fails = calls(sql, "fail_queue_job_v2").map((c) => c.values);
    const byId = Object.fromEntries(
      fails.map(([id, reason, retryable, bytes]) => [id, { reason, retryable, bytes }]),
    );
    assertEquals(byId["1"].retryable, true);
    assertEquals(byId["1"].bytes, "unavailable".length);
    assertEquals(byId["2"].retryable, true);
    assert(String(byId["2"].reason).includes("timed out: no answer within 200 ms"));
    assertEquals(byId["3"].retryable, false);
    assertEquals(byId["4"].retryable, false);
    assert(String(byId["4"].reason).includes("unknown symbol ZZZZ"));
    assertEquals(byId["5"].retryable, false);
    assert(String(byId["5"].reason).startsWith("malformed JSON from quote: "));
    assertEquals(byId["6"].retryable, false);
    assert(String(byId["6"].reason).includes("unknown data type"));
    assertEquals(s.provider_failures, 2);
    assertEquals(calls(sql, "complete_queue_jobs_v2").length, 0);
    const [ok, error] = calls(sql, "record_processor_result_v2")[0].values;
    assertEquals(ok, false);
    assert(String(error).length > 0);
    for (const [, reason] of fails) assert(!String(reason).includes("TESTKEY123"), "no key in reasons");
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
    const [id, reason, bytes] = calls(sql, "reset_job_immediate_v2")[0].values;
    assertEquals([id, bytes], ["7", body("quote").length]);
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

Deno.test("processor settings: env defaults, body overrides, bounds", () => {
  const env = { MARKET_DATA_BASE_URL: "http://x/stable", MARKET_DATA_API_KEY: "k" };
  const s = settingsFrom({}, env);
  assertEquals([s.batchSize, s.concurrency, s.budgetMs, s.timeoutMs], [10, 5, 50_000, 10_000]);
  const t = settingsFrom({ batchSize: 3, timeBudgetMs: 2000 }, { ...env, MARKET_DATA_TIMEOUT_MS: "500" });
  assertEquals([t.batchSize, t.budgetMs, t.timeoutMs], [3, 2000, 500]);
  assertThrows(() => settingsFrom({ batchSize: 0 }, env), Error, "batchSize");
  assertThrows(() => settingsFrom({ batchSize: "10; DROP" }, env), Error, "batchSize");
  assertThrows(() => settingsFrom({ batchSize: true }, env), Error, "batchSize");
  assertThrows(() => settingsFrom({ timeBudgetMs: [5000] }, env), Error, "timeBudgetMs");
  assertThrows(() => settingsFrom({}, {}), Error, "MARKET_DATA_BASE_URL");
});
