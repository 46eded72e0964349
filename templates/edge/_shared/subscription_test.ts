import { assert, assertEquals } from "./testing/assert.ts";
import { checkTrack, checkUntrack, readBody, userId } from "./subscription.ts";

const body = (v: unknown) => JSON.stringify(v);

Deno.test("track input: good requests, symbols upper-cased", () => {
  const cases: [unknown, string, string[]][] = [
    [{ symbol: "AAPL", dataTypes: ["quote"] }, "AAPL", ["quote"]],
    [{ symbol: "aapl", dataTypes: ["quote", "profile"] }, "AAPL", ["quote", "profile"]],
    [{ symbol: " brk.b ", dataTypes: ["ratios-ttm"] }, "BRK.B", ["ratios-ttm"]],
    [{ symbol: "bf-b", dataTypes: ["quote", "quote"] }, "BF-B", ["quote"]],
    [{ symbol: "X^A", dataTypes: ["quote"] }, "X^A", ["quote"]],
    [{ symbol: "0700.HK", dataTypes: ["exchange-market-status"], extra: 1 }, "0700.HK", [
      "exchange-market-status",
    ]],
  ];
  for (const [input, symbol, dataTypes] of cases) {
    const r = checkTrack(body(input));
    assert(r.ok, JSON.stringify(input));
    assertEquals(r.value, { symbol, dataTypes });
  }
});

Deno.test("track input: bad symbols, injection strings, wrong types are refused", () => {
  const bad: unknown[] = [
    { symbol: "AAPL'; DROP TABLE x;--", dataTypes: ["quote"] },
    { symbol: "AAPL", dataTypes: ["quote'); DELETE FROM public.stock_quotes;--"] },
    { symbol: "' OR 1=1 --", dataTypes: ["quote"] },
    { symbol: "AAPL\u0000", dataTypes: ["quote"] },
    { symbol: "<script>", dataTypes: ["quote"] },
    { symbol: "^GSPC", dataTypes: ["quote"] }, // the first character must be a letter or digit
    { symbol: "TOOLONGSYMBOL1", dataTypes: ["quote"] },
    { symbol: ".AAPL", dataTypes: ["quote"] },
    { symbol: "", dataTypes: ["quote"] },
    { symbol: 42, dataTypes: ["quote"] },
    { symbol: ["AAPL"], dataTypes: ["quote"] },
    { dataTypes: ["quote"] },
    { symbol: "AAPL" },
    { symbol: "AAPL", dataTypes: "quote" },
    { symbol: "AAPL", dataTypes: { 0: "quote" } },
    { symbol: "AAPL", dataTypes: [] },
    { symbol: "AAPL", dataTypes: [null] },
    { symbol: "AAPL", dataTypes: [1] },
    { symbol: "AAPL", dataTypes: ["Quote"] },
    { symbol: "AAPL", dataTypes: ["quote; select 1"] },
    { symbol: "AAPL", dataTypes: ["x".repeat(42)] },
    { symbol: "AAPL", dataTypes: Array.from({ length: 12 }, (_, i) => `t${i}`) },
    ["AAPL", ["quote"]],
    "AAPL",
    null,
  ];
  for (const input of bad) {
    const r = checkTrack(body(input));
    assert(!r.ok, `accepted ${JSON.stringify(input)}`);
    assert(r.error.length > 0);
  }
  for (const text of ["", "{", "not json", "{'symbol': 'AAPL'}"]) {
    assert(!checkTrack(text).ok, text);
  }
});

Deno.test("untrack input: the same symbol rules", () => {
  assertEquals(checkUntrack(body({ symbol: "msft" })), { ok: true, value: { symbol: "MSFT" } });
  assert(!checkUntrack(body({ symbol: "MSFT'--" })).ok);
  assert(!checkUntrack(body({})).ok);
  assert(!checkUntrack("[]").ok);
});

Deno.test("request bodies over 4 KB are cut off, by header or by stream", async () => {
  const big = "x".repeat(5000);
  assertEquals(await readBody(new Request("http://x/", { method: "POST", body: big })), null);
  const streamed = new ReadableStream({
    start(c) {
      for (let i = 0; i < 10; i++) c.enqueue(new TextEncoder().encode("y".repeat(1000)));
      c.close();
    },
  });
  assertEquals(await readBody(new Request("http://x/", { method: "POST", body: streamed })), null);
  const ok = body({ symbol: "AAPL", dataTypes: ["quote"] });
  assertEquals(await readBody(new Request("http://x/", { method: "POST", body: ok })), ok);
  assertEquals(await readBody(new Request("http://x/", { method: "POST" })), "");
});

Deno.test("the user is a uuid subject with role authenticated", () => {
  const sub = "6f1c1f9e-2b7a-4c59-9a57-3c2f0e1d2a4b";
  assertEquals(userId({ sub, role: "authenticated" }), sub);
  assertEquals(userId({ sub, role: "anon" }), null);
  assertEquals(userId({ sub, role: "service_role" }), null);
  assertEquals(userId({ sub: "not-a-uuid", role: "authenticated" }), null);
  assertEquals(userId({ sub: `${sub}'--`, role: "authenticated" }), null);
  assertEquals(userId({ role: "authenticated" }), null);
  assertEquals(userId(null), null);
});
