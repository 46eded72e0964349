// exchange-variants -> public.exchange_variants (one row per symbol and listing), from FMP's
// `search-exchange-variants`. The job's symbol is the key; each item's symbol is the variant.
import { bool, type Item, num, type Row, singleEndpointModule, type TableSpec, text } from "./common.ts";

export const spec: TableSpec = {
  table: "exchange_variants",
  key: ["symbol", "variant_symbol"],
  columns: [
    { name: "symbol", type: "text" },
    { name: "variant_symbol", type: "text" },
    { name: "company_name", type: "text" },
    { name: "exchange", type: "text" },
    { name: "exchange_short_name", type: "text" },
    { name: "currency", type: "text" },
    { name: "price", type: "numeric" },
    { name: "is_actively_trading", type: "boolean" },
  ],
};

function toRows(items: Item[], symbol: string): Row[] {
  return items.map((v) => ({
    symbol,
    variant_symbol: text(v.symbol),
    company_name: text(v.companyName),
    // The stable API names the full exchange name exchangeFullName and the short code
    // exchange; older payloads have exchange (full) and exchangeShortName.
    exchange: text(v.exchangeFullName ?? v.exchange),
    exchange_short_name: text(v.exchangeShortName ?? v.exchange),
    currency: text(v.currency),
    price: num(v.price),
    is_actively_trading: bool(v.isActivelyTrading) ?? true,
  }));
}

export const exchangeVariants = singleEndpointModule({
  dataType: "exchange-variants",
  endpoint: "search-exchange-variants",
  spec,
  required: ["symbol"],
  toRows,
});
