// shares-float -> public.shares_float (one row per symbol), from FMP's `shares-float`.
import { date, type Item, num, type Row, singleEndpointModule, type TableSpec, whole } from "./common.ts";

export const spec: TableSpec = {
  table: "shares_float",
  key: ["symbol"],
  columns: [
    { name: "symbol", type: "text" },
    { name: "free_float", type: "numeric" },
    { name: "float_shares", type: "bigint" },
    { name: "outstanding_shares", type: "bigint" },
    { name: "source_date", type: "date" },
  ],
};

function toRows(items: Item[], symbol: string): Row[] {
  const f = items[0];
  return [{
    symbol,
    free_float: num(f.freeFloat),
    float_shares: whole(f.floatShares),
    outstanding_shares: whole(f.outstandingShares),
    source_date: date(f.date),
  }];
}

export const sharesFloat = singleEndpointModule({
  dataType: "shares-float",
  endpoint: "shares-float",
  spec,
  required: ["symbol"],
  toRows,
});
