// revenue-segmentation -> public.revenue_segmentation (one row per symbol, fiscal year and
// period; segment -> revenue kept as jsonb), from FMP's `revenue-product-segmentation`.
// [] (a company that reports no segments) completes with nothing to write.
import {
  date,
  type Item,
  malformed,
  object,
  type Row,
  singleEndpointModule,
  type TableSpec,
  text,
} from "./common.ts";

export const spec: TableSpec = {
  table: "revenue_segmentation",
  key: ["symbol", "fiscal_year", "period"],
  columns: [
    { name: "symbol", type: "text" },
    { name: "fiscal_year", type: "integer" },
    { name: "period", type: "text" },
    { name: "reported_currency", type: "text" },
    { name: "date", type: "date" },
    { name: "data", type: "jsonb" },
  ],
};

function toRows(items: Item[], symbol: string, endpoint: string): Row[] {
  return items.map((s, i) => {
    const fiscalYear = Number(s.fiscalYear);
    if (!Number.isInteger(fiscalYear)) {
      throw malformed(endpoint, `item ${i} has fiscalYear ${JSON.stringify(s.fiscalYear)}`);
    }
    const period = text(s.period);
    const data = object(s.data);
    if (period === null) throw malformed(endpoint, `item ${i} has period ${JSON.stringify(s.period)}`);
    if (data === null) throw malformed(endpoint, `item ${i} has no "data" object`);
    return {
      symbol,
      fiscal_year: fiscalYear,
      period,
      reported_currency: text(s.reportedCurrency),
      date: date(s.date),
      data,
    };
  });
}

export const revenueSegmentation = singleEndpointModule({
  dataType: "revenue-segmentation",
  endpoint: "revenue-product-segmentation",
  spec,
  emptyIsNoData: true,
  required: ["fiscalYear", "period", "data"],
  toRows,
});
