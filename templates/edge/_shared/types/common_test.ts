import { assertEquals } from "../testing/assert.ts";
import { bool, date, dedupe, endpointUrl, int, num, text, timestamp, upsertSql, whole } from "./common.ts";
import { spec as quoteSpec } from "./quote.ts";

Deno.test("conversions are lenient: wrong types and junk become null", () => {
  assertEquals([num(1.5), num("2.5"), num(""), num("abc"), num(null), num(Infinity), num({})], [
    1.5,
    2.5,
    null,
    null,
    null,
    null,
    null,
  ]);
  assertEquals([whole(1e12 + 0.4), whole("164000"), whole(true)], [1e12, 164000, null]);
  assertEquals([int(5e9), int("12")], [null, 12]);
  assertEquals([text(""), text("a"), text(3), text(false)], [null, "a", "3", null]);
  assertEquals([bool(true), bool("false"), bool("yes")], [true, false, null]);
  assertEquals([
    date("2024-02-29"),
    date("2023-02-29"),
    date("2024-11-01 06:01:36"),
    date(""),
    date(20240101),
  ], [
    "2024-02-29",
    null,
    "2024-11-01",
    null,
    null,
  ]);
  assertEquals(timestamp(0), null);
  assertEquals(timestamp("2024-11-01 06:01:36"), "2024-11-01 06:01:36");
  assertEquals(timestamp("2024-11-01T06:01:36.5Z"), "2024-11-01T06:01:36.5Z");
  assertEquals(timestamp("yesterday"), null);
});

Deno.test("endpoint URLs keep the base path and encode the parameters", () => {
  assertEquals(
    endpointUrl({ baseUrl: "http://h:1/stable/", apiKey: "k&=" }, "quote", { symbol: "BRK.B" }),
    "http://h:1/stable/quote?symbol=BRK.B&apikey=k%26%3D",
  );
});

Deno.test("dedupe keeps the first row of each key", () => {
  const rows = [{ symbol: "A", d: "1", v: 1 }, { symbol: "A", d: "1", v: 2 }, { symbol: "A", d: "2", v: 3 }];
  assertEquals(dedupe(rows, ["symbol", "d"]).map((r) => r.v), [1, 3]);
});

Deno.test("the upsert: ON CONFLICT on the key, every other column updated, updated_at = now()", () => {
  const sql = upsertSql(quoteSpec);
  assertEquals(sql.startsWith('INSERT INTO public."stock_quotes" AS t ("symbol", "price"'), true);
  assertEquals(sql.includes('ON CONFLICT ("symbol") DO UPDATE SET "price" = excluded."price"'), true);
  assertEquals(sql.includes('"eps" = COALESCE(excluded."eps", t."eps")'), true);
  assertEquals(sql.endsWith("updated_at = now()"), true);
  assertEquals(sql.includes("jsonb_to_recordset($1::jsonb)"), true);
  assertEquals(sql.includes('"symbol" = excluded'), false);
});
