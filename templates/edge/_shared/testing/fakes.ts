// Test doubles: a JobDeps whose `get` answers from fixtures, and a scripted stand-in for the
// postgres.js client (just the calls the functions make: tagged templates, json, unsafe).
import type { Sql } from "../db.ts";
import type { JobDeps } from "../types/common.ts";

export const API = { baseUrl: "https://md.example/stable", apiKey: "KEY123456" };

export type Answer = (endpoint: string, url: string) => unknown;

export function fakeDeps(
  symbol: string,
  answer: Answer,
  sql: Sql = fakeSql(() => []),
): JobDeps & { urls: string[] } {
  const urls: string[] = [];
  return {
    symbol,
    api: API,
    sql,
    urls,
    get(url: string, endpoint: string): Promise<unknown> {
      urls.push(url);
      try {
        return Promise.resolve(answer(endpoint, url));
      } catch (err) {
        return Promise.reject(err);
      }
    },
  };
}

export interface SqlCall {
  text: string;
  values: unknown[];
}

type Rows = Record<string, unknown>[];

/**
 * A fake client: every query (tagged or unsafe) is recorded and answered by `respond`, which
 * may return rows or throw. `sql.json(v)` passes v through, so responders see plain values.
 */
export function fakeSql(respond: (call: SqlCall) => Rows | Promise<Rows>): Sql & { calls: SqlCall[] } {
  const calls: SqlCall[] = [];
  const run = async (call: SqlCall) => {
    calls.push(call);
    const rows = await respond(call);
    return Object.assign([...rows], { count: rows.length });
  };
  const sql = (strings: TemplateStringsArray, ...values: unknown[]) =>
    run({ text: strings.join("$"), values });
  const extra = {
    calls,
    json: (v: unknown) => v,
    unsafe: (text: string, values: unknown[] = []) => run({ text, values }),
  };
  return Object.assign(sql, extra) as unknown as Sql & { calls: SqlCall[] };
}
