import { assertEquals, assertRejects } from "./testing/assert.ts";
import {
  base64UrlEncode,
  bearerToken,
  decodeJwt,
  JwtError,
  requestClaims,
  signJwt,
  verifyJwt,
} from "./jwt.ts";

const SECRET = "super-secret-jwt-token-with-at-least-32-characters";
const now = () => Math.floor(Date.now() / 1000);
const enc = (v: unknown) => base64UrlEncode(new TextEncoder().encode(JSON.stringify(v)));

Deno.test("jwt: a good token verifies and yields its claims", async () => {
  const token = await signJwt({ sub: "u1", role: "authenticated", exp: now() + 60 }, SECRET);
  const claims = await verifyJwt(token, SECRET);
  assertEquals(claims.sub, "u1");
  assertEquals(claims.role, "authenticated");
});

Deno.test("jwt: a bad signature is refused", async () => {
  const token = await signJwt({ role: "service_role", exp: now() + 60 }, "another-secret");
  await assertRejects(() => verifyJwt(token, SECRET), JwtError, "invalid signature");
  // A payload swapped under a valid signature is refused too.
  const good = await signJwt({ role: "anon", exp: now() + 60 }, SECRET);
  const [h, , s] = good.split(".");
  await assertRejects(
    () => verifyJwt(`${h}.${enc({ role: "service_role", exp: now() + 60 })}.${s}`, SECRET),
    JwtError,
  );
});

Deno.test("jwt: an expired token is refused", async () => {
  const token = await signJwt({ role: "authenticated", exp: now() - 1 }, SECRET);
  await assertRejects(() => verifyJwt(token, SECRET), JwtError, "expired");
});

Deno.test("jwt: no exp, a future nbf, alg none, garbage are refused", async () => {
  await assertRejects(
    async () => verifyJwt(await signJwt({ role: "anon" }, SECRET), SECRET),
    JwtError,
    "exp",
  );
  const early = await signJwt({ role: "anon", exp: now() + 60, nbf: now() + 30 }, SECRET);
  await assertRejects(() => verifyJwt(early, SECRET), JwtError, "not valid yet");
  const none = `${enc({ alg: "none", typ: "JWT" })}.${enc({ role: "service_role", exp: now() + 60 })}.`;
  await assertRejects(() => verifyJwt(none, SECRET), JwtError, "algorithm");
  for (const junk of ["", "a.b", "a.b.c", "x.y.z.w", "!!.??.##"]) {
    await assertRejects(() => verifyJwt(junk, SECRET), JwtError);
  }
  const unsigned = await signJwt({ exp: now() + 60 }, SECRET);
  await assertRejects(() => verifyJwt(unsigned, ""), JwtError, "no JWT secret");
});

Deno.test("jwt: bearer token extraction and missing headers", async () => {
  const req = (auth?: string) => new Request("http://x/", { headers: auth ? { authorization: auth } : {} });
  assertEquals(bearerToken(req("Bearer abc.def.ghi")), "abc.def.ghi");
  assertEquals(bearerToken(req("bearer abc")), "abc");
  assertEquals(bearerToken(req("Basic abc")), null);
  assertEquals(bearerToken(req()), null);
  assertEquals(await requestClaims(req()), null);
});

Deno.test("jwt: requestClaims verifies with JWT_SECRET when set, else decodes (and still checks exp)", async () => {
  const good = await signJwt({ sub: "u", role: "authenticated", exp: now() + 60 }, SECRET);
  const forged = await signJwt({ sub: "u", role: "authenticated", exp: now() + 60 }, "wrong");
  const expired = await signJwt({ sub: "u", role: "authenticated", exp: now() - 5 }, SECRET);
  const req = (t: string) => new Request("http://x/", { headers: { authorization: `Bearer ${t}` } });
  const saved = Deno.env.get("JWT_SECRET");
  try {
    Deno.env.set("JWT_SECRET", SECRET);
    assertEquals((await requestClaims(req(good)))?.sub, "u");
    assertEquals(await requestClaims(req(forged)), null);
    Deno.env.delete("JWT_SECRET");
    assertEquals((await requestClaims(req(forged)))?.sub, "u"); // the gateway vouched for it
    assertEquals(await requestClaims(req(expired)), null);
  } finally {
    if (saved === undefined) Deno.env.delete("JWT_SECRET");
    else Deno.env.set("JWT_SECRET", saved);
  }
  assertEquals(decodeJwt(good).role, "authenticated");
});
