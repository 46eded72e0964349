// LOCAL ONLY. The part of PostgREST that a browser app of the rollout uses: calling a function
// with `supabase.rpc(name, args)`, i.e. POST /rest/v1/rpc/<name> with the arguments as a JSON
// object, as the role the JWT names (anon when only the apikey is sent), with
// request.jwt.claims set, in a transaction of its own, so that the database's grants and RLS
// decide, as they do behind a real project's PostgREST. Tables, filters, embedding and the
// rest of PostgREST are not imitated. Copied into a local build as _gateway/rest.ts.
import { db, sqlState, withTimeout } from "../_shared/db.ts";
import { bearerToken, JwtError, verifyJwt } from "../_shared/jwt.ts";
import { corsHeaders, preflight } from "../_shared/responses.ts";

export const RPC_ROUTE = /^\/rest\/v1\/rpc\/([A-Za-z_][A-Za-z0-9_]{0,62})$/;
const ARGUMENT = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const ROLES = new Set(["anon", "authenticated", "service_role"]);
const TIMEOUT_MS = 8000; // authenticated's statement_timeout on a hosted project

function answer(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { ...corsHeaders, "content-type": "application/json; charset=utf-8" },
  });
}

function problem(status: number, code: string, message: string, hint: string | null = null): Response {
  return answer({ code, details: null, hint, message }, status);
}

/** The caller's claims: the bearer token, else the apikey (Kong requires one of them). */
async function callerClaims(req: Request, secret: string): Promise<Record<string, unknown> | Response> {
  const token = bearerToken(req) ?? req.headers.get("apikey");
  if (!token) return problem(401, "PGRST301", "No API key found in request");
  try {
    const claims = await verifyJwt(token, secret) as Record<string, unknown>;
    if (typeof claims.role !== "string" || !ROLES.has(claims.role)) {
      return problem(401, "PGRST301", `role ${JSON.stringify(claims.role)} is not an API role`);
    }
    return claims;
  } catch (err) {
    return problem(401, "PGRST301", err instanceof JwtError ? err.message : "JWT invalid");
  }
}

export async function handleRpc(req: Request, name: string, secret: string): Promise<Response> {
  if (req.method === "OPTIONS") return preflight();
  if (req.method !== "POST") return problem(405, "PGRST117", `Unsupported HTTP method: ${req.method}`);
  const claims = await callerClaims(req, secret);
  if (claims instanceof Response) return claims;
  let args: Record<string, unknown>;
  try {
    const text = await req.text();
    args = text.trim() ? JSON.parse(text) : {};
  } catch {
    return problem(400, "PGRST102", "Empty or invalid json");
  }
  if (args === null || typeof args !== "object" || Array.isArray(args)) {
    return problem(400, "PGRST102", "the arguments must be a JSON object");
  }
  const names = Object.keys(args).sort();
  if (names.some((n) => !ARGUMENT.test(n))) return problem(400, "PGRST102", "bad argument name");
  // Named arguments, as PostgREST calls them; values travel as text and take the parameter's type.
  const call = `SELECT to_jsonb(public."${name}"(${names.map((n, i) => `"${n}" := $${i + 1}`).join(", ")})) AS r`;
  const values = names.map((n) => {
    const v = args[n];
    return v === null ? null : typeof v === "object" ? JSON.stringify(v) : String(v);
  });
  const role = claims.role as string;
  try {
    const rows = await withTimeout(
      db().begin(async (sql) => {
        await sql`SELECT set_config('role', ${role}, true), set_config('request.jwt.claims', ${JSON.stringify(claims)}, true)`;
        return await sql.unsafe(call, values);
      }),
      TIMEOUT_MS,
    );
    return answer(rows[0]?.r ?? null);
  } catch (err) {
    const code = sqlState(err);
    const message = err instanceof Error ? err.message : String(err);
    if (code === "42883") {
      return problem(404, "PGRST202", `Could not find the function public.${name}(${names.join(", ")}) in the schema cache`);
    }
    if (code === "42501") return problem(role === "anon" ? 401 : 403, code, message);
    if (code !== undefined && /^(22|23|P0)/.test(code)) return problem(400, code, message);
    console.error(`rpc ${name}: ${message}`);
    return problem(503, code ?? "PGRST000", "Database client error. Retrying the connection.");
  }
}
