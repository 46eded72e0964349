// track-subscription: the page says "this user is viewing SYMBOL with these data types".
// Input is validated here; then ONE round trip, public.track_subscription (suffixed), records the
// heartbeat, applies the per-user rate limit and queues whatever is stale.
// Silent failure: when the database cannot be reached the answer is still 200
// {"tracked": false, "reason": ...}; tracking is best effort and must never break the page.
import { db, withTimeout } from "../_shared/db.ts";
import { qualified, SLUGS } from "../_shared/names.ts";
import { describeError, errorResponse, json } from "../_shared/responses.ts";
import { checkTrack, dbTimeoutMs, subscriptionRequest, unavailable } from "../_shared/subscription.ts";

interface TrackResult {
  status: "tracked" | "rate_limited" | "invalid";
  queued?: unknown[];
  data_types?: string[];
  retry_after?: number;
  error?: string;
  data_type?: string;
}

export default async function handler(req: Request): Promise<Response> {
  const request = await subscriptionRequest(req, checkTrack);
  if (request instanceof Response) return request;
  const { user, input: { symbol, dataTypes } } = request;

  let result: TrackResult;
  try {
    const [row] = await withTimeout(
      db()`SELECT ${db()(qualified("track_subscription"))}(${user}::uuid, ${symbol},
             ARRAY(SELECT jsonb_array_elements_text(${db().json(dataTypes)}))) AS r`,
      dbTimeoutMs(),
    );
    result = row.r as TrackResult;
  } catch (err) {
    console.error(`${SLUGS["track-subscription"]}: ${describeError(err)}`);
    return json({ tracked: false, reason: unavailable(err) });
  }
  return answer(symbol, result);
}

function answer(symbol: string, r: TrackResult): Response {
  switch (r.status) {
    case "tracked":
      return json({ tracked: true, symbol, dataTypes: r.data_types ?? [], queued: r.queued ?? [] });
    case "rate_limited": {
      const retryAfter = Math.max(1, Math.ceil(Number(r.retry_after ?? 60)));
      return json({ tracked: false, error: "rate limited", retryAfter }, 429, {
        "retry-after": String(retryAfter),
      });
    }
    case "invalid":
      return errorResponse(400, r.error ?? "invalid request", r.data_type ? { dataType: r.data_type } : {});
    default:
      return json({ tracked: false, reason: "unexpected answer from the database" });
  }
}
