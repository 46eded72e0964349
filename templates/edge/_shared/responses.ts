// Responses every function shares: JSON bodies with the CORS headers browsers need to call
// Supabase functions from a page (the same set supabase-js sends and Supabase's examples allow).

export const corsHeaders: Record<string, string> = {
  "Access-Control-Allow-Origin": "*",
  "Access-Control-Allow-Headers": "authorization, x-client-info, apikey, content-type",
  "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
  "Access-Control-Max-Age": "86400",
};

export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { ...corsHeaders, "content-type": "application/json; charset=utf-8", ...headers },
  });
}

/** {"error": message} with the status; for 4xx answers a caller can act on. */
export function errorResponse(
  status: number,
  message: string,
  extra: Record<string, unknown> = {},
): Response {
  return json({ error: message, ...extra }, status);
}

/** Supabase's gateway shape for auth failures: {"code": 401, "message": "..."}. */
export function unauthorized(message: string): Response {
  return json({ code: 401, message }, 401);
}

export function preflight(): Response {
  return new Response("ok", { status: 200, headers: corsHeaders });
}

export function methodNotAllowed(allowed: string[]): Response {
  return json({ error: `method not allowed; use ${allowed.join(" or ")}` }, 405, {
    allow: allowed.join(", "),
  });
}

/**
 * What kind of error it was, and nothing more: an SQLSTATE or a client error code (e.g.
 * CONNECTION_CLOSED), else the error's class. For answers a caller sees, which must never
 * carry a host, a port, a key or SQL; the full message goes to the function's log.
 */
export function errorKind(err: unknown): string {
  const code = (err as { code?: unknown })?.code;
  if (typeof code === "string" && /^[A-Za-z0-9_]{1,40}$/.test(code)) return code;
  return err instanceof Error && /^[A-Za-z]{1,40}$/.test(err.name) ? err.name : "error";
}

/**
 * A short description of an unexpected error (no stack, no connection string), for logs and
 * for the queue's own records; never for an HTTP answer (see errorKind).
 */
export function describeError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    const msg = err.message.replace(/postgres(ql)?:\/\/[^\s]+/gi, "postgresql://***");
    return typeof code === "string" && !msg.includes(code) ? `${msg} (${code})` : msg;
  }
  return String(err);
}
