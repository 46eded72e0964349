// Call permits: the call budget is spent where the provider counts it, when a call is made.
// Before each provider call (or each wave of one job's calls) the processor asks the database
// (take_call_permits) for a permit under the job's lease, and calls only with one. Requests made
// in the same turn of the event loop travel in one round trip; a job's requests in one round
// trip are granted together or not at all.
//
// The budget counts a call in the slot (125 ms) of its permit plus `slackMs` after it: a permit that
// cannot be used within half of that (the other half is for the request to reach the provider)
// is not used, and stays counted. When the budget has no calls left the request waits for the
// window to move on, until `waitUntilMs`; then it is denied ("budget"), and the job goes back
// to the queue without spending an attempt.
import type { Sql } from "./db.ts";
import { BudgetExhausted, MarketDataError } from "./http.ts";
import { qualified } from "./names.ts";

/** The claim a job is held under: its id and the lease its claim handed out. */
export interface Holder {
  id: string;
  lease: string;
}

export type DenialReason = "budget" | "lease" | "breaker" | "late";

/** No permit: the call was not made. */
export class PermitDenied extends MarketDataError {
  constructor(readonly why: DenialReason, what = "") {
    super(
      {
        budget: "no call permit: the call budget has no room left",
        lease: "no call permit: the job is held under another lease now",
        breaker: "no call permit: the circuit breaker is open",
        late: "no call permit used: it was granted too late to be used",
      }[why] + (what ? ` (${what})` : ""),
    );
  }
}

/** The job's lease ended (recovered, claimed again) before its data could be written. */
export class LeaseLost extends MarketDataError {
  constructor(id: string) {
    super(`the lease on job ${id} was lost before its rows were written: nothing written`);
  }
}

export interface PermitOptions {
  /** call_slack_ms: a permit is used within half of it, or not at all. */
  slackMs: number;
  /** performance.now() after which a request waiting for budget is denied. */
  waitUntilMs: number;
  /** The run's own end: waiting requests are dropped with BudgetExhausted. */
  signal?: AbortSignal;
  /** How often a request waiting for budget asks again. */
  pollMs?: number;
}

interface Request {
  holder: Holder;
  calls: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

interface PermitRow {
  job_id: string;
  granted: boolean;
  reason: DenialReason | null;
}

export class Permits {
  /** Calls permitted (and so made, or counted as made). */
  granted = 0;
  /** Set once the budget (after waiting) or the breaker said no: the run should stop claiming. */
  stoppedBy: "calls" | "breaker" | null = null;
  private waiting: Request[] = [];
  private scheduled = false;
  private flushing: Promise<void> | null = null;

  constructor(private readonly sql: Sql, private readonly opts: PermitOptions) {}

  /** Resolves when `calls` calls of the job may be made now; rejects with PermitDenied. */
  take(holder: Holder, calls = 1): Promise<void> {
    if (this.opts.signal?.aborted) {
      return Promise.reject(new BudgetExhausted("stopped, the run's time budget is spent"));
    }
    return new Promise((resolve, reject) => {
      this.waiting.push({ holder, calls, resolve, reject });
      this.schedule(0);
    });
  }

  private schedule(delayMs: number): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setTimeout(() => {
      this.scheduled = false;
      this.flushing ??= this.flush().finally(() => {
        this.flushing = null;
        if (this.waiting.length) this.schedule(0);
      });
    }, delayMs);
  }

  private async flush(): Promise<void> {
    const batch = this.waiting.splice(0);
    if (!batch.length) return;
    if (this.opts.signal?.aborted) {
      for (const r of batch) r.reject(new BudgetExhausted("stopped, the run's time budget is spent"));
      return;
    }
    // One request per job, in the order asked: a job's calls are granted together.
    const groups = new Map<string, { holder: Holder; calls: number; requests: Request[] }>();
    for (const r of batch) {
      const g = groups.get(r.holder.id) ?? { holder: r.holder, calls: 0, requests: [] };
      g.calls += r.calls;
      g.requests.push(r);
      groups.set(r.holder.id, g);
    }
    const list = [...groups.values()];
    const sentAt = performance.now();
    let rows: PermitRow[];
    try {
      rows = await this.sql<PermitRow[]>`
        SELECT job_id::text, granted, reason FROM ${this.sql(qualified("take_call_permits"))}(
          ARRAY(SELECT v::bigint FROM jsonb_array_elements_text(${
        this.sql.json(list.map((g) => g.holder.id))
      }) WITH ORDINALITY AS a(v, n) ORDER BY n),
          ARRAY(SELECT v::bigint FROM jsonb_array_elements_text(${
        this.sql.json(list.map((g) => g.holder.lease))
      }) WITH ORDINALITY AS a(v, n) ORDER BY n),
          ARRAY(SELECT v::int FROM jsonb_array_elements_text(${
        this.sql.json(list.map((g) => g.calls))
      }) WITH ORDINALITY AS a(v, n) ORDER BY n))`;
    } catch (err) {
      for (const r of batch) r.reject(err);
      return;
    }
    const late = performance.now() - sentAt > this.opts.slackMs / 2;
    const retry: Request[] = [];
    list.forEach((g, i) => {
      const row = rows[i];
      if (row?.granted) {
        this.granted += g.calls;
        const err = late ? new PermitDenied("late", `${Math.round(performance.now() - sentAt)} ms`) : null;
        for (const r of g.requests) err ? r.reject(err) : r.resolve();
        return;
      }
      const why: DenialReason = row?.reason ?? "budget";
      if (why === "budget" && performance.now() < this.opts.waitUntilMs && !this.stoppedBy) {
        retry.push(...g.requests);
        return;
      }
      if (why === "budget") this.stoppedBy ??= "calls";
      if (why === "breaker") this.stoppedBy = "breaker";
      for (const r of g.requests) r.reject(new PermitDenied(why));
    });
    if (retry.length) {
      // First in line again: waiting keeps the order jobs asked in.
      this.waiting.unshift(...retry);
      await new Promise((r) => setTimeout(r, this.opts.pollMs ?? 250));
    }
  }
}
