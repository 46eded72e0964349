// Bounded concurrency without a library.
import { MarketDataError, RateLimited } from "./http.ts";

/**
 * Run fn over items with at most `limit` in flight; resolves when every call has settled,
 * in input order (so no call is still running, and counting bytes, after the caller moves on).
 */
export async function settleLimited<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<PromiseSettledResult<R>[]> {
  const results: PromiseSettledResult<R>[] = new Array(items.length);
  let next = 0;
  async function lane(): Promise<void> {
    while (next < items.length) {
      const i = next++;
      try {
        results[i] = { status: "fulfilled", value: await fn(items[i], i) };
      } catch (reason) {
        results[i] = { status: "rejected", reason };
      }
    }
  }
  const lanes = Math.max(1, Math.min(limit, items.length));
  await Promise.all(Array.from({ length: lanes }, lane));
  return results;
}

/**
 * Of several failures of one job, the one that should decide its fate: a rate limit first
 * (it stops the run), then other retryable provider failures, then the first one.
 */
export function decisiveError(errors: unknown[]): unknown {
  const md = errors.filter((e): e is MarketDataError => e instanceof MarketDataError);
  return md.find((e) => e instanceof RateLimited) ?? md.find((e) => e.retryable) ?? errors[0];
}

/** The values of settled results, or throw the decisive error among the rejections. */
export function valuesOrThrow<R>(results: PromiseSettledResult<R>[]): R[] {
  const errors = results.filter((r) => r.status === "rejected").map((r) =>
    (r as PromiseRejectedResult).reason
  );
  if (errors.length) throw decisiveError(errors);
  return results.map((r) => (r as PromiseFulfilledResult<R>).value);
}
