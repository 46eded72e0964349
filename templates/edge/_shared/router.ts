// The switch over data types: one module per type (the "monofunction": one processor,
// every type's logic in _shared/types/). An unknown type is a permanent failure.
import { MarketDataError } from "./http.ts";
import type { DataTypeModule } from "./types/common.ts";
import { availableExchanges } from "./types/available-exchanges.ts";
import { dividendHistory } from "./types/dividend-history.ts";
import { exchangeMarketStatus } from "./types/exchange-market-status.ts";
import { exchangeVariants } from "./types/exchange-variants.ts";
import { financialStatements } from "./types/financial-statements.ts";
import { gradesHistorical } from "./types/grades-historical.ts";
import { profile } from "./types/profile.ts";
import { quote } from "./types/quote.ts";
import { ratiosTtm } from "./types/ratios-ttm.ts";
import { revenueSegmentation } from "./types/revenue-segmentation.ts";
import { sharesFloat } from "./types/shares-float.ts";

/** A job whose data type no module handles: fail it permanently, with the reason. */
export class UnknownDataType extends MarketDataError {
  constructor(dataType: string) {
    super(`unknown data type ${JSON.stringify(dataType)}: no module handles it`);
  }
}

export function route(dataType: string): DataTypeModule {
  switch (dataType) {
    case "quote":
      return quote;
    case "profile":
      return profile;
    case "financial-statements":
      return financialStatements;
    case "ratios-ttm":
      return ratiosTtm;
    case "dividend-history":
      return dividendHistory;
    case "shares-float":
      return sharesFloat;
    case "revenue-segmentation":
      return revenueSegmentation;
    case "grades-historical":
      return gradesHistorical;
    case "exchange-variants":
      return exchangeVariants;
    case "available-exchanges":
      return availableExchanges;
    case "exchange-market-status":
      return exchangeMarketStatus;
    default:
      throw new UnknownDataType(dataType);
  }
}

export const DATA_TYPES: readonly string[] = [
  "quote",
  "profile",
  "financial-statements",
  "ratios-ttm",
  "dividend-history",
  "shares-float",
  "revenue-segmentation",
  "grades-historical",
  "exchange-variants",
  "available-exchanges",
  "exchange-market-status",
];
