// The manager with the real @supabase/supabase-js against the local stack: the functions
// gateway serving the real track/untrack functions on a database with phases 0-3, its
// /rest/v1/rpc, and the Realtime stand-in behind /realtime/v1. Each test's name starts with
// the area it proves ("presence", "existing realtime", "flag", ...), which the toolkit records
// as the evidence of the phase 4 checklists.
import type { SupabaseClient } from "@supabase/supabase-js";
import { type PresenceSync, RealtimeStockManager, retryAfterSeconds } from "./RealtimeStockManager.ts";
import { SUBSCRIPTION_TTL_SECONDS } from "./settings.ts";
import { SYSTEM_FLAG } from "./names.ts";
import { closeDb, db, functionCalls, recorder, setFlags, signedIn, signOut, sleep, until } from "./testing.ts";

const QUOTE_FLAG = "use_queue_for_quote";
const TTL_MS = SUBSCRIPTION_TTL_SECONDS * 1000;
const options = { sanitizeOps: false, sanitizeResources: false };

function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

function equal(actual: unknown, expected: unknown, what: string): void {
  const a = JSON.stringify(actual), e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${what}: expected ${e}, got ${a}`);
}

async function subscriptions(symbol: string): Promise<{ user_id: string; data_types: string[] }[]> {
  return await db()`SELECT user_id::text, data_types FROM public.active_subscriptions_v2
                    WHERE symbol = ${symbol} ORDER BY user_id`;
}

async function lastSeenAge(userId: string, symbol: string): Promise<number | null> {
  const [row] = await db()`SELECT extract(epoch FROM now() - last_seen)::float8 AS age
                           FROM public.active_subscriptions_v2 WHERE user_id = ${userId} AND symbol = ${symbol}`;
  return row ? Number(row.age) : null;
}

/** A user with a manager (fast flag refresh) and what it logged. */
async function viewer(flagRefreshSeconds = 1) {
  const { userId, client } = await signedIn();
  const log = recorder();
  const manager = new RealtimeStockManager(client, { userId, logger: log, flagRefreshSeconds });
  const syncs: PresenceSync[] = [];
  manager.onPresenceSync((e) => syncs.push(e));
  const done = async () => {
    await manager.dispose();
    await signOut(client);
  };
  return { userId, client, manager, log, syncs, done };
}

/** The app's existing subscription: postgres_changes on stock_quotes plus a broadcast, on its own channel. */
async function appChannel(client: SupabaseClient, symbol: string) {
  const received: unknown[] = [];
  const channel = client.channel(`quotes:${symbol}`)
    .on("postgres_changes", { event: "*", schema: "public", table: "stock_quotes", filter: `symbol=eq.${symbol}` }, () => {})
    .on("broadcast", { event: "price" }, (m) => received.push(m.payload));
  const status = await new Promise<string>((resolve) => channel.subscribe((s) => s !== "CLOSED" && resolve(s)));
  equal(status, "SUBSCRIBED", "the app's own channel");
  return { channel, received };
}

Deno.test({
  name: "presence: two users on one symbol see each other; a close is a leave for the other; active_subscriptions_v2 follows",
  ...options,
  fn: async () => {
    await setFlags(true, SYSTEM_FLAG);
    const symbol = "AAPL";
    await db()`DELETE FROM public.active_subscriptions_v2 WHERE symbol = ${symbol}`;
    const a = await viewer(), b = await viewer();
    try {
      await a.manager.open(symbol, ["quote", "profile"]);
      await b.manager.open(symbol, ["quote"]);
      const both = [a.userId, b.userId].sort();
      await until("each to see both", () =>
        [a, b].every((v) => JSON.stringify(v.manager.viewers(symbol).map((x) => x.userId).sort()) === JSON.stringify(both)));
      const seenByA = a.manager.viewers(symbol).find((x) => x.userId === b.userId)!;
      equal(seenByA, { userId: b.userId, symbol, dataTypes: ["quote"] }, "the metadata B tracks, as A sees it");
      assert(a.syncs.some((e) => e.symbol === symbol && e.joined.includes(b.userId)), "A's sync events name B joining");
      equal((await subscriptions(symbol)).map((r) => r.user_id), both, "active_subscriptions_v2 rows");

      await b.manager.close(symbol);
      await until("A to see B leave", () => a.syncs.some((e) => e.left.includes(b.userId)));
      equal(a.manager.viewers(symbol).map((x) => x.userId), [a.userId], "A's viewers after B left");
      await until("B's row to go", async () => (await subscriptions(symbol)).length === 1);
      equal((await subscriptions(symbol)).map((r) => r.user_id), [a.userId], "active_subscriptions_v2 after B left");
      equal([...a.log.lines, ...b.log.lines], [], "warnings");
    } finally {
      await a.done();
      await b.done();
    }
  },
});

Deno.test({
  name: "flag: on, opening a page whose quote is stale queues it through track-subscription",
  ...options,
  fn: async () => {
    await setFlags(true, SYSTEM_FLAG, QUOTE_FLAG);
    const symbol = "MSFT";
    await db()`DELETE FROM public.api_call_queue_v2 WHERE symbol = ${symbol}`;
    await db()`UPDATE public.stock_quotes SET updated_at = now() - interval '1 day' WHERE symbol = ${symbol}`;
    const v = await viewer();
    try {
      const before = await functionCalls();
      await v.manager.open(symbol, ["quote"]);
      equal(v.manager.flag, true, "the flag as read through is_feature_enabled");
      const [job] = await db()`SELECT data_type, status FROM public.api_call_queue_v2 WHERE symbol = ${symbol}`;
      equal(job, { data_type: "quote", status: "pending" }, "the queued job");
      assert((await functionCalls()).track > before.track, "a track request reached the gateway");
      await v.manager.close(symbol);
      equal((await functionCalls()).untrack, before.untrack + 1, "one untrack request on close");
      equal(await subscriptions(symbol), [], "rows after close");
    } finally {
      await v.done();
      await db()`DELETE FROM public.api_call_queue_v2 WHERE symbol = ${symbol}`;
      await setFlags(false, QUOTE_FLAG);
    }
  },
});

Deno.test({
  name: "flag: off, no track or untrack request is made at all, and presence still works",
  ...options,
  fn: async () => {
    await setFlags(false, SYSTEM_FLAG);
    const symbol = "NVDA";
    const a = await viewer(), b = await viewer();
    try {
      const before = await functionCalls();
      await a.manager.open(symbol, ["quote"]);
      await b.manager.open(symbol, ["quote"]);
      await until("presence between the two", () => a.manager.viewers(symbol).length === 2);
      equal(a.manager.flag, false, "the flag as read");
      await sleep(TTL_MS * 0.75); // past the first re-track
      await b.manager.close(symbol);
      await until("A to see B leave", () => a.syncs.some((e) => e.left.includes(b.userId)));
      equal(await functionCalls(), before, "requests at the gateway");
      equal(await subscriptions(symbol), [], "rows");
      equal(a.log.lines, [], "warnings");
    } finally {
      await a.done();
      await b.done();
      await setFlags(true, SYSTEM_FLAG);
    }
  },
});

Deno.test({
  name: "flag: without flag checks (the rollout finished), pages are tracked whatever the flag says",
  ...options,
  fn: async () => {
    await setFlags(false, SYSTEM_FLAG);
    const symbol = "AMD";
    const { userId, client } = await signedIn();
    const log = recorder();
    const manager = new RealtimeStockManager(client, { userId, logger: log, flagChecks: false });
    try {
      const before = await functionCalls();
      await manager.open(symbol, ["quote"]);
      await until("the viewer's row", async () => (await subscriptions(symbol)).length === 1);
      equal(manager.flag, true, "the flag as the manager takes it");
      await manager.close(symbol);
      await until("the row gone", async () => (await subscriptions(symbol)).length === 0);
      const after = await functionCalls();
      assert(after.track > before.track && after.untrack > before.untrack, "track and untrack requests at the gateway");
      equal(log.lines, [], "warnings");
    } finally {
      await manager.dispose();
      await signOut(client);
      await setFlags(true, SYSTEM_FLAG);
    }
  },
});

Deno.test({
  name: "flag: turned on while a page is open, tracking starts at the next beat without a reload",
  ...options,
  fn: async () => {
    await setFlags(false, SYSTEM_FLAG);
    const symbol = "AMZN";
    const v = await viewer();
    try {
      await v.manager.open(symbol, ["quote"]);
      equal(await subscriptions(symbol), [], "rows while off");
      await setFlags(true, SYSTEM_FLAG);
      await until("the row once the flag is on", async () => (await subscriptions(symbol)).length === 1, TTL_MS * 2);
    } finally {
      await v.done();
    }
  },
});

Deno.test({
  name: "existing realtime: the database down, open resolves, the app's own channel keeps working, one warning; the next re-track succeeds when it is back",
  ...options,
  fn: async () => {
    await setFlags(true, SYSTEM_FLAG);
    const symbol = "GOOGL";
    const v = await viewer();
    const other = await signedIn();
    const [{ db: name }] = await db()`SELECT current_database() AS db`;
    try {
      const app = await appChannel(v.client, symbol);
      const sender = other.client.channel(`quotes:${symbol}`);
      await new Promise((resolve) => sender.subscribe((s) => s === "SUBSCRIBED" && resolve(s)));
      await v.manager.open(symbol, ["quote"]); // the flag is read now, while all is well
      equal(v.manager.flag, true, "flag");

      // The database refuses the functions' connections from now on (and drops theirs).
      await db().unsafe(`ALTER DATABASE "${name}" CONNECTION LIMIT 0`);
      await db()`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                 WHERE datname = current_database() AND pid <> pg_backend_pid()`;
      const t = Date.now();
      await v.manager.open("TSLA", ["quote"]);
      assert(Date.now() - t < 12_000, "open resolved within its timeout");
      await sleep(TTL_MS); // two beats fail
      equal(v.log.lines.length, 1, `warnings (${v.log.lines.join(" | ")})`);
      assert(v.log.lines[0].includes("not-tracked"), v.log.lines[0]);
      assert(app.channel.state === "joined", `the app's channel is ${app.channel.state}`);
      await sender.send({ type: "broadcast", event: "price", payload: { symbol, price: 1 } });
      await until("the app's channel to receive", () => app.received.length === 1);
      assert(v.manager.viewers("TSLA").length === 1, "presence works during the outage");

      await db().unsafe(`ALTER DATABASE "${name}" CONNECTION LIMIT -1`);
      const back = Date.now();
      await until("a re-track to succeed", async () => {
        const age = await lastSeenAge(v.userId, symbol);
        return age !== null && age < (Date.now() - back) / 1000;
      }, TTL_MS * 2);
      await until("the page opened during the outage to be tracked", async () => {
        const age = await lastSeenAge(v.userId, "TSLA");
        return age !== null && age < (Date.now() - back) / 1000;
      }, TTL_MS * 2);
      equal(v.log.lines.length, 1, "warnings after recovery");
    } finally {
      await db().unsafe(`ALTER DATABASE "${name}" CONNECTION LIMIT -1`);
      await v.done();
      await signOut(other.client);
    }
  },
});

Deno.test({
  name: "presence: re-tracks before the subscription TTL runs out, so the viewer keeps counting",
  ...options,
  fn: async () => {
    await setFlags(true, SYSTEM_FLAG);
    const symbol = "META";
    const v = await viewer();
    try {
      await v.manager.open(symbol, ["quote"]);
      let oldest = 0;
      const end = Date.now() + TTL_MS * 2;
      while (Date.now() < end) {
        const age = await lastSeenAge(v.userId, symbol);
        assert(age !== null, "the row is there");
        oldest = Math.max(oldest, age);
        await sleep(200);
      }
      assert(oldest < SUBSCRIPTION_TTL_SECONDS * 0.8, `last_seen got ${oldest.toFixed(1)} s old (TTL ${SUBSCRIPTION_TTL_SECONDS} s)`);
      equal(v.log.lines, [], "warnings");
    } finally {
      await v.done();
    }
  },
});

Deno.test({
  name: "presence: a 429 is retried after its Retry-After, not before",
  ...options,
  fn: async () => {
    await setFlags(true, SYSTEM_FLAG);
    const symbol = "NFLX";
    // The per-user limit counts calendar minutes: start late in one so the wait stays short.
    while (new Date().getUTCSeconds() < 48 || new Date().getUTCSeconds() > 52) await sleep(200);
    await db()`UPDATE public.staleness_config_v2 SET track_rate_limit_per_minute = 1`;
    const v = await viewer();
    try {
      const calls: number[] = [];
      let count = (await functionCalls()).track;
      const watch = setInterval(async () => {
        const now = (await functionCalls()).track;
        for (; count < now; count++) calls.push(Date.now());
      }, 50);
      await v.manager.open(symbol, ["quote"]); // allowed: the minute's one call
      await until("the 429", () => v.log.lines.some((l) => l.includes("rate-limited")), TTL_MS * 2);
      const wait = Number(/retrying after (\d+) s/.exec(v.log.lines.find((l) => l.includes("rate-limited"))!)![1]);
      assert(wait >= 1 && wait <= 15, `Retry-After ${wait}`);
      const seenBefore = await lastSeenAge(v.userId, symbol);
      await until("the retry", () => calls.length >= 3, (wait + 10) * 1000);
      clearInterval(watch);
      const [, limited, retry] = calls; // the allowed call, the 429, the retry
      assert(retry - limited >= wait * 1000 - 100, `retried ${retry - limited} ms after a ${wait} s Retry-After`);
      await until("the retry to be recorded", async () => (await lastSeenAge(v.userId, symbol))! < seenBefore!);
      equal(v.log.lines.length, 1, "warnings");
    } finally {
      await db()`UPDATE public.staleness_config_v2 SET track_rate_limit_per_minute = 30`;
      await v.done();
    }
  },
});

Deno.test({
  name: "presence: errors never reach the page: a throwing listener, a closed symbol closed again, a disposed manager",
  ...options,
  fn: async () => {
    const v = await viewer();
    try {
      v.manager.onPresenceSync(() => {
        throw new Error("the app's bug");
      });
      await v.manager.open("IBM", ["quote"]);
      await until("a sync", () => v.syncs.length > 0);
      await v.manager.close("IBM");
      await v.manager.close("IBM");
      await v.manager.dispose();
      await v.manager.open("IBM", ["quote"]);
      equal(v.manager.viewers("IBM"), [], "a disposed manager opens nothing");
      equal(v.log.lines.filter((l) => l.includes("listener")).length, 1, "one listener warning");
    } finally {
      await v.done();
    }
  },
});

Deno.test("retryAfterSeconds reads seconds, HTTP dates and the body", () => {
  equal(retryAfterSeconds(new Headers({ "retry-after": "7" }), null), 7, "seconds");
  const inTen = new Date(Date.now() + 10_000).toUTCString();
  const fromDate = retryAfterSeconds(new Headers({ "retry-after": inTen }), null);
  assert(fromDate > 8 && fromDate <= 10, `from a date: ${fromDate}`);
  equal(retryAfterSeconds(new Headers(), { retryAfter: 3 }), 3, "from the body");
  equal(retryAfterSeconds(undefined, null, 60), 60, "fallback");
});

Deno.test({ name: "close the database connection", ...options, fn: closeDb });
