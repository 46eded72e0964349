// The local gateway: routing, JWT checks per verify_jwt, preflight, unknown functions.
import { assert, assertEquals } from "../_shared/testing/assert.ts";
import { signJwt } from "../_shared/jwt.ts";
import { serveFront } from "./front.ts";
import { type LoadedFunction, loadFunctions, makeRouter } from "./main.ts";

const SECRET = "local-test-secret";
const echo = (name: string) => (req: Request) => Response.json({ name, method: req.method });
const functions = new Map<string, LoadedFunction>([
  ["locked", { name: "locked", handler: echo("locked"), verifyJwt: true }],
  ["open", { name: "open", handler: echo("open"), verifyJwt: false }],
  ["broken", {
    name: "broken",
    handler: () => {
      throw new Error("boom");
    },
    verifyJwt: false,
  }],
]);
const route = makeRouter(functions, SECRET);
const call = (path: string, init: RequestInit = {}) => route(new Request(`http://127.0.0.1${path}`, init));
const exp = () => Math.floor(Date.now() / 1000) + 60;

Deno.test("serve: verify_jwt functions need a valid token, like the gateway", async () => {
  let res = await call("/functions/v1/locked", { method: "POST" });
  assertEquals(res.status, 401);
  assertEquals(await res.json(), { code: 401, message: "Missing authorization header" });

  const bad = await signJwt({ role: "anon", exp: exp() }, "other");
  res = await call("/functions/v1/locked", { method: "POST", headers: { authorization: `Bearer ${bad}` } });
  assertEquals(res.status, 401);
  assert((await res.json()).message.startsWith("Invalid JWT"));

  const expired = await signJwt({ role: "anon", exp: exp() - 120 }, SECRET);
  res = await call("/functions/v1/locked", {
    method: "POST",
    headers: { authorization: `Bearer ${expired}` },
  });
  assertEquals(res.status, 401);

  const good = await signJwt({ role: "anon", exp: exp() }, SECRET);
  res = await call("/functions/v1/locked/sub/path", {
    method: "POST",
    headers: { authorization: `Bearer ${good}` },
  });
  assertEquals(await res.json(), { name: "locked", method: "POST" });
});

Deno.test("serve: verify_jwt false passes through; unknown functions 404; preflight; handler errors 500", async () => {
  assertEquals((await (await call("/functions/v1/open")).json()).name, "open");
  assertEquals((await call("/functions/v1/nope")).status, 404);
  assertEquals((await call("/elsewhere")).status, 404);
  const pre = await call("/functions/v1/locked", { method: "OPTIONS" });
  assertEquals(pre.status, 200);
  assertEquals(pre.headers.get("access-control-allow-origin"), "*");
  await pre.body?.cancel();
  const broken = await call("/functions/v1/broken");
  assertEquals(broken.status, 500);
  await broken.body?.cancel();
  assertEquals((await (await call("/_serve/ready")).json()).ready, true);
});

Deno.test("serve: every function folder is found, with its config.json", async () => {
  const found = await loadFunctions();
  assertEquals([...found.keys()], [
    "health-check",
    "queue-processor-v2",
    "track-subscription-v2",
    "untrack-subscription-v2",
  ]);
  assertEquals(found.get("health-check")?.verifyJwt, false);
  assertEquals(found.get("queue-processor-v2")?.verifyJwt, true);
  assertEquals(found.get("track-subscription-v2")?.verifyJwt, true);
  assertEquals(found.get("untrack-subscription-v2")?.verifyJwt, true);
});

Deno.test("serve: /_serve/stats counts the requests each function received", async () => {
  const counted = makeRouter(functions, SECRET);
  const get = async (path: string, init: RequestInit = {}) =>
    await counted(new Request(`http://127.0.0.1${path}`, init));
  await (await get("/functions/v1/open", { method: "POST" })).body?.cancel();
  await (await get("/functions/v1/open", { method: "POST" })).body?.cancel();
  await (await get("/functions/v1/locked", { method: "POST" })).body?.cancel(); // refused, still received
  await (await get("/functions/v1/nope", { method: "POST" })).body?.cancel(); // no such function
  assertEquals(await (await get("/_serve/stats")).json(), { functions: { open: 2, locked: 1 } });
});

Deno.test("serve: /rest/v1/rpc needs a key; /realtime/v1 speaks websockets only", async () => {
  let res = await call("/rest/v1/rpc/is_feature_enabled", { method: "POST", body: "{}" });
  assertEquals(res.status, 401);
  assertEquals((await res.json()).code, "PGRST301");
  const foreign = await signJwt({ role: "anon", exp: exp() }, "other");
  res = await call("/rest/v1/rpc/is_feature_enabled", { method: "POST", headers: { apikey: foreign }, body: "{}" });
  assertEquals(res.status, 401);
  await res.body?.cancel();
  res = await call("/realtime/v1/websocket?vsn=2.0.0");
  assertEquals(res.status, 400);
  await res.body?.cancel();
});

/** A raw HTTP/1.1 exchange with 127.0.0.1:port (a client that sends what fetch would refuse to). */
async function rawExchange(port: number, request: string): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(new TextEncoder().encode(request));
    const chunks: Uint8Array[] = [];
    const buf = new Uint8Array(65536);
    while (true) {
      let n: number | null;
      try {
        n = await conn.read(buf);
      } catch {
        break; // reset by the peer
      }
      if (n === null) break;
      chunks.push(buf.slice(0, n));
    }
    return new TextDecoder().decode(new Uint8Array(chunks.flatMap((c) => [...c])));
  } finally {
    try {
      conn.close();
    } catch {
      // closed already
    }
  }
}

Deno.test("front: a request head too large gets the gateway's JSON error shape; others pass through", async () => {
  const inner = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) =>
    Response.json({ ok: true, auth: (req.headers.get("authorization") ?? "").length }, {
      headers: { connection: "close" },
    }));
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const front = serveFront(listener, (inner.addr as Deno.NetAddr).port);
  try {
    const huge = await rawExchange(
      port,
      `POST /functions/v1/x HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${"a".repeat(100_000)}\r\n` +
        "content-length: 2\r\n\r\n{}",
    );
    assert(huge.startsWith("HTTP/1.1 431 "), huge.slice(0, 80));
    const body = JSON.parse(huge.slice(huge.indexOf("\r\n\r\n") + 4));
    assertEquals(body.code, 431);
    assert(String(body.message).includes("too large"));

    const res = await fetch(`http://127.0.0.1:${port}/x`, { headers: { authorization: `Bearer ${"b".repeat(2000)}` } });
    assertEquals(await res.json(), { ok: true, auth: 2007 });
    const post = await fetch(`http://127.0.0.1:${port}/x`, { method: "POST", body: "x".repeat(100_000) });
    assertEquals((await post.json()).ok, true); // a large body is not a large head
  } finally {
    listener.close();
    await front;
    await inner.shutdown();
  }
});
