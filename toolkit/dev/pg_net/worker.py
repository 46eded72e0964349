"""LOCAL ONLY: the pg_net stand-in's worker, doing what pg_net's background worker does.

Never run it against a hosted project: there pg_net's own worker serves net.http_request_queue.

Run as `python -m toolkit.dev.pg_net.worker` (usually through `start_worker`), it keeps one
connection to the database of its connection string and works in rounds, as pg_net does:

- it is woken by net.wake(), which the request functions call and PostgreSQL delivers at
  commit only (LISTEN/NOTIFY), so a request is seen once its transaction commits and never
  when it rolls back; at start and after every reconnect it also reads the queue, for the
  requests committed while nobody listened. A row inserted into the queue by hand waits for
  the next wake, as pg_net's README warns;
- a round deletes at most batch_size expired responses, takes (deletes, commits) at most
  batch_size requests in id order, sends them concurrently, one attempt each within its
  timeout, and writes one net._http_response row per request once the whole batch is done;
- after a round that found work it goes on after at most a second, as pg_net does; an idle
  worker looks again every poll_interval to expire responses and notice a lost connection.

A lost or failing database connection is retried with a growing pause (0.1 s to 5 s), never
by exiting. SIGTERM or SIGINT end it after the batch in flight is written.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import signal
import sys
from datetime import datetime
from pathlib import Path
from typing import Callable

import psycopg
from psycopg.types.json import Jsonb

from toolkit.dev.pg_net.settings import (APPLICATION_NAME, CONNINFO_ENV, DEFAULT_BATCH_SIZE,
                                         DEFAULT_POLL_INTERVAL, DEFAULT_TTL_SECONDS, Settings)
from toolkit.dev.pg_net.transfer import Outcome, Request, Transfers

PAUSE_AFTER_WORK = 1.0     # pg_net: "slow down queue processing to avoid using too much CPU"
BACKOFF_FIRST = 0.1
BACKOFF_MAX = 5.0
STOP_CHECK = 0.2           # how long a wait may go without looking at the stop flag
CONNECT_TIMEOUT = 5

log = logging.getLogger("toolkit.dev.pg_net.worker")


def _queries() -> dict[str, str]:
    text = Path(__file__).with_name("worker.sql").read_text()
    parts = re.split(r"^-- name: (\w+)\s*$", text, flags=re.MULTILINE)
    return {name: body.strip() for name, body in zip(parts[1::2], parts[2::2])}


QUERIES = _queries()


class Worker:
    def __init__(self, settings: Settings, on_ready: Callable[[], None] | None = None):
        self.settings = settings
        self._on_ready = on_ready
        self._stopping = asyncio.Event()
        self._backoff = BACKOFF_FIRST
        # Sent but not yet written, because the connection went away: written on reconnect.
        self._unwritten: list[tuple[Outcome, datetime]] = []

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        async with Transfers() as transfers:
            while not self._stopping.is_set():
                try:
                    await self._serve(transfers)
                    continue
                except psycopg.Error as exc:
                    first_line = (str(exc).strip() or type(exc).__name__).splitlines()[0]
                    log.warning("database: %s; retrying in %.1f s", first_line, self._backoff)
                except Exception:  # a bug here must not end the worker: log it, start over
                    log.exception("unexpected failure; retrying in %.1f s", self._backoff)
                await self._sleep(self._backoff)
                self._backoff = min(self._backoff * 2, BACKOFF_MAX)

    async def _serve(self, transfers: Transfers) -> None:
        async with await psycopg.AsyncConnection.connect(
                self.settings.conninfo, autocommit=True, application_name=APPLICATION_NAME,
                connect_timeout=CONNECT_TIMEOUT) as conn:
            await conn.execute(QUERIES["listen"])
            log.info("connected (backend %s)", conn.info.backend_pid)
            on_ready, self._on_ready = self._on_ready, None  # once, at the first connection
            if on_ready is not None:
                on_ready()
            woken = True
            while not self._stopping.is_set():
                await self._write(conn)
                expired = await self._expire(conn)
                requests, taken_at = await self._take(conn) if woken else ([], None)
                if requests:
                    outcomes = await transfers.perform_all(requests)
                    self._unwritten.extend((o, taken_at) for o in outcomes)
                    await self._write(conn)
                self._backoff = BACKOFF_FIRST  # a whole round worked: the connection is good
                busy = bool(requests) or expired > 0
                woken = await self._wait_for_wake(conn, PAUSE_AFTER_WORK if busy else self.settings.poll_interval)
                woken = woken or busy

    async def _expire(self, conn: psycopg.AsyncConnection) -> int:
        cur = await conn.execute(QUERIES["expire"], {"ttl_seconds": self.settings.ttl_seconds,
                                                     "batch_size": self.settings.batch_size})
        return cur.rowcount

    async def _take(self, conn: psycopg.AsyncConnection) -> tuple[list[Request], datetime | None]:
        """The requests taken off the queue, and when (the responses' `created`)."""
        cur = await conn.execute(QUERIES["take"], {"batch_size": self.settings.batch_size})
        rows = await cur.fetchall()
        requests = [Request(id=r[0], method=r[1], url=r[2], timeout_milliseconds=r[3], headers=r[4], body=r[5])
                    for r in rows]
        return requests, rows[0][6] if rows else None

    async def _write(self, conn: psycopg.AsyncConnection) -> None:
        if not self._unwritten:
            return
        params = [{"id": o.id, "status_code": o.status_code, "content_type": o.content_type,
                   "headers": None if o.headers is None else Jsonb(o.headers), "content": o.content,
                   "timed_out": o.timed_out, "error_msg": o.error_msg, "created": created}
                  for o, created in self._unwritten]
        try:
            async with conn.transaction():
                async with conn.cursor() as cur:
                    await cur.executemany(QUERIES["respond"], params)
        except psycopg.Error:
            if not (conn.closed or conn.broken):
                # The database refused the rows themselves (net._http_response gone or
                # changed): keeping them would block every later round.
                log.error("dropped %d responses the database refused", len(params))
                self._unwritten.clear()
            raise
        self._unwritten.clear()

    async def _wait_for_wake(self, conn: psycopg.AsyncConnection, timeout: float) -> bool:
        """True when net.wake() was called by a committed transaction within `timeout`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self._stopping.is_set():
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            woken = False
            # Run the generator to its end (stop_after): left open, it would keep holding
            # the connection's lock.
            async for _ in conn.notifies(timeout=min(remaining, STOP_CHECK), stop_after=1):
                woken = True
            if woken:
                return True
        return False

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except TimeoutError:
            pass


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m toolkit.dev.pg_net.worker",
        description="LOCAL ONLY: send the requests of the pg_net stand-in (toolkit.dev.pg_net).")
    parser.add_argument("--conninfo", default=os.environ.get(CONNINFO_ENV),
                        help=f"the database to serve (default: ${CONNINFO_ENV})")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, help="like pg_net.batch_size")
    parser.add_argument("--ttl-seconds", type=float, default=DEFAULT_TTL_SECONDS, help="like pg_net.ttl")
    parser.add_argument("--poll-interval", type=float, default=DEFAULT_POLL_INTERVAL,
                        help="seconds between the idle worker's rounds")
    parser.add_argument("--ready-fd", type=int, help="file descriptor to write 'ready' to once listening")
    parser.add_argument("--verbose", action="store_true", help="log every connection, not only problems")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr,
                        format=f"%(asctime)s pg_net stand-in worker [{os.getpid()}] %(levelname)s: %(message)s")
    try:
        settings = Settings(conninfo=args.conninfo or "", batch_size=args.batch_size,
                            ttl_seconds=args.ttl_seconds, poll_interval=args.poll_interval)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    def ready() -> None:
        if args.ready_fd is None:
            return
        try:
            os.write(args.ready_fd, b"ready\n")
        except OSError:
            pass  # whoever waited has given up; the worker works on regardless
        finally:
            os.close(args.ready_fd)

    async def serve() -> None:
        worker = Worker(settings, on_ready=ready)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, worker.stop)
        log.info("started with a config of: ttl=%s s, batch_size=%d, poll_interval=%s s",
                 settings.ttl_seconds, settings.batch_size, settings.poll_interval)
        await worker.run()

    asyncio.run(serve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
