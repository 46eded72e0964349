import { assertEquals } from "./testing/assert.ts";
import { movedHandler } from "./moved.ts";

Deno.test("moved: the old slug answers 410 naming the new one", async () => {
  const res = movedHandler("queue-processor-v2", "queue-processor")(new Request("http://x/", { method: "POST" }));
  assertEquals(res.status, 410);
  assertEquals(res.headers.get("location"), "/functions/v1/queue-processor");
  const body = await res.json();
  assertEquals(body.moved_to, "queue-processor");
});
