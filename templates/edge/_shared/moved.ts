// A function the final migration (phase 6 of the rollout) renamed: a build for a target where
// that happened puts a small function under the old slug whose handler is this, so that a
// caller still using the old name gets a clear answer pointing at the new one instead of a 404.
import { corsHeaders, json, preflight } from "./responses.ts";

export function movedHandler(oldSlug: string, newSlug: string): (req: Request) => Response {
  return (req: Request): Response => {
    if (req.method === "OPTIONS") return preflight();
    return json(
      {
        error: `the function ${oldSlug} was renamed to ${newSlug} (the rollout's final migration); ` +
          `call /functions/v1/${newSlug}`,
        moved_to: newSlug,
      },
      410,
      { ...corsHeaders, location: `/functions/v1/${newSlug}` },
    );
  };
}
