// quote -> public.stock_quotes (one row per symbol), from FMP's `quote` endpoint.
// The stable endpoint sends no eps, pe, avgVolume, earningsAnnouncement or
// sharesOutstanding: those columns keep what the legacy refresh stored (keep: true).
import {
  type Item,
  num,
  type Row,
  singleEndpointModule,
  type TableSpec,
  text,
  timestamp,
  whole,
} from "./common.ts";

export const spec: TableSpec = {
  table: "stock_quotes",
  key: ["symbol"],
  columns: [
    { name: "symbol", type: "text" },
    { name: "price", type: "numeric" },
    { name: "change", type: "numeric" },
    { name: "changes_percentage", type: "numeric" },
    { name: "day_low", type: "numeric" },
    { name: "day_high", type: "numeric" },
    { name: "year_low", type: "numeric" },
    { name: "year_high", type: "numeric" },
    { name: "market_cap", type: "bigint" },
    { name: "price_avg_50", type: "numeric" },
    { name: "price_avg_200", type: "numeric" },
    { name: "exchange", type: "text" },
    { name: "volume", type: "bigint" },
    { name: "avg_volume", type: "bigint", keep: true },
    { name: "open", type: "numeric" },
    { name: "previous_close", type: "numeric" },
    { name: "eps", type: "numeric", keep: true },
    { name: "pe", type: "numeric", keep: true },
    { name: "earnings_announcement", type: "timestamptz", keep: true },
    { name: "shares_outstanding", type: "bigint", keep: true },
    { name: "quote_timestamp", type: "timestamptz" },
  ],
};

function toRows(items: Item[], symbol: string): Row[] {
  // One quote per symbol: the first item is the answer.
  const q = items[0];
  return [{
    symbol,
    price: num(q.price),
    change: num(q.change),
    changes_percentage: num(q.changePercentage ?? q.changesPercentage),
    day_low: num(q.dayLow),
    day_high: num(q.dayHigh),
    year_low: num(q.yearLow),
    year_high: num(q.yearHigh),
    market_cap: whole(q.marketCap),
    price_avg_50: num(q.priceAvg50),
    price_avg_200: num(q.priceAvg200),
    exchange: text(q.exchange),
    volume: whole(q.volume),
    avg_volume: whole(q.avgVolume),
    open: num(q.open),
    previous_close: num(q.previousClose),
    eps: num(q.eps),
    pe: num(q.pe),
    earnings_announcement: timestamp(q.earningsAnnouncement),
    shares_outstanding: whole(q.sharesOutstanding),
    quote_timestamp: timestamp(q.timestamp),
  }];
}

export const quote = singleEndpointModule({
  dataType: "quote",
  endpoint: "quote",
  spec,
  required: ["symbol", "price"],
  toRows,
});
