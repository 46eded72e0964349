// grades-historical -> public.grades_historical (one row per symbol and month), from FMP's
// `grades-historical` endpoint. [] (no analyst coverage) completes with nothing to write.
import {
  date,
  int,
  type Item,
  requireValue,
  type Row,
  singleEndpointModule,
  type TableSpec,
} from "./common.ts";

/** Column <- provider field. */
export const FIELDS: Readonly<Record<string, string>> = {
  analyst_ratings_strong_buy: "analystRatingsStrongBuy",
  analyst_ratings_buy: "analystRatingsBuy",
  analyst_ratings_hold: "analystRatingsHold",
  analyst_ratings_sell: "analystRatingsSell",
  analyst_ratings_strong_sell: "analystRatingsStrongSell",
};

export const spec: TableSpec = {
  table: "grades_historical",
  key: ["symbol", "date"],
  columns: [
    { name: "symbol", type: "text" },
    { name: "date", type: "date" },
    ...Object.keys(FIELDS).map((name) => ({ name, type: "integer" as const })),
  ],
};

function toRows(items: Item[], symbol: string, endpoint: string): Row[] {
  return items.map((g, i) => {
    const row: Row = { symbol, date: requireValue(date(g.date), endpoint, i, "date") };
    for (const [column, field] of Object.entries(FIELDS)) row[column] = int(g[field]);
    return row;
  });
}

export const gradesHistorical = singleEndpointModule({
  dataType: "grades-historical",
  endpoint: "grades-historical",
  spec,
  emptyIsNoData: true,
  required: ["date"],
  toRows,
});
