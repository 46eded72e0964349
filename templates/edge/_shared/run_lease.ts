// One run of the queue processor at a time, per target. A run takes the processor under a
// lease in processor_state (taken under lock 44, as the processor loop decides whether to start
// a run), renews it every few seconds while it lasts, and lets go of it when its time for taking jobs
// is up, even with a batch still in flight, so that the next run can take over at once. A run
// that dies stops renewing, and its lease lapses within seconds.
//
// A new run that finds the processor held waits for the holder only when the holder is about
// to end (the start after a continuous run's: the loop starts it then, see invoke_processor_loop);
// otherwise it returns at once and does nothing. A stop asked for meanwhile (the lease cleared
// by someone else: the ticker's SIGTERM) is seen at the next renewal: the run stops taking jobs.
//
// Plain statements on the plan's tables, not functions of their own: every object the rollout
// makes is renamed by Phase 6, whose released script lists them.
import type { Sql } from "./db.ts";
import { qualified } from "./names.ts";

/** A lease not renewed for this long lapses: a run that died lets go within it. */
export const LEASE_SECONDS = 6;
const RENEW_MS = 2000;
/** The longest a new run waits for the run before it to end. */
export const HANDOVER_WAIT_MS = 20_000;

export interface RunLeaseOptions {
  /** performance.now() at which the run stops taking jobs and lets go of the processor. */
  endsAt: number;
  /** How often a waiting run asks again, and an idle run looks for a due job. */
  pollMs: number;
  /** The run's own end: waiting stops. */
  signal?: AbortSignal;
}

interface Begun {
  granted: boolean;
  holder: string | null;
  left_s: number | string | null;
}

export class RunLease {
  /** Whether this run still holds the processor (false once its time is up, or when stopped). */
  held = true;
  /** Its time for taking jobs is up (as opposed to a stop asked for, or a lapsed lease). */
  ended = false;
  private readonly stop = new AbortController();
  private renewTimer: ReturnType<typeof setInterval> | undefined;
  private endTimer: ReturnType<typeof setTimeout> | undefined;
  private released: Promise<void> | null = null;

  private constructor(
    private readonly sql: Sql,
    readonly run: string,
    private readonly opts: RunLeaseOptions,
  ) {}

  /** The processor for this run, waiting for a holder about to end; null when it stays busy. */
  static async take(sql: Sql, run: string, opts: RunLeaseOptions): Promise<RunLease | null> {
    const waitUntil = performance.now() + HANDOVER_WAIT_MS;
    while (!opts.signal?.aborted) {
      const seconds = (opts.endsAt - performance.now()) / 1000;
      if (seconds <= 0) return null;
      const state = sql(qualified("processor_state"));
      const [r] = await sql<Begun[]>`
        WITH locked AS (
          SELECT pg_advisory_xact_lock(c.processor_lock_id) FROM ${sql(qualified("queue_config"))} AS c
        ), took AS (
          UPDATE ${state} AS p
          SET run_id = ${run}, run_started_at = clock_timestamp(),
              run_ends_at = clock_timestamp() + make_interval(secs => ${seconds}::double precision),
              run_lease_until = clock_timestamp() + make_interval(secs => ${LEASE_SECONDS}::double precision)
          FROM locked
          WHERE p.run_id IS NULL OR p.run_lease_until <= clock_timestamp() OR p.run_id = ${run}
          RETURNING p.run_id, p.run_ends_at
        )
        SELECT t.run_id IS NOT NULL AS granted, COALESCE(t.run_id, p.run_id) AS holder,
               extract(epoch FROM COALESCE(t.run_ends_at, p.run_ends_at) - clock_timestamp()) AS left_s
        FROM ${state} AS p LEFT JOIN took AS t ON true`;
      if (r.granted) {
        const lease = new RunLease(sql, run, opts);
        lease.start();
        return lease;
      }
      const left = r.left_s === null ? Infinity : Number(r.left_s) * 1000;
      if (performance.now() + Math.max(left, 0) > waitUntil) return null;
      await sleep(opts.pollMs, opts.signal);
    }
    return null;
  }

  private start(): void {
    this.renewTimer = setInterval(() => this.renew(), RENEW_MS);
    this.endTimer = setTimeout(() => {
      this.ended = true;
      this.letGo();
    }, Math.max(0, this.opts.endsAt - performance.now()));
  }

  private async renew(): Promise<void> {
    try {
      const held = await this.sql`
        UPDATE ${this.sql(qualified("processor_state"))}
        SET run_lease_until = clock_timestamp() + make_interval(secs => ${LEASE_SECONDS}::double precision)
        WHERE run_id = ${this.run}
        RETURNING run_id`;
      if (held.length === 0 && this.held) {
        this.held = false;
        this.stop.abort();
        this.clearTimers();
      }
    } catch {
      // A missed renewal is no loss: the lease lasts three of them.
    }
  }

  /**
   * Wait while nothing can be claimed (the claim just came back empty), until the run lets go
   * of the processor. Nothing due: poll for a due job every pollMs. Jobs due but the call
   * budget spent (a claim takes no more jobs than calls are left): sleep until the budget
   * frees a call (get_quota_status's call_wait_ms), so that the call is used when it frees, not
   * up to a poll later. Otherwise (due jobs held by others for a moment, the byte budget
   * spent): wait one poll. Returns how many reads it made.
   */
  async waitForDueJobs(): Promise<number> {
    let polls = 0;
    let waitMs = 0; // the first read at once: the claim has just come back empty
    while (this.held && !this.opts.signal?.aborted) {
      if (waitMs > 0) {
        await sleep(waitMs, this.stop.signal);
        if (!this.held) break;
      }
      polls++;
      // One read of the pending partition, which stays small (claimed jobs leave it); the
      // budget is read only when something is due.
      const [r] = await this.sql<{ due: boolean; call_wait_ms: number | string | null }[]>`
        SELECT d.due,
               CASE WHEN d.due THEN (${this.sql(qualified("get_quota_status"))}() ->> 'call_wait_ms')::bigint END
                 AS call_wait_ms
        FROM (SELECT EXISTS (SELECT 1 FROM ${this.sql(qualified("api_call_queue_pending"))}
                             WHERE scheduled_for <= clock_timestamp()) AS due) AS d`;
      const callWaitMs = Number(r.call_wait_ms ?? 0);
      if (r.due && callWaitMs > 0) {
        await sleep(callWaitMs, this.stop.signal);
        break;
      }
      if (r.due && waitMs > 0) break;
      waitMs = this.opts.pollMs;
    }
    return polls;
  }

  /** Let go of the processor (the end of the run); safe to call more than once. */
  release(): Promise<void> {
    return this.letGo();
  }

  private letGo(): Promise<void> {
    this.released ??= (async () => {
      this.held = false;
      this.stop.abort();
      this.clearTimers();
      try {
        await this.sql`
          UPDATE ${this.sql(qualified("processor_state"))}
          SET run_id = NULL, run_started_at = NULL, run_ends_at = NULL, run_lease_until = NULL
          WHERE run_id = ${this.run}`;
      } catch {
        // Not let go explicitly: the lease lapses by itself.
      }
    })();
    return this.released;
  }

  private clearTimers(): void {
    clearInterval(this.renewTimer);
    clearTimeout(this.endTimer);
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}
