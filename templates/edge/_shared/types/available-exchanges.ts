// available-exchanges -> public.available_exchanges (one row per exchange), from FMP's
// `available-exchanges`. A global type: its job's symbol is '*' and the request carries no
// symbol; any other job symbol fetches the same full list.
import type { Sql } from "../db.ts";
import type { Holder } from "../permits.ts";
import {
  type ApiConfig,
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

const ENDPOINT = "available-exchanges";

export const spec: TableSpec = {
  table: "available_exchanges",
  key: ["exchange"],
  columns: [
    { name: "exchange", type: "text" },
    { name: "name", type: "text" },
    { name: "country_name", type: "text" },
    { name: "country_code", type: "text" },
    { name: "symbol_suffix", type: "text" },
    { name: "delay", type: "text" },
  ],
};

export function requestUrls(api: ApiConfig, _symbol = "*"): string[] {
  return [endpointUrl(api, ENDPOINT)];
}

export function parse(payload: unknown): Row[] {
  return expectItems(payload, ENDPOINT, "*", ["exchange"]).map((e: Item) => ({
    exchange: text(e.exchange),
    name: text(e.name),
    country_name: text(e.countryName),
    country_code: text(e.countryCode),
    // '' is a real suffix (US listings have none): keep it rather than null.
    symbol_suffix: typeof e.symbolSuffix === "string" ? e.symbolSuffix : null,
    delay: text(e.delay),
  }));
}

export const availableExchanges: DataTypeModule = {
  dataType: "available-exchanges",
  endpoints: [ENDPOINT],
  spec,
  async fetchRows(deps: JobDeps): Promise<Row[]> {
    const [url] = requestUrls(deps.api, deps.symbol);
    return parse(await deps.get(url, ENDPOINT));
  },
  upsert: (sql: Sql, rows: Row[], holder?: Holder) => upsertRows(sql, spec, rows, holder),
};
