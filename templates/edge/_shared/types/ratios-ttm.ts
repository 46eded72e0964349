// ratios-ttm -> public.ratios_ttm (one row per symbol), from FMP's `ratios-ttm` endpoint.
import { type Item, num, type Row, singleEndpointModule, type TableSpec } from "./common.ts";

/** Column <- provider field. */
export const FIELDS: Readonly<Record<string, string>> = {
  gross_profit_margin_ttm: "grossProfitMarginTTM",
  operating_profit_margin_ttm: "operatingProfitMarginTTM",
  net_profit_margin_ttm: "netProfitMarginTTM",
  current_ratio_ttm: "currentRatioTTM",
  quick_ratio_ttm: "quickRatioTTM",
  debt_to_equity_ratio_ttm: "debtToEquityRatioTTM",
  price_to_earnings_ratio_ttm: "priceToEarningsRatioTTM",
  price_to_book_ratio_ttm: "priceToBookRatioTTM",
  price_to_sales_ratio_ttm: "priceToSalesRatioTTM",
  dividend_yield_ttm: "dividendYieldTTM",
  return_on_equity_ttm: "returnOnEquityTTM",
  return_on_assets_ttm: "returnOnAssetsTTM",
};

export const spec: TableSpec = {
  table: "ratios_ttm",
  key: ["symbol"],
  columns: [
    { name: "symbol", type: "text" },
    ...Object.keys(FIELDS).map((name) => ({ name, type: "numeric" as const })),
  ],
};

function toRows(items: Item[], symbol: string): Row[] {
  const r = items[0];
  const row: Row = { symbol };
  for (const [column, field] of Object.entries(FIELDS)) row[column] = num(r[field]);
  return [row];
}

export const ratiosTtm = singleEndpointModule({
  dataType: "ratios-ttm",
  endpoint: "ratios-ttm",
  spec,
  required: ["symbol"],
  toRows,
});
