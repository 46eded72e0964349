import { assertEquals } from "../_shared/testing/assert.ts";
import { findProblems, probeAllowed } from "./handler.ts";

const healthy = {
  database: { ok: true },
  queue: { ok: true, stuck: 0, breaker_state: "closed" },
  quota: { ok: true, calls_left: 300 },
};

Deno.test("health: healthy checks have no problems", () => {
  assertEquals(findProblems(healthy), []);
});

Deno.test("health: an unreachable database, stuck jobs, an open breaker are problems", () => {
  assertEquals(findProblems({ database: { ok: false, error: "ECONNREFUSED" } }), ["database unreachable"]);
  assertEquals(findProblems({ ...healthy, queue: { ok: true, stuck: 2, breaker_state: "closed" } }), [
    "queue stuck: 2 job(s) in processing past the stuck timeout",
  ]);
  assertEquals(findProblems({ ...healthy, queue: { ok: true, stuck: 0, breaker_state: "open" } }), [
    "circuit breaker open",
  ]);
  assertEquals(findProblems({ ...healthy, queue: { ok: true, stuck: 0, breaker_state: "half_open" } }), []);
});

Deno.test("health: checks whose objects are not deployed yet are not problems", () => {
  const early = {
    database: { ok: true },
    queue: { ok: true, deployed: false },
    quota: { ok: true, deployed: false },
  };
  assertEquals(findProblems(early), []);
  assertEquals(findProblems({ ...healthy, queue: { ok: false, error: "timeout" } }), [
    "queue metrics unavailable",
  ]);
});

Deno.test("health: without a probe token anyone may probe; with one, only its holder", () => {
  const plain = new Request("http://x/functions/v1/health-check");
  assertEquals(probeAllowed(plain, ""), true);
  assertEquals(probeAllowed(plain, "s3cret"), false);
  assertEquals(probeAllowed(new Request("http://x/h", { headers: { "x-probe-token": "s3cret" } }), "s3cret"), true);
  assertEquals(probeAllowed(new Request("http://x/h", { headers: { "x-probe-token": "s3cre" } }), "s3cret"), false);
  assertEquals(probeAllowed(new Request("http://x/h?token=s3cret"), "s3cret"), true);
  assertEquals(probeAllowed(new Request("http://x/h?token=s3cret2"), "s3cret"), false);
  assertEquals(probeAllowed(new Request("http://x/h", { headers: { "x-probe-token": "" } }), "s3cret"), false);
});
