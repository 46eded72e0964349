/**
 * RealtimeStockManager: what a stock page of the app does so that the refresh queue knows who
 * is looking at what (phase 4 of the rollout).
 *
 * For every open symbol page it joins a Realtime channel of its own with Presence (the
 * presence key is the user id) and tracks `{symbol, dataTypes, userId}`. Beside that, while
 * the queue system's feature flag is on, it tells the track-subscription Edge Function that
 * the user views the symbol (which records the viewer and queues whatever data is stale), calls
 * it again before the subscription TTL runs out, and calls untrack-subscription when the page
 * closes. The flag is read once through the `is_feature_enabled` RPC and refreshed; while it is
 * off no function is called at all and everything else stays the same. Once the rollout is
 * finished (phase 6 removed the flag checks), the toolkit renders `FLAG_CHECKS = false` and the
 * module calls the functions without consulting a flag.
 *
 * The app's own Realtime channels (postgres_changes on the data tables) are not touched: the
 * manager only ever removes the channels it created.
 *
 * Nothing here throws into the page: every failure (Realtime, the flag read, the functions, a
 * 429) is absorbed, retried on the next beat, and logged as at most one warning per kind.
 *
 * The toolkit renders this folder into the workspace with the plan's names (`names.ts`) and
 * settings (`settings.ts`); see README.md for the wiring.
 */
import type { RealtimeChannel, SupabaseClient } from "@supabase/supabase-js";
import { SLUGS, SYSTEM_FLAG } from "./names.ts";
import { FLAG_CHECKS, SUBSCRIPTION_TTL_SECONDS } from "./settings.ts";

/** One viewer of a symbol, as Presence shows it. */
export interface Viewer {
  userId: string;
  symbol: string;
  dataTypes: string[];
}

/** What a `presence-sync` listener receives: the symbol's viewers now, and who came and went. */
export interface PresenceSync {
  symbol: string;
  viewers: Viewer[];
  joined: string[];
  left: string[];
}

/** The kinds of failure the manager absorbs; each is logged once at most. */
export type FailureKind =
  | "realtime" // the Presence channel could not be joined or tracked
  | "flag" // the feature flag could not be read at all (until it is, no function is called)
  | "unreachable" // the functions could not be reached (network, 5xx)
  | "not-tracked" // the function answered but could not record the viewer (its database is down)
  | "refused" // the function refused the call (400, 401, 403)
  | "rate-limited" // 429: the next call waits for Retry-After
  | "listener"; // an app listener threw

export interface ManagerOptions {
  /** The signed-in user's id: the Presence key and the `userId` of the tracked metadata. */
  userId: string;
  /** Seconds between feature-flag reads (default 60). */
  flagRefreshSeconds?: number;
  /** Whether to consult the feature flag at all (default: the plan's; false once the rollout is finished). */
  flagChecks?: boolean;
  /** The subscription TTL the server applies (default: the plan's subscription_ttl_seconds). */
  subscriptionTtlSeconds?: number;
  /** Where the one warning per failure kind goes (default: console). */
  logger?: { warn: (...args: unknown[]) => void };
  /** Milliseconds a function call may take before it counts as unreachable (default 10000). */
  requestTimeoutMs?: number;
  /** Prefix of the Presence channels' names (default "stock-presence:"). */
  channelPrefix?: string;
}

type Listener = (event: PresenceSync) => void;

interface Page {
  symbol: string;
  dataTypes: string[];
  channel: RealtimeChannel;
  timer?: ReturnType<typeof setTimeout>;
  joined: string[];
  left: string[];
  closed: boolean;
}

/** How long before the TTL a viewer re-tracks: half of it, so that one lost call is survived. */
export function retrackDelayMs(ttlSeconds: number): number {
  return Math.max(500, Math.floor(ttlSeconds * 1000 / 2));
}

/** Seconds to wait from a 429: its Retry-After header (seconds or an HTTP date), else its body. */
export function retryAfterSeconds(headers: Headers | undefined, body: unknown, fallback = 60): number {
  const header = headers?.get("retry-after");
  if (header) {
    const seconds = Number(header);
    if (Number.isFinite(seconds)) return Math.max(0, seconds);
    const at = Date.parse(header);
    if (!Number.isNaN(at)) return Math.max(0, (at - Date.now()) / 1000);
  }
  const fromBody = Number((body as { retryAfter?: unknown } | null)?.retryAfter);
  return Number.isFinite(fromBody) && fromBody >= 0 ? fromBody : fallback;
}

export class RealtimeStockManager {
  readonly #client: SupabaseClient;
  readonly #userId: string;
  readonly #ttlSeconds: number;
  readonly #flagRefreshMs: number;
  readonly #flagChecks: boolean;
  readonly #timeoutMs: number;
  readonly #prefix: string;
  readonly #logger: { warn: (...args: unknown[]) => void };
  readonly #pages = new Map<string, Page>();
  readonly #listeners = new Set<Listener>();
  readonly #warned = new Set<FailureKind>();
  #flag: boolean | null = null; // null: never read successfully
  #flagRead: Promise<boolean> | null = null;
  #flagTimer?: ReturnType<typeof setInterval>;
  #disposed = false;

  /**
   * @param client the app's Supabase client (signed in: the functions need the user's JWT)
   * @param options the user id and optional tuning
   */
  constructor(client: SupabaseClient, options: ManagerOptions) {
    this.#client = client;
    this.#userId = options.userId;
    this.#ttlSeconds = options.subscriptionTtlSeconds ?? SUBSCRIPTION_TTL_SECONDS;
    this.#flagRefreshMs = (options.flagRefreshSeconds ?? 60) * 1000;
    this.#flagChecks = options.flagChecks ?? FLAG_CHECKS;
    this.#timeoutMs = options.requestTimeoutMs ?? 10_000;
    this.#prefix = options.channelPrefix ?? "stock-presence:";
    this.#logger = options.logger ?? console;
  }

  /**
   * The page shows `symbol` with these data types: join its Presence channel, track the
   * viewer, and (flag on) call track-subscription. Resolves once the channel is joined, or
   * once joining failed or timed out; never rejects. Opening an open symbol updates its data
   * types.
   */
  async open(symbol: string, dataTypes: string[]): Promise<void> {
    try {
      if (this.#disposed) return;
      const key = symbol.trim().toUpperCase();
      const types = [...new Set(dataTypes)];
      const open = this.#pages.get(key);
      if (open) {
        open.dataTypes = types;
        await Promise.all([this.#trackPresence(open), this.#beat(open)]);
        return;
      }
      const page: Page = {
        symbol: key,
        dataTypes: types,
        channel: this.#channel(key),
        joined: [],
        left: [],
        closed: false,
      };
      this.#pages.set(key, page);
      this.#startFlagRefresh();
      await Promise.all([this.#join(page), this.#beat(page)]);
    } catch (err) {
      this.#warn("realtime", err);
    }
  }

  /**
   * The page no longer shows `symbol`: untrack and leave its Presence channel and (flag on)
   * call untrack-subscription. Never rejects.
   */
  async close(symbol: string): Promise<void> {
    const key = symbol.trim().toUpperCase();
    const page = this.#pages.get(key);
    if (!page) return;
    this.#pages.delete(key);
    page.closed = true;
    clearTimeout(page.timer);
    const untrack = !this.#flagChecks || this.#flag === true
      ? this.#call("untrack-subscription", { symbol: key })
      : Promise.resolve();
    try {
      await Promise.all([this.#leave(page), untrack]);
    } catch (err) {
      this.#warn("realtime", err);
    }
    if (this.#pages.size === 0) this.#stopFlagRefresh();
  }

  /** Close every page and stop every timer; the manager does nothing afterwards. */
  async dispose(): Promise<void> {
    this.#disposed = true;
    await Promise.all([...this.#pages.keys()].map((s) => this.close(s)));
    this.#stopFlagRefresh();
    this.#listeners.clear();
  }

  /** Listen for Presence syncs of every open symbol; returns the function that stops listening. */
  onPresenceSync(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Who views `symbol` now, as far as Presence has told this page. */
  viewers(symbol: string): Viewer[] {
    const page = this.#pages.get(symbol.trim().toUpperCase());
    return page ? this.#viewers(page) : [];
  }

  /** The feature flag as last read (null: not read yet, or never readable; true without flag checks). */
  get flag(): boolean | null {
    return this.#flagChecks ? this.#flag : true;
  }

  // -- Presence ------------------------------------------------------------------------------
  #channel(symbol: string): RealtimeChannel {
    const channel = this.#client.channel(this.#prefix + symbol, {
      config: { presence: { key: this.#userId, enabled: true } },
    });
    channel
      .on("presence", { event: "join" }, ({ key }) => this.#pages.get(symbol)?.joined.push(key))
      .on("presence", { event: "leave" }, ({ key }) => this.#pages.get(symbol)?.left.push(key))
      .on("presence", { event: "sync" }, () => {
        const page = this.#pages.get(symbol);
        if (page && page.channel === channel) this.#emit(page);
      });
    return channel;
  }

  #join(page: Page): Promise<void> {
    return new Promise<void>((resolve) => {
      let settled = false;
      const done = () => {
        if (!settled) {
          settled = true;
          resolve();
        }
      };
      page.channel.subscribe(async (status, err) => {
        if (status === "SUBSCRIBED") {
          await this.#trackPresence(page);
          done();
        } else if (status === "CHANNEL_ERROR" || status === "TIMED_OUT") {
          if (!page.closed) this.#warn("realtime", err ?? new Error(`Presence channel ${status}`));
          done();
        } else if (status === "CLOSED") {
          done();
        }
      });
    });
  }

  async #trackPresence(page: Page): Promise<void> {
    if (page.closed || page.channel.state !== "joined") return;
    const answer = await page.channel.track({ symbol: page.symbol, dataTypes: page.dataTypes, userId: this.#userId });
    if (answer !== "ok") this.#warn("realtime", new Error(`Presence track answered ${answer}`));
  }

  async #leave(page: Page): Promise<void> {
    if (page.channel.state === "joined") await page.channel.untrack();
    await this.#client.removeChannel(page.channel);
  }

  #viewers(page: Page): Viewer[] {
    const state = page.channel.presenceState<{ symbol?: string; dataTypes?: string[]; userId?: string }>();
    return Object.entries(state).map(([key, metas]) => {
      const meta = metas[metas.length - 1] ?? {};
      return { userId: meta.userId ?? key, symbol: meta.symbol ?? page.symbol, dataTypes: meta.dataTypes ?? [] };
    });
  }

  #emit(page: Page): void {
    const event: PresenceSync = {
      symbol: page.symbol,
      viewers: this.#viewers(page),
      joined: page.joined.splice(0),
      left: page.left.splice(0),
    };
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (err) {
        this.#warn("listener", err);
      }
    }
  }

  // -- the track heartbeat -------------------------------------------------------------------
  /** One track call (flag on) and the next beat scheduled: before the TTL, or after Retry-After. */
  async #beat(page: Page): Promise<void> {
    clearTimeout(page.timer);
    let delay = retrackDelayMs(this.#ttlSeconds);
    if (await this.#flagOn()) {
      const waitSeconds = await this.#call("track-subscription", { symbol: page.symbol, dataTypes: page.dataTypes });
      if (waitSeconds !== null) delay = Math.ceil(waitSeconds * 1000);
    }
    if (!page.closed && !this.#disposed) {
      page.timer = setTimeout(() => void this.#beat(page), delay);
    }
  }

  /**
   * Call a subscription function; never throws. Returns the seconds to wait before the next
   * call when the answer was 429, else null.
   */
  async #call(
    base: "track-subscription" | "untrack-subscription",
    body: Record<string, unknown>,
  ): Promise<number | null> {
    try {
      const { data, error } = await this.#client.functions.invoke(SLUGS[base], { body, timeout: this.#timeoutMs });
      if (error) return await this.#failed(error);
      const ok = base === "track-subscription" ? data?.tracked : data?.untracked;
      if (ok !== true) this.#warn("not-tracked", new Error(`${SLUGS[base]}: ${data?.reason ?? "not recorded"}`));
      return null;
    } catch (err) {
      this.#warn("unreachable", err);
      return null;
    }
  }

  async #failed(error: { name?: string; context?: unknown }): Promise<number | null> {
    const response = error.context instanceof Response ? error.context : undefined;
    if (error.name !== "FunctionsHttpError" || !response) {
      this.#warn("unreachable", error);
      return null;
    }
    let body: unknown = null;
    try {
      body = await response.clone().json();
    } catch {
      // not JSON: the status says enough
    }
    if (response.status === 429) {
      this.#warn("rate-limited", new Error(`rate limited; retrying after ${response.headers.get("retry-after")} s`));
      return retryAfterSeconds(response.headers, body);
    }
    this.#warn(response.status >= 500 ? "unreachable" : "refused", new Error(`HTTP ${response.status}`));
    return null;
  }

  // -- the feature flag ----------------------------------------------------------------------
  /** The flag, read at the first need and kept; a failed read keeps the last value (off if none). */
  async #flagOn(): Promise<boolean> {
    if (!this.#flagChecks) return true;
    if (this.#flag === null) await this.#readFlag();
    return this.#flag === true;
  }

  #readFlag(): Promise<boolean> {
    this.#flagRead ??= (async () => {
      try {
        const { data, error } = await this.#client.rpc("is_feature_enabled", { flag: SYSTEM_FLAG })
          .abortSignal(AbortSignal.timeout(this.#timeoutMs));
        if (error) throw error;
        this.#flag = data === true;
      } catch (err) {
        // A failed refresh keeps the value last read, quietly; never having read it is worth a warning.
        if (this.#flag === null) this.#warn("flag", err);
      } finally {
        this.#flagRead = null;
      }
      return this.#flag === true;
    })();
    return this.#flagRead;
  }

  #startFlagRefresh(): void {
    if (!this.#flagChecks) return;
    this.#flagTimer ??= setInterval(() => void this.#readFlag(), this.#flagRefreshMs);
  }

  #stopFlagRefresh(): void {
    clearInterval(this.#flagTimer);
    this.#flagTimer = undefined;
  }

  #warn(kind: FailureKind, err: unknown): void {
    if (this.#warned.has(kind)) return;
    this.#warned.add(kind);
    try {
      const message = err instanceof Error ? err.message : String(err);
      this.#logger.warn(`RealtimeStockManager: ${kind}: ${message} (further ${kind} failures are not logged)`);
    } catch {
      // a broken logger must not break the page either
    }
  }
}
