// financial-statements -> public.financial_statements (one row per symbol, statement type,
// period and fiscal year; the raw statement kept as jsonb), from three FMP endpoints called
// concurrently. A symbol is unknown only when all three return []; one empty statement
// kind (e.g. a fund without a cash-flow statement) just writes nothing for it.
import type { Sql } from "../db.ts";
import type { Holder } from "../permits.ts";
import { UnknownSymbol } from "../http.ts";
import { settleLimited, valuesOrThrow } from "../pool.ts";
import {
  type ApiConfig,
  type DataTypeModule,
  date,
  endpointUrl,
  expectItems,
  type Item,
  type JobDeps,
  malformed,
  type Row,
  type TableSpec,
  text,
  timestamp,
  upsertRows,
} from "./common.ts";

/** Endpoint -> the statement_type it fills. */
export const STATEMENTS: Readonly<Record<string, string>> = {
  "income-statement": "income",
  "balance-sheet-statement": "balance-sheet",
  "cash-flow-statement": "cash-flow",
};
const ENDPOINTS = Object.keys(STATEMENTS);
const PERIODS = new Set(["FY", "Q1", "Q2", "Q3", "Q4"]);

export const spec: TableSpec = {
  table: "financial_statements",
  key: ["symbol", "statement_type", "period", "fiscal_year"],
  columns: [
    { name: "symbol", type: "text" },
    { name: "statement_type", type: "text" },
    { name: "period", type: "text" },
    { name: "fiscal_year", type: "integer" },
    { name: "date", type: "date" },
    { name: "reported_currency", type: "text" },
    { name: "filing_date", type: "date" },
    { name: "accepted_date", type: "timestamptz" },
    { name: "data", type: "jsonb" },
  ],
};

export function requestUrls(api: ApiConfig, symbol: string): string[] {
  return ENDPOINTS.map((endpoint) => endpointUrl(api, endpoint, { symbol }));
}

/** One endpoint's payload to rows; [] passes through (the caller decides about emptiness). */
export function parse(payload: unknown, endpoint: string, symbol: string): Row[] {
  if (Array.isArray(payload) && payload.length === 0) return [];
  const statementType = STATEMENTS[endpoint];
  if (!statementType) throw new Error(`not a statement endpoint: ${endpoint}`);
  return expectItems(payload, endpoint, symbol, ["date", "fiscalYear", "period"]).map((s: Item, i) => {
    const period = text(s.period);
    if (period === null || !PERIODS.has(period)) {
      throw malformed(endpoint, `item ${i} has period ${JSON.stringify(s.period)}`);
    }
    const fiscalYear = Number(s.fiscalYear);
    if (!Number.isInteger(fiscalYear) || fiscalYear < 1900 || fiscalYear > 2200) {
      throw malformed(endpoint, `item ${i} has fiscalYear ${JSON.stringify(s.fiscalYear)}`);
    }
    return {
      symbol,
      statement_type: statementType,
      period,
      fiscal_year: fiscalYear,
      date: date(s.date),
      reported_currency: text(s.reportedCurrency),
      filing_date: date(s.filingDate),
      accepted_date: timestamp(s.acceptedDate),
      data: s,
    };
  });
}

export const financialStatements: DataTypeModule = {
  dataType: "financial-statements",
  endpoints: ENDPOINTS,
  spec,
  async fetchRows(deps: JobDeps): Promise<Row[]> {
    const urls = requestUrls(deps.api, deps.symbol);
    const payloads = valuesOrThrow(await settleLimited(urls, 3, (url, i) => deps.get(url, ENDPOINTS[i])));
    const rows = payloads.flatMap((payload, i) => parse(payload, ENDPOINTS[i], deps.symbol));
    if (rows.length === 0) {
      throw new UnknownSymbol(
        `unknown symbol ${deps.symbol}: no statement endpoint returned data`,
        ENDPOINTS[0],
      );
    }
    return rows;
  },
  upsert: (sql: Sql, rows: Row[], holder?: Holder) => upsertRows(sql, spec, rows, holder),
};
