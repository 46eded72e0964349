"""The external ticker: what pg_cron + pg_net do in "all in Postgres" mode, done from outside.

A tick asks `invoke_processor_loop` (with the plan's suffix) whether to run (it holds lock 44, recovers stuck
jobs, consults the circuit breaker and the budget); when the answer is that an external
ticker must call the processor, it calls the queue-processor Edge Function over HTTP. A
call that fails outright is reported to the breaker as a failed run, as pg_net's response
check would; a run that happened reports itself.

The loop says how the processor should drain (settings.processor, as deployed in
queue_config): a continuous run takes jobs for its run time and waits for new ones meanwhile,
so `run` ticks at a fixed rate and calls the processor in the background, as pg_net does: a
tick while a run is in progress finds it running and does nothing, and the tick as it ends
starts the next run, which takes over (one run at a time: the processor's lease). With
`until_empty`, each call drains what is due and returns, back to back.

`run` keeps ticking through outages: a database that cannot be reached (down, restarting,
refusing connections for now) or a processor that does not answer is logged once when it
starts and once when it ends, and retried with capped, jittered backoff; the ticker never
exits for it. A stop request (SIGTERM in `toolkit processor run`) asks the run in progress to
stop taking jobs and ends the ticker after the call in flight.
"""

from __future__ import annotations

import os
import queue
import random
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from toolkit.config import Plan
from toolkit.db import CannotConnect, Target, connect, database_errors, sql_error_message
from toolkit.errors import ToolkitError
from toolkit.queries import composed

NEEDS = "`toolkit phase apply 2` deploys the processor loop"
CALL_TIMEOUT_S = 70  # above a run "once"'s 50 s budget, so we hear its answer
# ... and above a continuous run's: its run time, the handover, its last calls.
CONTINUOUS_EXTRA_S = 60
IN_FLIGHT = 2        # calls of the processor at once: the run in progress and the one taking over
# Errors that say "not now", not "never": no connection (08), the server shutting down or
# starting up (57P01-57P03), too many connections (53300), and a conflict worth retrying.
TRANSIENT_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53300", "40001", "40P01")


class Outage(ToolkitError):
    """The database cannot be used right now; it may well be back in a moment."""


def _transient(sqlstate: str | None) -> bool:
    return sqlstate is None or sqlstate.startswith(TRANSIENT_SQLSTATES)


@contextmanager
def _outages() -> Iterator[None]:
    """Database errors that are transient become an Outage; the others stay what they are."""
    import psycopg

    try:
        yield
    except CannotConnect as exc:
        if _transient(exc.sqlstate):
            raise Outage(exc.message) from None
        raise
    except psycopg.Error as exc:
        if isinstance(exc, psycopg.OperationalError) and _transient(exc.sqlstate):
            raise Outage(f"the database connection failed: {sql_error_message(exc)}") from None
        raise


@dataclass
class Backoff:
    """Capped exponential backoff with full jitter, restarting after a success."""

    first: float = 1.0
    cap: float = 30.0
    _next: float = 0.0

    def delay(self) -> float:
        self._next = min(self.cap, self._next * 2 if self._next else self.first)
        return random.uniform(self._next / 2, self._next)

    def reset(self) -> None:
        self._next = 0.0


@dataclass
class Outages:
    """A ticker's outages: each logged once as it starts and once as it ends, waited out with backoff."""

    say: Callable[[str], None]
    max_backoff: float
    count: int = 0
    _since: float | None = None

    def __post_init__(self) -> None:
        self._backoff = Backoff(first=min(1.0, self.max_backoff), cap=self.max_backoff)

    def failed(self, exc: "Outage") -> float:
        """Record the failure; the seconds to wait before trying again."""
        if self._since is None:
            self._since = time.monotonic()
            self.count += 1
            self.say(f"outage: {exc.message}; retrying with backoff (up to {self.max_backoff:g} s)")
        return self._backoff.delay()

    def succeeded(self) -> None:
        if self._since is not None:
            self.say(f"outage over after {time.monotonic() - self._since:.1f} s")
            self._since = None
        self._backoff.reset()


@dataclass
class Ticker:
    plan: Plan
    target: Target
    url: str
    token: str

    def _q(self, name: str):
        n = self.plan.names
        return composed(name, "queue.sql", invoke_loop=n["invoke_processor_loop"],
                        record_result=n["record_processor_result"], pending=n.partition("pending"),
                        state=n["processor_state"])

    def _fetch(self, name: str, params: dict | None = None):
        # The outer guard sees a failed connect, the inner one a connection lost mid-query
        # (before database_errors turns it into a plain ToolkitError).
        with _outages(), connect(self.target, autocommit=True) as conn, database_errors(NEEDS), _outages():
            return conn.execute(self._q(name), params).fetchone()[0]

    def tick(self, body: dict | None = None, *, until_empty: bool = False) -> dict:
        """One start, as pg_cron makes it: the loop, then the processor (waiting for its answer)
        if the loop says an external ticker must call it. With `until_empty` the run drains
        what is due and returns, whatever the drain setting."""
        loop = self._fetch("invoke_loop")
        if loop.get("action") != "external":
            return {"loop": loop, "processor": None}
        return {"loop": loop, "processor": self._call(self._body(loop, body, until_empty))}

    @staticmethod
    def _body(loop: dict, body: dict | None, until_empty: bool) -> dict:
        """How the loop says the run drains (a loop of an older release says nothing: once)."""
        start = {"trigger": "ticker", "drain": "once" if until_empty else loop.get("drain", "once")}
        if start["drain"] == "continuous" and loop.get("run_seconds"):
            start["runSeconds"] = loop["run_seconds"]
        return {**start, **(body or {})}

    def _call(self, body: dict) -> dict:
        """The processor, called as an app calls a function: through supabase's functions client."""
        from toolkit.invoke import invoke, split_function_url

        functions_url, name = split_function_url(self.url)
        timeout = CALL_TIMEOUT_S
        if body.get("drain") == "continuous":
            timeout = max(timeout, int(body.get("runSeconds") or 60) + CONTINUOUS_EXTRA_S)
        reply = invoke(functions_url, name, key=self.token, body=body, timeout=timeout)
        if not reply.ok:
            return self._failed(reply.error[:300])
        if not isinstance(reply.body, dict):
            return self._failed(f"not JSON: {str(reply.body)[:300]}")
        return reply.body

    def _failed(self, error: str) -> dict:
        state = self._fetch("record_result", {"ok": False, "error": error})
        return {"error": error, "breaker": state}

    def due(self) -> int:
        return self._fetch("due")

    def run(self, interval: float, until_empty: bool, max_ticks: int | None,
            report: Callable[[dict], None] | None = None, *, log: Callable[[str], None] | None = None,
            stop: threading.Event | None = None, max_backoff: float = 30.0) -> dict:
        """Tick every `interval` seconds, each start's processor call in the background (two at
        most: the run in progress and the one taking over); with `until_empty`, back to back
        until nothing is due, each call waited for (waiting `interval` only when the loop holds
        back: breaker open, budget spent, busy). Outages are waited out (logged through `log`);
        `stop` asks the run in progress to stop and ends the ticker after the calls in flight."""
        stop = stop or threading.Event()
        if not until_empty:
            return self._run_in_background(interval, max_ticks, report, log or (lambda _line: None), stop,
                                           max_backoff)
        outages = Outages(log or (lambda _line: None), max_backoff)
        ticks, completed = 0, 0
        due: int | None = None
        while not stop.is_set() and (max_ticks is None or ticks < max_ticks):
            try:
                result = self.tick(until_empty=True)
                due = self.due()
            except Outage as exc:
                stop.wait(outages.failed(exc))
                continue
            outages.succeeded()
            ticks += 1
            completed += (result["processor"] or {}).get("completed", 0)
            if report:
                report(result)
            held_back = result["loop"].get("action") == "skipped" or bool((result["processor"] or {}).get("error"))
            if due == 0:
                break
            if held_back:
                stop.wait(interval)
        if due is None:
            try:
                due = self.due()
            except Outage:
                due = None
        return {"ticks": ticks, "completed": completed, "due": due, "outages": outages.count,
                "stopped": stop.is_set()}

    def _run_in_background(self, interval: float, max_ticks: int | None, report: Callable[[dict], None] | None,
                           say: Callable[[str], None], stop: threading.Event, max_backoff: float) -> dict:
        outages = Outages(say, max_backoff)
        ticks, completed = 0, 0
        calls: list[threading.Thread] = []
        answers: queue.SimpleQueue = queue.SimpleQueue()

        def call(loop: dict) -> None:
            try:
                answers.put({"loop": loop, "processor": self._call(self._body(loop, None, False))})
            except ToolkitError as exc:  # the failed call could not be recorded either
                answers.put({"loop": loop, "processor": {"error": exc.message}})

        def collect() -> int:
            n = 0
            while not answers.empty():
                result = answers.get()
                n += (result["processor"] or {}).get("completed", 0)
                if report:
                    report(result)
            return n

        while not stop.is_set() and (max_ticks is None or ticks < max_ticks):
            started = time.monotonic()
            completed += collect()
            calls = [t for t in calls if t.is_alive()]
            try:
                loop = self._fetch("invoke_loop")
            except Outage as exc:
                stop.wait(outages.failed(exc))
                continue
            outages.succeeded()
            ticks += 1
            if loop.get("action") != "external":
                if report:
                    report({"loop": loop, "processor": None})
            elif len(calls) >= IN_FLIGHT:
                if report:
                    report({"loop": {**loop, "action": "skipped", "reason": f"{IN_FLIGHT} processor calls in flight"},
                            "processor": None})
            else:
                t = threading.Thread(target=call, args=(loop,), name="processor-call", daemon=True)
                t.start()
                calls.append(t)
            stop.wait(max(0.0, interval - (time.monotonic() - started)))
        if stop.is_set() and any(t.is_alive() for t in calls):
            try:  # the run in progress stops taking jobs; its call then ends
                self._fetch("stop_run")
            except ToolkitError:
                pass
        for t in calls:
            t.join()
        completed += collect()
        try:
            due = self.due()
        except Outage:
            due = None
        return {"ticks": ticks, "completed": completed, "due": due, "outages": outages.count,
                "stopped": stop.is_set()}


def service_token(project_root: Path) -> str:
    """The processor's bearer token: SUPABASE_SERVICE_ROLE_KEY, or one minted for the local stack."""
    if os.environ.get("SUPABASE_SERVICE_ROLE_KEY"):
        return os.environ["SUPABASE_SERVICE_ROLE_KEY"]
    from toolkit.dev.jwt import local_jwt_secret, mint_jwt  # no key given: the local stack's

    return mint_jwt(local_jwt_secret(project_root), sub="toolkit-ticker", role="service_role", ttl=3600)


def require_url(url: str | None, plan: Plan) -> str:
    url = url or os.environ.get("TOOLKIT_PROCESSOR_URL") or plan.processor_url
    if not url.startswith(("http://", "https://")):
        raise ToolkitError(f"the processor URL {url!r} is not an http(s) URL")
    from toolkit.invoke import split_function_url

    split_function_url(url)
    return url
