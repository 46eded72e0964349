import { assertEquals, assertThrows } from "./testing/assert.ts";
import { DATA_TYPES, route, UnknownDataType } from "./router.ts";

const PLAN_TYPES = [
  "quote",
  "profile",
  "financial-statements",
  "ratios-ttm",
  "dividend-history",
  "shares-float",
  "revenue-segmentation",
  "grades-historical",
  "exchange-variants",
  "available-exchanges",
  "exchange-market-status",
];

Deno.test("router: every data type of phases.yaml reaches its own module", () => {
  assertEquals([...DATA_TYPES].sort(), [...PLAN_TYPES].sort());
  const modules = new Set();
  for (const t of PLAN_TYPES) {
    const m = route(t);
    assertEquals(m.dataType, t);
    modules.add(m);
  }
  assertEquals(modules.size, PLAN_TYPES.length);
});

Deno.test("router: the endpoints match phases.yaml", () => {
  assertEquals(route("financial-statements").endpoints, [
    "income-statement",
    "balance-sheet-statement",
    "cash-flow-statement",
  ]);
  assertEquals(route("dividend-history").endpoints, ["dividends"]);
  assertEquals(route("revenue-segmentation").endpoints, ["revenue-product-segmentation"]);
  assertEquals(route("exchange-variants").endpoints, ["search-exchange-variants"]);
  assertEquals(route("exchange-market-status").endpoints, ["exchange-market-hours"]);
});

Deno.test("router: an unknown data type is a permanent failure naming the type", () => {
  for (const t of ["bogus", "", "Quote", "quote "]) {
    const err = assertThrows(() => route(t), UnknownDataType);
    assertEquals(err.retryable, false);
    assertEquals(err.providerFailure, false);
    assertEquals(err.message.includes(JSON.stringify(t)), true);
  }
});
