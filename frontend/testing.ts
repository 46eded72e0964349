// What the module's tests need from the local stack the toolkit starts for them
// (`toolkit phase apply 4`, or pytest): the project URL (functions gateway, /rest/v1 and
// /realtime/v1 behind it), the anon key, the local JWT secret to sign users in, and the
// database the functions use, to look at what they wrote.
import { createClient, type SupabaseClient } from "@supabase/supabase-js";
import postgres from "postgres";
import { SLUGS } from "./names.ts";

function required(name: string): string {
  const value = Deno.env.get(name);
  if (!value) {
    throw new Error(`${name} is not set: these tests run against the local stack (toolkit phase apply 4, or pytest)`);
  }
  return value;
}

export const env = {
  get url(): string {
    return required("SUPABASE_URL");
  },
  get anonKey(): string {
    return required("SUPABASE_ANON_KEY");
  },
  get secret(): string {
    return required("JWT_SECRET");
  },
  get dbUrl(): string {
    return required("SUPABASE_DB_URL");
  },
};

function b64url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** An HS256 token as Supabase Auth issues them for a signed-in user. */
export async function userToken(sub: string, secret = env.secret, ttlSeconds = 3600): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const enc = new TextEncoder();
  const header = b64url(enc.encode(JSON.stringify({ alg: "HS256", typ: "JWT" })));
  const body = b64url(enc.encode(JSON.stringify({
    sub,
    role: "authenticated",
    aud: "authenticated",
    iat: now,
    exp: now + ttlSeconds,
  })));
  const key = await crypto.subtle.importKey("raw", enc.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  const sig = new Uint8Array(await crypto.subtle.sign("HMAC", key, enc.encode(`${header}.${body}`)));
  return `${header}.${body}.${b64url(sig)}`;
}

/** A signed-in user's client, as the app creates it (the anon key, the user's JWT). */
export async function signedIn(userId = crypto.randomUUID()): Promise<{ userId: string; client: SupabaseClient }> {
  const token = await userToken(userId);
  const client = createClient(env.url, env.anonKey, {
    accessToken: () => Promise.resolve(token),
    realtime: { params: { eventsPerSecond: 50 } },
  });
  return { userId, client };
}

/** Every channel removed and the socket closed: the client leaves nothing running. */
export async function signOut(client: SupabaseClient): Promise<void> {
  await client.removeAllChannels();
  await client.realtime.disconnect();
}

let sql: postgres.Sql | null = null;

/** The functions' database, through one connection (which stays usable while others are refused). */
export function db(): postgres.Sql {
  sql ??= postgres(env.dbUrl, { max: 1, prepare: false, onnotice: () => {}, idle_timeout: 0 });
  return sql;
}

export async function closeDb(): Promise<void> {
  const s = sql;
  sql = null;
  await s?.end({ timeout: 1 });
}

/** Flags as the toolkit sets them (`toolkit flags enable ...`). */
export async function setFlags(enabled: boolean, ...flags: string[]): Promise<void> {
  await db()`UPDATE public.feature_flags SET enabled = ${enabled} WHERE flag_name = ANY(${flags})`;
}

/** How many requests each subscription function has received at the gateway so far. */
export async function functionCalls(): Promise<{ track: number; untrack: number }> {
  const res = await fetch(`${env.url}/_serve/stats`);
  const counts = (await res.json()).functions as Record<string, number>;
  return { track: counts[SLUGS["track-subscription"]] ?? 0, untrack: counts[SLUGS["untrack-subscription"]] ?? 0 };
}

/** Wait until `check` returns a truthy value (polling), or fail after `ms`. */
export async function until<T>(what: string, check: () => T | Promise<T>, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  while (true) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(100);
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A logger that keeps what it was told, for counting warnings. */
export function recorder(): { warn: (...args: unknown[]) => void; lines: string[]; at: number[] } {
  const lines: string[] = [];
  const at: number[] = [];
  return {
    lines,
    at,
    warn: (...args: unknown[]) => {
      lines.push(args.map(String).join(" "));
      at.push(Date.now());
    },
  };
}
