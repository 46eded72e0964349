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

class Identifier {
  constructor(readonly name: string) {}
}

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
  // sql("schema.name") is postgres.js's identifier helper: inlined into the recorded text.
  const sql = (strings: TemplateStringsArray | string, ...values: unknown[]) => {
    if (typeof strings === "string") return new Identifier(strings);
    let text = strings[0];
    const kept: unknown[] = [];
    values.forEach((v, i) => {
      if (v instanceof Identifier) text += v.name + strings[i + 1];
      else {
        kept.push(v);
        text += "$" + strings[i + 1];
      }
    });
    return run({ text, values: kept });
  };
  const extra = {
    calls,
    json: (v: unknown) => v,
    unsafe: (text: string, values: unknown[] = []) => run({ text, values }),
  };
  return Object.assign(sql, extra) as unknown as Sql & { calls: SqlCall[] };
}
