// getJson against a real local HTTP server: statuses, bodies, timeouts and byte counts.
import { assert, assertEquals, assertRejects } from "./testing/assert.ts";
import {
  BudgetExhausted,
  ClientError,
  getJson,
  Malformed,
  ProviderError,
  RateLimited,
  redact,
  RequestTimeout,
  Timeout,
} from "./http.ts";

const BODY_429 = '{"Error Message":"Limit Reach"}';
const BODY_401 = '{"Error Message":"Invalid API KEY apikey=SECRETKEY9"}';

async function withProvider(fn: (base: string) => Promise<void>): Promise<void> {
  const hang = new AbortController();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const path = new URL(req.url).pathname;
    switch (path) {
      case "/ok":
        return new Response('[{"symbol":"AAPL"}]');
      case "/429":
        return new Response(BODY_429, { status: 429 });
      case "/503":
        return new Response("down", { status: 503 });
      case "/401":
        return new Response(BODY_401, { status: 401 });
      case "/408":
        return new Response("request timeout", { status: 408 });
      case "/bad":
        return new Response('[{"symbol": "AA');
      case "/hang":
        await new Promise((r) => hang.signal.addEventListener("abort", r));
        return new Response("[]");
      default:
        return new Response("not found", { status: 404 });
    }
  });
  try {
    await fn(`http://127.0.0.1:${server.addr.port}`);
  } finally {
    hang.abort();
    await server.shutdown();
  }
}

Deno.test("getJson: a 200 parses and counts the body's bytes", () =>
  withProvider(async (base) => {
    let counted = 0;
    const r = await getJson(`${base}/ok`, "quote", { onBytes: (n) => (counted += n) });
    assertEquals(r.data, [{ symbol: "AAPL" }]);
    assertEquals(r.bytes, 19);
    assertEquals(counted, 19);
  }));

Deno.test("getJson: 429, 5xx and 4xx become RateLimited, ProviderError and ClientError, bytes still counted", () =>
  withProvider(async (base) => {
    let counted = 0;
    const onBytes = (n: number) => (counted += n);
    const limited = await assertRejects(() => getJson(`${base}/429`, "quote", { onBytes }), RateLimited);
    assert(limited.retryable && limited.providerFailure);
    const down = await assertRejects(
      () => getJson(`${base}/503`, "quote", { onBytes }),
      ProviderError,
      "503",
    );
    assert(down.retryable && down.providerFailure);
    const client = await assertRejects(
      () => getJson(`${base}/401`, "quote", { onBytes }),
      ClientError,
      "401",
    );
    assert(!client.retryable && !client.providerFailure);
    assert(!client.message.includes("SECRETKEY9"), "the key is redacted from provider messages");
    assertEquals(counted, BODY_429.length + "down".length + BODY_401.length);
  }));

Deno.test("getJson: a truncated body is malformed JSON from the endpoint, retried like a 5xx", () =>
  withProvider(async (base) => {
    const err = await assertRejects(() => getJson(`${base}/bad`, "profile"), Malformed);
    assert(err.message.startsWith("malformed JSON from profile: "), err.message);
    assert(err.retryable && err.providerFailure);
  }));

Deno.test("getJson: a 408 is retryable, unlike other 4xx", () =>
  withProvider(async (base) => {
    const err = await assertRejects(() => getJson(`${base}/408`, "quote"), RequestTimeout, "408");
    assert(err.retryable && err.providerFailure);
  }));

Deno.test("getJson: a provider that hangs is aborted after the timeout", () =>
  withProvider(async (base) => {
    const t = performance.now();
    const err = await assertRejects(() => getJson(`${base}/hang`, "quote", { timeoutMs: 150 }), Timeout);
    assert(performance.now() - t < 2000, "returned promptly");
    assert(err.retryable && err.providerFailure);
  }));

Deno.test("getJson: the caller's budget ending mid-call is BudgetExhausted, not a provider failure", () =>
  withProvider(async (base) => {
    const budget = new AbortController();
    setTimeout(() => budget.abort(), 100);
    const err = await assertRejects(
      () => getJson(`${base}/hang`, "quote", { timeoutMs: 10_000, signal: budget.signal }),
      BudgetExhausted,
    );
    assert(!err.providerFailure);
  }));

Deno.test("getJson: an unreachable provider is a retryable ProviderError without the key", async () => {
  const err = await assertRejects(
    () =>
      getJson("http://127.0.0.1:1/stable/quote?symbol=A&apikey=SECRETKEY9", "quote", {
        apiKey: "SECRETKEY9",
      }),
    ProviderError,
    "unreachable",
  );
  assert(!err.message.includes("SECRETKEY9"), err.message);
});

Deno.test("redact: apikey parameters and the bare key, but not short keys inside words", () => {
  assertEquals(redact("GET /q?symbol=A&apikey=abc123&x=1"), "GET /q?symbol=A&apikey=***&x=1");
  assertEquals(redact("key LONGSECRET1 leaked", "LONGSECRET1"), "key *** leaked");
  assertEquals(redact("unknown symbol", "k"), "unknown symbol");
});
