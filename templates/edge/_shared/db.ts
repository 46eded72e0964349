// The database: one small postgres.js pool per function instance, created on first use from
// SUPABASE_DB_URL (which Supabase sets for every function). prepare: false keeps it usable
// through Supavisor's transaction pooler; fetch_types: false saves a round trip per new
// connection (arrays travel as jsonb, so no array type is needed).
import postgres from "postgres";

export type Sql = postgres.Sql;

let client: Sql | null = null;

export function dbUrl(): string {
  const url = Deno.env.get("SUPABASE_DB_URL");
  if (!url) throw new Error("SUPABASE_DB_URL is not set");
  return url;
}

export function db(): Sql {
  if (client === null) {
    client = postgres(dbUrl(), {
      max: Number(Deno.env.get("DB_POOL_MAX") ?? 4),
      prepare: false,
      fetch_types: false,
      connect_timeout: Number(Deno.env.get("DB_CONNECT_TIMEOUT_S") ?? 5),
      idle_timeout: 20,
      onnotice: () => {},
      connection: { application_name: "edge-functions" },
    });
  }
  return client;
}

/** Close the pool (tests, and the local server's shutdown). */
export async function closeDb(): Promise<void> {
  const c = client;
  client = null;
  if (c) await c.end({ timeout: 1 });
}

export class DbTimeout extends Error {
  constructor(ms: number) {
    super(`the database did not answer within ${ms} ms`);
    this.name = "DbTimeout";
  }
}

/**
 * Bound a query's wall time: connect_timeout only covers the handshake, and a database that
 * accepts connections but never answers must not hang a function. The query is cancelled
 * on the server when the time is up.
 */
export function withTimeout<T>(query: Promise<T> & { cancel?: () => unknown }, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      try {
        query.cancel?.();
      } catch {
        // cancelling is best effort
      }
      reject(new DbTimeout(ms));
    }, ms);
  });
  // A late rejection after the timeout must not surface as an unhandled rejection.
  query.catch(() => {});
  return Promise.race([query, deadline]).finally(() => clearTimeout(timer));
}

/** SQLSTATE of a database error, if it has one. */
export function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown })?.code;
  return typeof code === "string" ? code : undefined;
}

/** Deadlock (40P01) or serialization failure (40001): the statement may simply be retried. */
export function isTransientConflict(err: unknown): boolean {
  const code = sqlState(err);
  return code === "40P01" || code === "40001";
}

/**
 * Failures that say "this job's data cannot be stored" rather than "the database is not
 * there": data exceptions (22xxx) and integrity violations (23xxx).
 */
export function isDataError(err: unknown): boolean {
  const code = sqlState(err);
  return code !== undefined && (code.startsWith("22") || code.startsWith("23"));
}
