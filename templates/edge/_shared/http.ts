// Outbound calls to the market-data provider: every call is bounded by a timeout, every
// failure becomes one of a few error classes the processor knows how to account for, and
// every byte the provider sent is counted (quota accounting is by response size).

export const DEFAULT_TIMEOUT_MS = 10_000;

/** A failed market-data call. `retryable` and `providerFailure` drive the queue and the breaker. */
export class MarketDataError extends Error {
  readonly retryable: boolean = false;
  readonly providerFailure: boolean = false;
  constructor(message: string, readonly endpoint = "", readonly status = 0) {
    super(message);
    this.name = new.target.name;
  }
}

/** 429: the provider's budget is spent; retry later and stop claiming for this run. */
export class RateLimited extends MarketDataError {
  override readonly retryable = true;
  override readonly providerFailure = true;
}

/** 5xx, or no answer at all (connection refused, DNS): the provider's fault, retry later. */
export class ProviderError extends MarketDataError {
  override readonly retryable = true;
  override readonly providerFailure = true;
}

/** Other 4xx: the request itself is wrong (bad key, plan limits); retrying will not help. */
export class ClientError extends MarketDataError {}

/** 408: the provider gave up waiting for the request; the next one may well get through. */
export class RequestTimeout extends MarketDataError {
  override readonly retryable = true;
  override readonly providerFailure = true;
}

/**
 * The body is not JSON, or not the shape the data type needs: a truncated or mangled answer,
 * which the next call usually does not repeat. Retried with backoff like a 5xx (a provider
 * that really changed its format fails the job once its attempts are spent).
 */
export class Malformed extends MarketDataError {
  override readonly retryable = true;
  override readonly providerFailure = true;
}

/** An empty array for a symbol: the provider does not know it. Permanent. */
export class UnknownSymbol extends MarketDataError {}

/** The provider did not answer within the call's timeout. */
export class Timeout extends MarketDataError {
  override readonly retryable = true;
  override readonly providerFailure = true;
}

/** The run's own time budget ran out mid-call: not the provider's fault, not the job's. */
export class BudgetExhausted extends MarketDataError {}

/**
 * Hide the API key wherever it could appear in a message (fetch errors quote the URL). The
 * bare key is replaced too when it is long enough not to match ordinary words.
 */
export function redact(text: string, apiKey = ""): string {
  let out = text.replace(/(apikey=)[^&\s)"']*/gi, "$1***");
  if (apiKey.length >= 8) {
    out = out.replaceAll(apiKey, "***").replaceAll(encodeURIComponent(apiKey), "***");
  }
  return out;
}

export interface FetchOptions {
  timeoutMs?: number;
  /** Aborts the call when the caller's budget ends (checked before the timeout). */
  signal?: AbortSignal;
  init?: RequestInit;
}

/** fetch() with a hard deadline covering the headers and the body. */
export function fetchWithTimeout(url: string, opts: FetchOptions = {}): Promise<Response> {
  const timeout = AbortSignal.timeout(opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
  return fetch(url, { ...opts.init, signal });
}

export interface JsonResult {
  data: unknown;
  bytes: number;
}

/**
 * GET a JSON document. The body's byte length is passed to `onBytes` as soon as it is
 * read, before any status or parse error is thrown, so failed calls are accounted too.
 */
export async function getJson(
  url: string,
  endpoint: string,
  opts: FetchOptions & { apiKey?: string; onBytes?: (n: number) => void } = {},
): Promise<JsonResult> {
  let body: Uint8Array;
  let res: Response;
  try {
    res = await fetchWithTimeout(url, { ...opts, init: { headers: { accept: "application/json" } } });
    body = new Uint8Array(await res.arrayBuffer());
  } catch (err) {
    throw classifyFetchFailure(err, endpoint, opts);
  }
  opts.onBytes?.(body.byteLength);
  const text = new TextDecoder().decode(body);
  if (res.status === 429) {
    throw new RateLimited(`rate limited by ${endpoint} (429)`, endpoint, 429);
  }
  if (res.status >= 500) {
    throw new ProviderError(
      `${endpoint} answered ${res.status}: ${snippet(text, opts.apiKey)}`,
      endpoint,
      res.status,
    );
  }
  if (res.status === 408) {
    throw new RequestTimeout(`${endpoint} answered 408: ${snippet(text, opts.apiKey)}`, endpoint, 408);
  }
  if (res.status >= 400) {
    throw new ClientError(
      `${endpoint} answered ${res.status}: ${snippet(text, opts.apiKey)}`,
      endpoint,
      res.status,
    );
  }
  try {
    return { data: JSON.parse(text), bytes: body.byteLength };
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new Malformed(`malformed JSON from ${endpoint}: ${why}`, endpoint, res.status);
  }
}

function classifyFetchFailure(
  err: unknown,
  endpoint: string,
  opts: FetchOptions & { apiKey?: string },
): Error {
  if (opts.signal?.aborted) {
    return new BudgetExhausted(`${endpoint}: stopped, the run's time budget is spent`, endpoint);
  }
  const name = err instanceof Error ? err.name : "";
  if (name === "TimeoutError" || name === "AbortError") {
    const ms = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    return new Timeout(`${endpoint} timed out: no answer within ${ms} ms`, endpoint);
  }
  const why = err instanceof Error ? err.message : String(err);
  return new ProviderError(`${endpoint} unreachable: ${redact(why, opts.apiKey)}`, endpoint);
}

function snippet(text: string, apiKey?: string): string {
  const one = text.replace(/\s+/g, " ").trim();
  return redact(one.length > 200 ? one.slice(0, 200) + "..." : one || "(empty body)", apiKey);
}
