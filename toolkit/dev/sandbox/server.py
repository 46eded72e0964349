"""A local HTTP stand-in for Financial Modeling Prep's "stable" API, with fault knobs.

Standard library only. `Sandbox` holds the logic (rate window, fault dice, counters, the call
log) and answers a request as a `Reply`; `SandboxServer` puts it behind a `ThreadingHTTPServer`
on 127.0.0.1 in a daemon thread. Bodies come from `payloads`, which is deterministic.

The call log is the provider's own count: the arrival time of every request to the API, so
that a test can ask how many calls any window of the provider saw (`calls(window)`, or
GET /_sandbox/calls?window=S), however the client thinks it spread them.
"""

from __future__ import annotations

import json
import math
import random
import socket
import socketserver
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import parse_qs, urlsplit

from toolkit.dev.sandbox import payloads

HOST = "127.0.0.1"  # never exposed beyond this machine
PREFIX = "/stable/"
CONTROL = "/_sandbox/"
UNKNOWN_ENDPOINT = "(unknown)"

INVALID_KEY = ("Invalid API KEY. Feel free to create a Free API Key or visit "
               "https://site.financialmodelingprep.com/faqs?search=why-is-my-api-key-invalid for more information.")
LIMIT_REACHED = ("Limit Reach . Please upgrade your plan or visit our documentation for more details at "
                 "https://site.financialmodelingprep.com/")


@dataclass
class Faults:
    """The knobs; every one can change while the server runs."""

    error_rate: float = 0.0         # share answered 500/502/503
    latency_ms: float = 0.0         # added before every /stable answer ...
    slow_seconds: float = 0.0       # ... or, with both of these set, in waves: slow for this long,
    fast_seconds: float = 0.0       # then without latency for this long, and again
    malformed_rate: float = 0.0     # share answered 200 with a truncated body
    force_status: int | None = None  # answer every /stable request with this status
    calls_per_minute: int = 300     # the limit of the rate window (window_seconds, 60 by default)

    def updated(self, changes: dict) -> "Faults":
        unknown = set(changes) - set(self.__dict__)
        if unknown:
            raise ValueError(f"unknown fault knob(s): {', '.join(sorted(unknown))}; known: {', '.join(self.__dict__)}")
        new = Faults(**{**self.__dict__, **changes})
        new.validate()
        return new

    def validate(self) -> None:
        for name in ("error_rate", "malformed_rate"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= 1:
                raise ValueError(f"{name} must be a number from 0 to 1, not {value!r}")
        for name in ("latency_ms", "slow_seconds", "fast_seconds"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be a number >= 0, not {value!r}")
        if self.force_status in (0, None):
            self.force_status = None
        elif not isinstance(self.force_status, int) or not 400 <= self.force_status <= 599:
            raise ValueError(f"force_status must be an HTTP error status (400-599) or null, not {self.force_status!r}")
        if not isinstance(self.calls_per_minute, int) or isinstance(self.calls_per_minute, bool) or self.calls_per_minute < 1:
            raise ValueError(f"calls_per_minute must be an integer >= 1, not {self.calls_per_minute!r}")


@dataclass
class Reply:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before sending


def _error(status: int, message: str, **headers: str) -> Reply:
    return Reply(status, json.dumps({"Error Message": message}).encode(), dict(headers))


class Sandbox:
    """The stand-in's state and decisions, independent of sockets (thread-safe).

    `clock` and `window_seconds` exist so tests can move time instead of waiting a minute.
    """

    LOG_LIMIT = 200_000  # arrivals kept in the call log (the oldest go first)

    def __init__(self, *, api_key: str | None = None, seed: int = 0, clock: Callable[[], float] = time.monotonic,
                 window_seconds: float = 60.0, **knobs):
        self.api_key = api_key
        self.seed = seed
        self.clock = clock
        self.window_seconds = window_seconds
        self.faults = Faults().updated(knobs)
        self._waves_from = clock()
        self._lock = threading.Lock()
        self.reset()

    # -- control ---------------------------------------------------------------------------
    def reset(self) -> None:
        """Zero the counters and the rate window; the fault dice start over from the seed."""
        with self._lock:
            self._window: deque[float] = deque()
            self._arrivals: deque[float] = deque(maxlen=self.LOG_LIMIT)
            self._dice = random.Random(self.seed)
            self._calls = self._bytes = self._rate_limited = 0
            self._by_endpoint: dict[str, dict] = {}
            self._by_status: dict[str, dict] = {}
            self._since = datetime.now(timezone.utc).isoformat(timespec="seconds")

    def set_faults(self, **changes) -> dict:
        with self._lock:
            self.faults = self.faults.updated(changes)
            if {"slow_seconds", "fast_seconds"} & set(changes):
                self._waves_from = self.clock()  # a new wave pattern starts slow, now
            return dict(self.faults.__dict__)

    def calls(self, window: float) -> dict:
        """The call log: calls per second (of the sandbox's clock), and the most calls any
        half-open window of `window` seconds saw, with when it began."""
        if not window > 0:
            raise ValueError(f"window must be a number of seconds > 0, not {window!r}")
        with self._lock:
            arrivals = list(self._arrivals)
        per_second: dict[int, int] = {}
        for at in arrivals:
            per_second[math.floor(at)] = per_second.get(math.floor(at), 0) + 1
        busiest, start, j = 0, None, 0
        for i, at in enumerate(arrivals):  # in arrival order, so sorted
            while arrivals[j] <= at - window:
                j += 1
            if i - j + 1 > busiest:
                busiest, start = i - j + 1, arrivals[j]
        return {"window": window, "busiest": busiest, "busiest_from": start, "calls": len(arrivals),
                "per_second": sorted(per_second.items())}

    def arrivals(self) -> list[float]:
        """When each call in the log arrived (the sandbox's clock, oldest first)."""
        with self._lock:
            return list(self._arrivals)

    def stats(self) -> dict:
        with self._lock:
            self._expire(self.clock())
            return {
                "calls": self._calls, "bytes": self._bytes, "rate_limited": self._rate_limited,
                "by_endpoint": json.loads(json.dumps(self._by_endpoint)),  # a deep copy
                "by_status": json.loads(json.dumps(self._by_status)),
                "window": {"seconds": self.window_seconds, "calls": len(self._window),
                           "limit": self.faults.calls_per_minute},
                "faults": dict(self.faults.__dict__), "since": self._since,
            }

    # -- answering -------------------------------------------------------------------------
    def answer(self, path: str, query: dict[str, str]) -> Reply:
        """The reply to `GET <path>?<query>` under /stable/, counted in the stats and the call log."""
        with self._lock:
            self._arrivals.append(self.clock())
        endpoint = path[len(PREFIX):]
        if endpoint not in payloads.ENDPOINTS:
            reply = _error(404, f"Unknown endpoint: {path}")
            endpoint = UNKNOWN_ENDPOINT
        else:
            reply = self._decide(endpoint, query)
        with self._lock:
            reply.delay = self._latency() / 1000
            self._count(endpoint, reply)
        return reply

    def _latency(self) -> float:
        """The latency now (caller holds the lock): always, or only in the slow part of a wave."""
        f = self.faults
        if not (f.slow_seconds and f.fast_seconds):
            return f.latency_ms
        into = (self.clock() - self._waves_from) % (f.slow_seconds + f.fast_seconds)
        return f.latency_ms if into < f.slow_seconds else 0.0

    def _decide(self, endpoint: str, query: dict[str, str]) -> Reply:
        # Order: forced status, API key, rate limit, injected 5xx, parameters, payload (maybe mangled).
        with self._lock:
            forced = self.faults.force_status
            early = None if forced else self._gate(query)
            admitted = not forced and early is None
            fault = admitted and self._dice.random() < self.faults.error_rate
            status = self._dice.choice((500, 502, 503)) if fault else 0
            malformed = admitted and not fault and self._dice.random() < self.faults.malformed_rate
        if forced:
            retry = {"Retry-After": str(math.ceil(self.window_seconds))} if forced == 429 else {}
            return _error(forced, f"Forced status {forced} (sandbox)", **retry)
        if early:
            return early
        if fault:
            return _error(status, f"Internal error (sandbox fault injection, status {status})")
        try:
            body = payloads.payload(endpoint, query)
        except payloads.BadRequest as exc:
            return _error(400, str(exc))
        if malformed:
            body = body[: max(1, len(body) // 2)]  # a proper prefix of a JSON array never parses
        return Reply(200, body)

    def _gate(self, query: dict[str, str]) -> Reply | None:
        """The API key, then the per-minute limit (caller holds the lock); None lets the call in."""
        key = query.get("apikey", "")
        if not key or (self.api_key is not None and key != self.api_key):
            return _error(401, INVALID_KEY)
        now = self.clock()
        self._expire(now)
        if len(self._window) >= self.faults.calls_per_minute:
            self._rate_limited += 1
            wait = self._window[len(self._window) - self.faults.calls_per_minute] + self.window_seconds - now
            return _error(429, LIMIT_REACHED, **{"Retry-After": str(max(1, math.ceil(wait)))})
        self._window.append(now)
        return None

    def _expire(self, now: float) -> None:
        while self._window and self._window[0] <= now - self.window_seconds:
            self._window.popleft()

    def _count(self, endpoint: str, reply: Reply) -> None:
        size, status = len(reply.body), str(reply.status)
        self._calls += 1
        self._bytes += size
        ep = self._by_endpoint.setdefault(endpoint, {"calls": 0, "bytes": 0, "by_status": {}})
        ep["calls"] += 1
        ep["bytes"] += size
        ep["by_status"][status] = ep["by_status"].get(status, 0) + 1
        st = self._by_status.setdefault(status, {"calls": 0, "bytes": 0})
        st["calls"] += 1
        st["bytes"] += size


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: every reply carries its Content-Length
    server_version = "fmp-sandbox/1"
    timeout = 120  # an idle keep-alive connection is dropped after this many seconds
    server: "_HTTPServer"

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, True)

    def finish(self) -> None:
        self.server.track(self.connection, False)
        try:
            super().finish()
        except OSError:
            pass  # the client (or stop()) already closed the socket

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        body = self._read_body()
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        if url.path.startswith(CONTROL):
            reply = _control(self.server.sandbox, method, url.path[len(CONTROL):], body, query)
        elif url.path.startswith(PREFIX):
            reply = self.server.sandbox.answer(url.path, query) if method == "GET" else _error(405, "Use GET")
        else:
            reply = _error(404, f"Not found: {url.path} (the API lives under {PREFIX})")
        if reply.delay and self.server.stopping.wait(reply.delay):
            self.close_connection = True  # stopping: do not hold the socket any longer
        self._send(reply)

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(reply.body)

    def log_message(self, format: str, *args) -> None:
        pass  # quiet: the CLI prints a summary; per-request lines would drown it


def _control(sandbox: Sandbox, method: str, action: str, body: bytes, query: dict[str, str]) -> Reply:
    """The /_sandbox/ API: neither rate limited nor counted."""
    def ok(payload) -> Reply:
        return Reply(200, json.dumps(payload).encode())

    if (method, action) == ("GET", "health"):
        return ok({"status": "ok"})
    if (method, action) == ("GET", "stats"):
        return ok(sandbox.stats())
    if (method, action) == ("GET", "calls"):
        try:
            return ok(sandbox.calls(float(query.get("window", sandbox.window_seconds))))
        except ValueError as exc:
            return _error(400, str(exc))
    if (method, action) == ("POST", "reset"):
        sandbox.reset()
        return ok(sandbox.stats())
    if action == "faults" and method == "GET":
        return ok(dict(sandbox.faults.__dict__))
    if (method, action) == ("POST", "faults"):
        try:
            changes = json.loads(body or b"{}")
            if not isinstance(changes, dict):
                raise ValueError("the body must be a JSON object of knobs")
            return ok(sandbox.set_faults(**changes))
        except ValueError as exc:  # JSONDecodeError is a ValueError too
            return _error(400, str(exc))
    return _error(404, f"Unknown control action: {method} {CONTROL}{action}")


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address, sandbox: Sandbox):
        self.sandbox = sandbox
        self.stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind would look up the host's FQDN (DNS): not needed for 127.0.0.1.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = HOST, self.server_address[1]

    def track(self, conn: socket.socket, open_: bool) -> None:
        with self._conn_lock:
            (self._connections.add if open_ else self._connections.discard)(conn)

    def close_connections(self) -> None:
        """Unblock handler threads waiting on idle keep-alive sockets, so stop() really stops."""
        with self._conn_lock:
            for conn in list(self._connections):
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def handle_error(self, request, client_address) -> None:
        pass  # a client that hangs up mid-reply is not the sandbox's problem


class SandboxServer:
    """The sandbox on 127.0.0.1 in a background (daemon) thread.

    `SandboxServer(port=0, calls_per_minute=300, error_rate=..., latency_ms=..., malformed_rate=...,
    force_status=..., api_key=None, seed=0)`; `start()` binds (OSError when the port is taken).
    """

    def __init__(self, port: int = 0, calls_per_minute: int = 300, *, api_key: str | None = None, seed: int = 0,
                 clock: Callable[[], float] = time.monotonic, window_seconds: float = 60.0, **faults):
        self.sandbox = Sandbox(api_key=api_key, seed=seed, clock=clock, window_seconds=window_seconds,
                               calls_per_minute=calls_per_minute, **faults)
        self._port = port
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> "SandboxServer":
        if self._httpd is None:
            self._httpd = _HTTPServer((HOST, self._port), self.sandbox)
            self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                            name=f"fmp-sandbox-{self.port}", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.stopping.set()
        httpd.shutdown()
        httpd.close_connections()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the sandbox is not running: call start() first")
        return self._httpd.server_address[1]

    @property
    def root_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def url(self) -> str:
        """The base URL to configure in place of https://financialmodelingprep.com/stable."""
        return f"{self.root_url}/stable"

    def stats(self) -> dict:
        return self.sandbox.stats()

    def set_faults(self, **changes) -> dict:
        return self.sandbox.set_faults(**changes)

    def calls(self, window: float) -> dict:
        return self.sandbox.calls(window)

    def arrivals(self) -> list[float]:
        return self.sandbox.arrivals()

    def reset(self) -> None:
        self.sandbox.reset()

    def __enter__(self) -> "SandboxServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
