// exchange-market-status -> public.exchange_market_status (one row per exchange), from FMP's
// `exchange-market-hours?exchange=CODE`.
//
// The job's symbol is an exchange code (NASDAQ), or '*' meaning "every exchange we know":
// the codes already in exchange_market_status, or, while that table is empty (the scheduled
// refresh queues '*' exactly then), those in available_exchanges. '*' makes one call per
// exchange (at most 4 at a time); an exchange the provider no longer knows is skipped, any
// other failure fails the job. Every one of those calls takes its own call permit (the
// processor's `get`), so '*' costs one call per exchange in the budget, counted as it is made:
// how many exchanges there are is only known when the job runs.
import type { Sql } from "../db.ts";
import type { Holder } from "../permits.ts";
import { UnknownSymbol } from "../http.ts";
import { settleLimited, valuesOrThrow } from "../pool.ts";
import {
  type ApiConfig,
  bool,
  type DataTypeModule,
  endpointUrl,
  expectItems,
  type Item,
  type JobDeps,
  type Row,
  type TableSpec,
  text,
  upsertRows,
} from "./common.ts";

const ENDPOINT = "exchange-market-hours";
const CONCURRENCY = 4;

export const spec: TableSpec = {
  table: "exchange_market_status",
  key: ["exchange"],
  columns: [
    { name: "exchange", type: "text" },
    { name: "name", type: "text" },
    { name: "opening_hour", type: "text" },
    { name: "closing_hour", type: "text" },
    { name: "timezone", type: "text" },
    { name: "is_market_open", type: "boolean" },
  ],
};

export function requestUrls(api: ApiConfig, exchanges: readonly string[]): string[] {
  return exchanges.map((exchange) => endpointUrl(api, ENDPOINT, { exchange }));
}

/** One exchange's payload to its row (keyed by the code asked for). */
export function parse(payload: unknown, exchange: string): Row[] {
  const m: Item = expectItems(payload, ENDPOINT, exchange, ["exchange"])[0];
  return [{
    exchange,
    name: text(m.name),
    opening_hour: text(m.openingHour),
    closing_hour: text(m.closingHour),
    timezone: text(m.timezone),
    is_market_open: bool(m.isMarketOpen),
  }];
}

/** The exchange codes a job covers. */
export async function exchangesFor(symbol: string, sql: Sql): Promise<string[]> {
  if (symbol !== "*") return [symbol];
  const known = await sql<{ exchange: string }[]>`
    SELECT exchange FROM public.exchange_market_status
    UNION
    SELECT exchange FROM public.available_exchanges WHERE NOT EXISTS (SELECT 1 FROM public.exchange_market_status)
    ORDER BY 1`;
  return known.map((r) => r.exchange);
}

export const exchangeMarketStatus: DataTypeModule = {
  dataType: "exchange-market-status",
  endpoints: [ENDPOINT],
  spec,
  async fetchRows(deps: JobDeps): Promise<Row[]> {
    const exchanges = await exchangesFor(deps.symbol, deps.sql);
    if (exchanges.length === 0) {
      throw new UnknownSymbol("no exchange is known yet: refresh available-exchanges first", ENDPOINT);
    }
    const urls = requestUrls(deps.api, exchanges);
    const settled = await settleLimited(urls, CONCURRENCY, async (url, i) => {
      try {
        return parse(await deps.get(url, ENDPOINT), exchanges[i]);
      } catch (err) {
        // Under '*', an exchange the provider dropped is skipped, not fatal.
        if (deps.symbol === "*" && err instanceof UnknownSymbol) return [];
        throw err;
      }
    });
    const rows = valuesOrThrow(settled).flat();
    if (rows.length === 0) {
      throw new UnknownSymbol(`${ENDPOINT} knows none of ${exchanges.length} exchange(s)`, ENDPOINT);
    }
    return rows;
  },
  upsert: (sql: Sql, rows: Row[], holder?: Holder) => upsertRows(sql, spec, rows, holder),
};
