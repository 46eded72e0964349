// Every data-type module: its request URLs, its validation (a good payload, a missing key
// field, the wrong shape, an empty array) and its row mapping (exactly the table's columns).
import { assert, assertEquals, assertRejects } from "../testing/assert.ts";
import { fakeDeps, fakeSql } from "../testing/fakes.ts";
import { payload, payloads } from "../testing/fixtures.ts";
import { Malformed, UnknownSymbol } from "../http.ts";
import type { DataTypeModule, Row } from "./common.ts";
import { availableExchanges } from "./available-exchanges.ts";
import { dividendHistory } from "./dividend-history.ts";
import { exchangeMarketStatus } from "./exchange-market-status.ts";
import { exchangeVariants } from "./exchange-variants.ts";
import { financialStatements } from "./financial-statements.ts";
import { gradesHistorical } from "./grades-historical.ts";
import { profile } from "./profile.ts";
import { quote } from "./quote.ts";
import { ratiosTtm } from "./ratios-ttm.ts";
import { revenueSegmentation } from "./revenue-segmentation.ts";
import { sharesFloat } from "./shares-float.ts";

const BASE = "https://md.example/stable";

interface Case {
  module: DataTypeModule;
  symbol: string;
  urls: string[];
  rows: number;
  /** A field whose absence makes the payload malformed. */
  keyField: string;
  /** [] is "no data" for a known symbol (histories), not an unknown symbol. */
  emptyIsNoData?: boolean;
  check(rows: Row[]): void;
}

const CASES: Case[] = [
  {
    module: quote,
    symbol: "AAPL",
    urls: [`${BASE}/quote?symbol=AAPL&apikey=KEY123456`],
    rows: 1,
    keyField: "price",
    check([r]) {
      assertEquals(r.symbol, "AAPL");
      assertEquals(r.price, 229);
      assertEquals(r.changes_percentage, 2.0909);
      assertEquals(r.market_cap, 3440038000000);
      assertEquals(r.previous_close, 224.31);
      assertEquals(r.eps, null); // the stable quote has none: the column keeps its value
      assertEquals(r.quote_timestamp, new Date(1794596400 * 1000).toISOString());
    },
  },
  {
    module: profile,
    symbol: "AAPL",
    urls: [`${BASE}/profile?symbol=AAPL&apikey=KEY123456`],
    rows: 1,
    keyField: "symbol",
    check([r]) {
      assertEquals(r.company_name, "Apple Inc.");
      assertEquals(r.full_time_employees, 164000); // sent as a string
      assertEquals(r.exchange_full_name, "NASDAQ Global Select");
      assertEquals(r.ipo_date, "1980-12-12");
      assertEquals(r.is_etf, false);
      assertEquals(r.is_actively_trading, true);
    },
  },
  {
    module: financialStatements,
    symbol: "AAPL",
    urls: ["income-statement", "balance-sheet-statement", "cash-flow-statement"].map((e) =>
      `${BASE}/${e}?symbol=AAPL&apikey=KEY123456`
    ),
    rows: 4,
    keyField: "fiscalYear",
    check(rows) {
      assertEquals(rows.map((r) => r.statement_type), ["income", "income", "balance-sheet", "cash-flow"]);
      assertEquals(rows[0].fiscal_year, 2025); // "2025" in the payload
      assertEquals(rows[0].period, "FY");
      assertEquals(rows[0].filing_date, "2025-10-31");
      assertEquals(rows[0].accepted_date, "2025-10-31 06:01:26");
      assertEquals((rows[0].data as Record<string, unknown>).revenue, 416161000000);
    },
  },
  {
    module: ratiosTtm,
    symbol: "AAPL",
    urls: [`${BASE}/ratios-ttm?symbol=AAPL&apikey=KEY123456`],
    rows: 1,
    keyField: "symbol",
    check([r]) {
      assertEquals(r.gross_profit_margin_ttm, 0.4691);
      assertEquals(r.price_to_earnings_ratio_ttm, 37.66);
      assertEquals(r.return_on_equity_ttm, null);
    },
  },
  {
    module: dividendHistory,
    symbol: "AAPL",
    emptyIsNoData: true,
    urls: [`${BASE}/dividends?symbol=AAPL&apikey=KEY123456`],
    rows: 2,
    keyField: "date",
    check([r]) {
      assertEquals(r.ex_date, "2026-11-10");
      assertEquals(r.declaration_date, null); // "" from the provider
      assertEquals(r.adj_dividend, 0.26);
      assertEquals(r.frequency, "Quarterly");
    },
  },
  {
    module: sharesFloat,
    symbol: "AAPL",
    urls: [`${BASE}/shares-float?symbol=AAPL&apikey=KEY123456`],
    rows: 1,
    keyField: "symbol",
    check([r]) {
      assertEquals(r.float_shares, 14990000000); // a float rounded for bigint
      assertEquals(r.source_date, "2026-11-13");
    },
  },
  {
    module: revenueSegmentation,
    symbol: "AAPL",
    emptyIsNoData: true,
    urls: [`${BASE}/revenue-product-segmentation?symbol=AAPL&apikey=KEY123456`],
    rows: 1,
    keyField: "data",
    check([r]) {
      assertEquals(r.fiscal_year, 2025);
      assertEquals(r.reported_currency, null);
      assertEquals((r.data as Record<string, number>).iPhone, 209586000000);
    },
  },
  {
    module: gradesHistorical,
    symbol: "AAPL",
    emptyIsNoData: true,
    urls: [`${BASE}/grades-historical?symbol=AAPL&apikey=KEY123456`],
    rows: 2,
    keyField: "date",
    check([r]) {
      assertEquals(r.date, "2026-11-01");
      assertEquals(r.analyst_ratings_buy, 23);
      assertEquals(r.analyst_ratings_strong_sell, 1);
    },
  },
  {
    module: exchangeVariants,
    symbol: "AAPL",
    urls: [`${BASE}/search-exchange-variants?symbol=AAPL&apikey=KEY123456`],
    rows: 2,
    keyField: "symbol",
    check(rows) {
      assertEquals(rows.map((r) => r.variant_symbol), ["AAPL", "AAPL.DE"]);
      assertEquals(rows[1].exchange, "Deutsche Boerse Xetra");
      assertEquals(rows[1].exchange_short_name, "XETRA");
      assertEquals(rows[1].is_actively_trading, true); // missing: the column's default
    },
  },
  {
    module: availableExchanges,
    symbol: "*",
    urls: [`${BASE}/available-exchanges?apikey=KEY123456`],
    rows: 2,
    keyField: "exchange",
    check(rows) {
      assertEquals(rows[0].symbol_suffix, ""); // an empty suffix is a real value
      assertEquals(rows[1].country_code, "DE");
    },
  },
  {
    module: exchangeMarketStatus,
    symbol: "NASDAQ",
    urls: [`${BASE}/exchange-market-hours?exchange=NASDAQ&apikey=KEY123456`],
    rows: 1,
    keyField: "exchange",
    check([r]) {
      assertEquals(r.exchange, "NASDAQ");
      assertEquals(r.opening_hour, "09:30 AM -05:00");
      assertEquals(r.is_market_open, false);
    },
  },
];

const fromFixtures = (endpoint: string) => payload(endpoint);

for (const c of CASES) {
  const name = c.module.dataType;

  Deno.test(`${name}: request URLs`, async () => {
    const deps = fakeDeps(c.symbol, fromFixtures);
    await c.module.fetchRows(deps);
    assertEquals(deps.urls, c.urls);
  });

  Deno.test(`${name}: a good payload maps to rows of exactly the table's columns`, async () => {
    const rows = await c.module.fetchRows(fakeDeps(c.symbol, fromFixtures));
    assertEquals(rows.length, c.rows);
    const columns = c.module.spec.columns.map((col) => col.name);
    for (const r of rows) assertEquals(Object.keys(r), columns);
    for (const key of c.module.spec.key) assert(columns.includes(key), `key column ${key} is a column`);
    c.check(rows);
  });

  Deno.test(`${name}: a missing key field is malformed`, async () => {
    const answer = (endpoint: string) => {
      const p = payload(endpoint) as Record<string, unknown>[];
      delete p[0][c.keyField];
      return p;
    };
    const err = await assertRejects(() => c.module.fetchRows(fakeDeps(c.symbol, answer)), Malformed);
    assert(err.message.startsWith("malformed JSON from "), err.message);
    assert(err.message.includes(c.keyField), err.message);
  });

  Deno.test(`${name}: the wrong shape is malformed`, async () => {
    for (const wrong of [{ "Error Message": "nope" }, "text", null, [1, 2], [["nested"]]]) {
      await assertRejects(() => c.module.fetchRows(fakeDeps(c.symbol, () => wrong)), Malformed);
    }
  });

  Deno.test(`${name}: the upsert is one INSERT ... ON CONFLICT with the rows as one jsonb parameter`, async () => {
    const sql = fakeSql(() => [{}]);
    const rows = await c.module.fetchRows(fakeDeps(c.symbol, fromFixtures, sql));
    sql.calls.length = 0;
    await c.module.upsert(sql, rows);
    assertEquals(sql.calls.length, 1);
    const { text, values } = sql.calls[0];
    assert(text.startsWith(`INSERT INTO public."${c.module.spec.table}" AS t`), text);
    assert(
      text.includes(`ON CONFLICT (${c.module.spec.key.map((k) => `"${k}"`).join(", ")}) DO UPDATE`),
      text,
    );
    assert(text.endsWith("updated_at = now()"), text);
    assertEquals(values, [rows]);
  });

  if (c.emptyIsNoData) {
    Deno.test(`${name}: an empty array is no data (nothing to write), not an error`, async () => {
      assertEquals(await c.module.fetchRows(fakeDeps(c.symbol, () => [])), []);
      const sql = fakeSql(() => []);
      assertEquals(await c.module.upsert(sql, []), 0);
      assertEquals(sql.calls.length, 0);
    });
  } else {
    Deno.test(`${name}: an empty array is an unknown symbol`, async () => {
      await assertRejects(() => c.module.fetchRows(fakeDeps(c.symbol, () => [])), UnknownSymbol);
    });
  }
}

Deno.test("financial-statements: one empty statement kind is fine, three are an unknown symbol", async () => {
  const answer = (endpoint: string) => endpoint === "cash-flow-statement" ? [] : payloads[endpoint];
  const rows = await financialStatements.fetchRows(fakeDeps("AAPL", answer));
  assertEquals(rows.length, 3);
});

Deno.test("financial-statements: a period outside FY/Q1-Q4 is malformed", async () => {
  const answer = (endpoint: string) => {
    const p = payload(endpoint) as Record<string, unknown>[];
    p[0].period = "H1";
    return p;
  };
  await assertRejects(() => financialStatements.fetchRows(fakeDeps("AAPL", answer)), Malformed, "period");
});

Deno.test("dividend-history: an invalid ex-date is malformed, not null", async () => {
  const answer = () => [{ ...payloads.dividends[0] as object, date: "2026-13-45" }];
  await assertRejects(() => dividendHistory.fetchRows(fakeDeps("AAPL", answer)), Malformed, "date");
});

Deno.test("exchange-market-status '*': every exchange in the table, unknown ones skipped", async () => {
  const sql = fakeSql(() => [{ exchange: "GONE" }, { exchange: "NASDAQ" }]);
  const deps = fakeDeps("*", (_e, url) => url.includes("GONE") ? [] : payloads["exchange-market-hours"], sql);
  const rows = await exchangeMarketStatus.fetchRows(deps);
  assertEquals(rows.map((r) => r.exchange), ["NASDAQ"]);
  assertEquals(deps.urls.length, 2);
  assert(sql.calls[0].text.includes("available_exchanges"), "falls back to available_exchanges");
});

Deno.test("exchange-market-status '*' with no exchange known fails permanently", async () => {
  await assertRejects(
    () => exchangeMarketStatus.fetchRows(fakeDeps("*", () => [], fakeSql(() => []))),
    UnknownSymbol,
    "no exchange is known",
  );
});
