// untrack-subscription: the page no longer shows SYMBOL for this user. Same validation and
// the same silent-failure rule as track-subscription; one round trip,
// public.untrack_subscription (with the plan's suffix). Optional for pages: heartbeats expire by themselves.
import { db, withTimeout } from "../_shared/db.ts";
import { qualified, SLUGS } from "../_shared/names.ts";
import { describeError, json } from "../_shared/responses.ts";
import { checkUntrack, dbTimeoutMs, subscriptionRequest, unavailable } from "../_shared/subscription.ts";

export default async function handler(req: Request): Promise<Response> {
  const request = await subscriptionRequest(req, checkUntrack);
  if (request instanceof Response) return request;
  const { user, input } = request;

  try {
    const [row] = await withTimeout(
      db()`SELECT ${db()(qualified("untrack_subscription"))}(${user}::uuid, ${input.symbol}) AS r`,
      dbTimeoutMs(),
    );
    const r = row.r as { removed?: number };
    return json({ untracked: true, symbol: input.symbol, removed: Number(r.removed ?? 0) });
  } catch (err) {
    console.error(`${SLUGS["untrack-subscription"]}: ${describeError(err)}`);
    return json({ untracked: false, reason: unavailable(err) });
  }
}
