"""LOCAL ONLY: sends the pg_net stand-in's requests the way pg_net's libcurl calls do.

Used by the stand-in's worker, never on a hosted project (there pg_net sends them). One
`Transfers` runs a batch concurrently; every request gets one attempt within its own total
timeout, and its outcome carries what pg_net would write to net._http_response: the status,
the headers of the first response as JSON, the body as text, or curl's error texts.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass, field

import httpx

# What pg_net adds to every request whose headers are not NULL.
USER_AGENT = "pg_net/0.20.0"
# libcurl's default redirect limit (pg_net follows redirects and sets no limit of its own).
MAX_REDIRECTS = 30

# curl_easy_strerror texts of the CURLcodes a request can end with (current libcurl wording;
# libcurl before 8.6 said "Couldn't" where it now says "Could not").
BAD_ARGUMENT = "A libcurl function was given a bad argument"
COULD_NOT_CONNECT = "Could not connect to server"
COULD_NOT_RESOLVE = "Could not resolve host name"
GOT_NOTHING = "Server returned nothing (no headers, no data)"
PARTIAL_FILE = "Transferred a partial file"
PEER_FAILED_VERIFICATION = "SSL peer certificate or SSH remote key was not OK"
RECV_ERROR = "Failure when receiving data from the peer"
SEND_ERROR = "Failed sending data to the peer"
SSL_CONNECT_ERROR = "SSL connect error"
TOO_MANY_REDIRECTS = "Number of redirects hit maximum amount"
UNSUPPORTED_PROTOCOL = "Unsupported protocol"
URL_MALFORMAT = "URL using bad/illegal format or missing URL"
WEIRD_SERVER_REPLY = "Weird server reply"


@dataclass(frozen=True)
class Request:
    """A row taken from net.http_request_queue; headers as "name: value" lines, or None."""

    id: int
    method: str
    url: str
    timeout_milliseconds: int
    headers: list[str] | None = None
    body: bytes | None = None


@dataclass(frozen=True)
class Outcome:
    """One net._http_response row (without `created`)."""

    id: int
    status_code: int | None = None
    content_type: str | None = None
    headers: dict[str, str] | None = None
    content: str | None = None
    timed_out: bool = False
    error_msg: str | None = None


@dataclass
class _Timings:
    """When the phases curl times were reached, from httpcore's trace events."""

    started: float = field(default_factory=time.monotonic)
    connected: float | None = None     # TCP connect done (curl: connect)
    tls_done: float | None = None      # TLS handshake done (curl: appconnect)
    sending: float | None = None       # request headers start going out (curl: pretransfer)

    async def trace(self, event: str, info: dict) -> None:
        now = time.monotonic()
        if event == "connection.connect_tcp.complete" and self.connected is None:
            self.connected = now
        elif event == "connection.start_tls.complete" and self.tls_done is None:
            self.tls_done = now
        elif event.endswith(".send_request_headers.started") and self.sending is None:
            self.sending = now

    def timeout_message(self, timeout_milliseconds: int) -> str:
        """pg_net's timeout text. httpcore resolves names inside its connect, so the DNS time
        is always 0 here and counts as handshake time."""
        total = time.monotonic() - self.started
        if self.sending is not None:
            handshake_end = self.tls_done or self.connected
            handshake = handshake_end - self.started if handshake_end else 0.0  # a reused connection
            http = total - (self.sending - self.started)
        else:
            handshake, http = total, 0.0
        return (f"Timeout of {timeout_milliseconds} ms reached. Total time: {total * 1000:f} ms "
                f"(DNS time: {0.0:f} ms, TCP/SSL handshake time: {handshake * 1000:f} ms, "
                f"HTTP Request/Response time: {http * 1000:f} ms)")


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _header_list(request: Request) -> list[tuple[str, str]]:
    """The header lines curl would send besides Host and Content-Length.

    curl's own Accept stays unless the caller gives one; a caller's header with an empty
    value only removes curl's header of that name; a body without a Content-Type goes as
    curl's form default. pg_net appends its User-Agent unless headers are NULL."""
    defaults = {"accept": ("Accept", "*/*")}
    if request.body is not None:
        defaults["content-type"] = ("Content-Type", "application/x-www-form-urlencoded")
    if request.headers is not None:
        defaults["user-agent"] = ("User-Agent", USER_AGENT)
    given: list[tuple[str, str]] = []
    for line in request.headers or []:
        name, _, value = line.partition(":")
        name, value = name.strip(), value.strip()
        defaults.pop(name.lower(), None)
        if name and value:
            given.append((name, value))
    return [*defaults.values(), *given]


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, kind):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def curl_error_text(exc: BaseException) -> str:
    """The curl_easy_strerror text of the CURLcode curl would have returned for `exc`."""
    if isinstance(exc, httpx.UnsupportedProtocol):
        return UNSUPPORTED_PROTOCOL
    if isinstance(exc, httpx.TooManyRedirects):
        return TOO_MANY_REDIRECTS
    if isinstance(exc, httpx.ConnectError):
        if _caused_by(exc, socket.gaierror):
            return COULD_NOT_RESOLVE
        if _caused_by(exc, ssl.SSLCertVerificationError):
            return PEER_FAILED_VERIFICATION
        if _caused_by(exc, ssl.SSLError):
            return SSL_CONNECT_ERROR
        return COULD_NOT_CONNECT
    if isinstance(exc, httpx.RemoteProtocolError):
        text = str(exc)
        if "without sending" in text:
            return GOT_NOTHING
        if "complete message body" in text:
            return PARTIAL_FILE
        return WEIRD_SERVER_REPLY
    if isinstance(exc, httpx.ReadError):
        return RECV_ERROR
    if isinstance(exc, httpx.WriteError):
        return SEND_ERROR
    if isinstance(exc, httpx.InvalidURL):
        return URL_MALFORMAT
    return str(exc) or type(exc).__name__


def _text(body: bytes) -> str | None:
    """The body as pg_net stores it: C-string text (up to a NUL byte), NULL when empty."""
    body = body.split(b"\0", 1)[0]
    return body.decode("utf-8", errors="replace") if body else None


class Transfers:
    """HTTP clients for one worker. Loopback requests never go through a proxy; others use
    the environment's proxy settings, as libcurl does."""

    def __init__(self) -> None:
        # No connection limit, as curl's multi handle; no httpx timeouts: each request's own
        # total timeout is applied around it (perform).
        options = dict(limits=httpx.Limits(max_connections=None, max_keepalive_connections=20),
                       timeout=None, max_redirects=MAX_REDIRECTS)
        self._direct = httpx.AsyncClient(trust_env=False, **options)
        self._outward = httpx.AsyncClient(trust_env=True, **options)
        for client in (self._direct, self._outward):
            # curl sends neither by default; the request's own headers decide (_header_list).
            for name in ("Accept", "Accept-Encoding", "Connection", "User-Agent"):
                client.headers.pop(name, None)

    async def __aenter__(self) -> "Transfers":
        return self

    async def __aexit__(self, *exc) -> None:
        await self._direct.aclose()
        await self._outward.aclose()

    async def perform_all(self, requests: list[Request]) -> list[Outcome]:
        return list(await asyncio.gather(*(self.perform(r) for r in requests)))

    async def perform(self, request: Request) -> Outcome:
        """Send `request` once. Never raises: every failure is an outcome."""
        timings = _Timings()
        if request.timeout_milliseconds < 0:
            return Outcome(request.id, error_msg=BAD_ARGUMENT)  # curl refuses a negative timeout
        # curl's CURLOPT_TIMEOUT_MS 0 means no limit.
        limit = request.timeout_milliseconds / 1000 if request.timeout_milliseconds else None
        try:
            async with asyncio.timeout(limit):
                url = httpx.URL(request.url)
                client = self._direct if _is_loopback(url.host) else self._outward
                built = client.build_request(request.method, url, headers=_header_list(request),
                                             content=request.body, extensions={"trace": timings.trace})
                response = await client.send(built, stream=True, follow_redirects=True)
                try:
                    # Undecoded, as curl without CURLOPT_ACCEPT_ENCODING hands the body over.
                    body = b"".join([chunk async for chunk in response.aiter_raw()])
                finally:
                    await response.aclose()
        except TimeoutError:
            return Outcome(request.id, timed_out=True,
                           error_msg=timings.timeout_message(request.timeout_milliseconds))
        except Exception as exc:  # noqa: BLE001 - any failure is this request's outcome, never the worker's
            return Outcome(request.id, error_msg=curl_error_text(exc))
        # pg_net reads the headers of the first response of a redirect chain (curl's request
        # 0), the status and the Content-Type of the last; a JSON object keeps a repeated
        # header's last value.
        first = response.history[0] if response.history else response
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in first.headers.raw}
        return Outcome(request.id, status_code=response.status_code,
                       content_type=response.headers.get("content-type"),
                       headers=headers, content=_text(body))
