// dividend-history -> public.dividend_history (one row per symbol and ex-date), from FMP's
// `dividends` endpoint. A company that never paid a dividend gets [] from the provider: the
// job completes with nothing to write (an unknown symbol cannot be told apart here).
import {
  date,
  type Item,
  num,
  requireValue,
  type Row,
  singleEndpointModule,
  type TableSpec,
  text,
} from "./common.ts";

export const spec: TableSpec = {
  table: "dividend_history",
  key: ["symbol", "ex_date"],
  columns: [
    { name: "symbol", type: "text" },
    { name: "ex_date", type: "date" },
    { name: "record_date", type: "date" },
    { name: "payment_date", type: "date" },
    { name: "declaration_date", type: "date" },
    { name: "adj_dividend", type: "numeric" },
    { name: "dividend", type: "numeric" },
    { name: "yield", type: "numeric" },
    { name: "frequency", type: "text" },
  ],
};

function toRows(items: Item[], symbol: string, endpoint: string): Row[] {
  return items.map((d, i) => ({
    symbol,
    ex_date: requireValue(date(d.date), endpoint, i, "date"),
    record_date: date(d.recordDate),
    payment_date: date(d.paymentDate),
    declaration_date: date(d.declarationDate),
    adj_dividend: num(d.adjDividend),
    dividend: num(d.dividend),
    yield: num(d.yield),
    frequency: text(d.frequency),
  }));
}

export const dividendHistory = singleEndpointModule({
  dataType: "dividend-history",
  endpoint: "dividends",
  spec,
  emptyIsNoData: true,
  required: ["date"],
  toRows,
});
