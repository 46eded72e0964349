// LOCAL ONLY. The stand-in for Supabase's Edge Runtime and its gateway: one Deno process serving
// every function folder of a local build that has a handler.ts at /functions/v1/<name>, checking
// the JWT first when the folder's config.json says verify_jwt (as the gateway does), on
// 127.0.0.1 only. The toolkit copies this file into the build as _gateway/main.ts.
// As a project's API gateway does, it also fronts the other services a browser app uses, so
// that one project URL serves them all: /rest/v1/rpc/<name> (rest.ts) and /realtime/v1/
// (proxied to REALTIME_URL, the Realtime stand-in).
//
//   PORT          port to listen on (default 54331, phases.yaml's processor_url)
//   JWT_SECRET    HS256 secret tokens are checked against (required)
//   REALTIME_URL  where /realtime/v1/ goes (default http://127.0.0.1:54332, `toolkit local up`'s)
//   the functions' own settings: SUPABASE_DB_URL, MARKET_DATA_BASE_URL, MARKET_DATA_API_KEY, ...
//
// GET /_serve/ready answers once every handler is imported (the toolkit waits for it);
// GET /_serve/stats counts the requests each function received (what the tests read).
// Requests reach Deno.serve through front.ts, which refuses too large a request head with the
// same JSON shape as every other refusal.
import { closeDb } from "../_shared/db.ts";
import { bearerToken, JwtError, verifyJwt } from "../_shared/jwt.ts";
import { corsHeaders, json, preflight, unauthorized } from "../_shared/responses.ts";
import { serveFront } from "./front.ts";
import { handleRpc, RPC_ROUTE } from "./rest.ts";

type Handler = (req: Request) => Response | Promise<Response>;

export interface LoadedFunction {
  name: string;
  handler: Handler;
  verifyJwt: boolean;
}

const ROOT = new URL("../", import.meta.url);
const ROUTE = /^\/functions\/v1\/([A-Za-z0-9_-]+)(?:\/.*)?$/;

/** verify_jwt from the folder's config.json; Supabase's default when absent is true. */
async function readVerifyJwt(dir: URL): Promise<boolean> {
  try {
    const config = JSON.parse(await Deno.readTextFile(new URL("config.json", dir)));
    return config.verify_jwt !== false;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return true;
    throw new Error(`${dir.pathname}config.json: ${err instanceof Error ? err.message : err}`);
  }
}

/** Every function folder (not _shared, not _gateway) with a handler.ts, imported up front. */
export async function loadFunctions(root: URL = ROOT): Promise<Map<string, LoadedFunction>> {
  const found = new Map<string, LoadedFunction>();
  const names: string[] = [];
  for await (const entry of Deno.readDir(root)) {
    if (entry.isDirectory && !entry.name.startsWith("_") && !entry.name.startsWith(".")) {
      names.push(entry.name);
    }
  }
  for (const name of names.sort()) {
    const dir = new URL(`${name}/`, root);
    const handlerUrl = new URL("handler.ts", dir);
    try {
      await Deno.stat(handlerUrl);
    } catch {
      continue;
    }
    const mod = await import(handlerUrl.href);
    if (typeof mod.default !== "function") {
      throw new Error(`${name}/handler.ts has no default export function`);
    }
    found.set(name, { name, handler: mod.default, verifyJwt: await readVerifyJwt(dir) });
  }
  return found;
}

/** The gateway's check: a bearer token signed with the secret and not expired. */
async function gatewayCheck(req: Request, secret: string): Promise<Response | null> {
  const token = bearerToken(req);
  if (!token) return unauthorized("Missing authorization header");
  try {
    await verifyJwt(token, secret);
    return null;
  } catch (err) {
    return unauthorized(err instanceof JwtError ? `Invalid JWT: ${err.message}` : "Invalid JWT");
  }
}

/** Relay a websocket to the Realtime service, frame for frame, closing each side with the other. */
export function proxyWebSocket(req: Request, upstreamBase: string): Response {
  const url = new URL(req.url);
  const upstream = new WebSocket(`${upstreamBase.replace(/^http/, "ws")}${url.pathname}${url.search}`);
  upstream.binaryType = "arraybuffer";
  const { socket, response } = Deno.upgradeWebSocket(req);
  socket.binaryType = "arraybuffer";
  const early: (string | ArrayBuffer)[] = [];
  socket.onmessage = (e) => upstream.readyState === WebSocket.OPEN ? upstream.send(e.data) : early.push(e.data);
  upstream.onopen = () => early.splice(0).forEach((d) => upstream.send(d));
  upstream.onmessage = (e) => socket.readyState === WebSocket.OPEN && socket.send(e.data);
  const closeBoth = () => {
    for (const s of [socket, upstream]) {
      if (s.readyState === WebSocket.OPEN || s.readyState === WebSocket.CONNECTING) {
        try {
          s.close();
        } catch {
          // already closing
        }
      }
    }
  };
  socket.onclose = closeBoth;
  upstream.onclose = closeBoth;
  upstream.onerror = closeBoth;
  return response;
}

export function makeRouter(
  functions: Map<string, LoadedFunction>,
  secret: string,
  realtimeUrl = "http://127.0.0.1:54332",
): Handler {
  const counts = new Map<string, number>();
  return async (req: Request): Promise<Response> => {
    const path = new URL(req.url).pathname;
    if (path === "/_serve/ready") return json({ ready: true, functions: [...functions.keys()] });
    if (path === "/_serve/stats") return json({ functions: Object.fromEntries(counts) });
    if (path.startsWith("/realtime/v1/")) {
      if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
        return json({ message: "Realtime speaks websockets only" }, 400);
      }
      return proxyWebSocket(req, realtimeUrl);
    }
    const rpc = RPC_ROUTE.exec(path);
    if (rpc) return await handleRpc(req, rpc[1], secret);
    const m = ROUTE.exec(path);
    const fn = m ? functions.get(m[1]) : undefined;
    if (!fn) return json({ code: 404, message: "Function not found" }, 404);
    counts.set(fn.name, (counts.get(fn.name) ?? 0) + 1);
    // Browsers send preflights without credentials; the gateway lets them through.
    if (req.method === "OPTIONS") return preflight();
    if (fn.verifyJwt) {
      const refused = await gatewayCheck(req, secret);
      if (refused) return refused;
    }
    try {
      return await fn.handler(req);
    } catch (err) {
      console.error(`${fn.name}: unhandled error:`, err);
      return new Response(JSON.stringify({ code: 500, message: "Internal function error" }), {
        status: 500,
        headers: { ...corsHeaders, "content-type": "application/json" },
      });
    }
  };
}

/** Logs each request; `connection: close`, so that the front reads every request's head. */
function withLog(handler: Handler): Handler {
  return async (req: Request) => {
    const t = performance.now();
    const res = await handler(req);
    const ms = Math.round(performance.now() - t);
    console.log(`${req.method} ${new URL(req.url).pathname} ${res.status} ${ms}ms`);
    if (res.status === 101) return res; // a websocket upgrade: the connection is the socket's now
    const headers = new Headers(res.headers);
    headers.set("connection", "close");
    return new Response(res.body, { status: res.status, statusText: res.statusText, headers });
  };
}

async function main(): Promise<void> {
  const secret = Deno.env.get("JWT_SECRET") ?? "";
  if (!secret) {
    console.error("JWT_SECRET is not set");
    Deno.exit(2);
  }
  const port = Number(Deno.env.get("PORT") ?? 54331);
  const realtimeUrl = Deno.env.get("REALTIME_URL") || "http://127.0.0.1:54332";
  const functions = await loadFunctions();
  const stop = new AbortController();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    signal: stop.signal,
    onListen: () => {},
  }, withLog(makeRouter(functions, secret, realtimeUrl)));
  const listener = Deno.listen({ hostname: "127.0.0.1", port });
  console.log(`edge functions on http://127.0.0.1:${port}/functions/v1/: ${[...functions.keys()].join(", ")}`);
  const front = serveFront(listener, (server.addr as Deno.NetAddr).port);
  // Stop cleanly on SIGINT/SIGTERM: finish requests, close the database pool.
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => {
      listener.close();
      stop.abort();
    });
  }
  await server.finished;
  await front;
  await closeDb();
  Deno.exit(0);
}

if (import.meta.main) await main();
