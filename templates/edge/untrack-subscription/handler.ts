// untrack-subscription: the page no longer shows SYMBOL for this user. Same validation and
// the same silent-failure rule as track-subscription; one round trip,
// public.untrack_subscription (with the plan's suffix). Optional for pages: heartbeats expire by themselves.
import { db, withTimeout } from "../_shared/db.ts";
import { requestClaims } from "../_shared/jwt.ts";
import { qualified, SLUGS } from "../_shared/names.ts";
import { describeError, errorResponse, json, methodNotAllowed, preflight } from "../_shared/responses.ts";
import {
  checkUntrack,
  dbTimeoutMs,
  MAX_BODY_BYTES,
  readBody,
  unavailable,
  userId,
} from "../_shared/subscription.ts";

export default async function handler(req: Request): Promise<Response> {
  if (req.method === "OPTIONS") return preflight();
  if (req.method !== "POST") return methodNotAllowed(["POST"]);
  const user = userId(await requestClaims(req));
  if (!user) return json({ code: 401, message: "a signed-in user is required" }, 401);

  const text = await readBody(req);
  if (text === null) return errorResponse(400, `the body is larger than ${MAX_BODY_BYTES} bytes`);
  const input = checkUntrack(text);
  if (!input.ok) return errorResponse(400, input.error);

  try {
    const [row] = await withTimeout(
      db()`SELECT ${db()(qualified("untrack_subscription"))}(${user}::uuid, ${input.value.symbol}) AS r`,
      dbTimeoutMs(),
    );
    const r = row.r as { removed?: number };
    return json({ untracked: true, symbol: input.value.symbol, removed: Number(r.removed ?? 0) });
  } catch (err) {
    console.error(`${SLUGS["untrack-subscription"]}: ${describeError(err)}`);
    return json({ untracked: false, reason: unavailable(err) });
  }
}
