"""LOCAL ONLY: the Realtime stand-in's server process. Never run it for a hosted project,
whose Realtime service is the platform's.

It speaks the Phoenix channels protocol that `@supabase/realtime-js` speaks, over a websocket
at /realtime/v1/websocket (127.0.0.1 only):

- `?apikey=` must be a token signed with the local secret; `vsn` 1.0.0 frames are JSON
  objects, 2.0.0 frames JSON arrays `[join_ref, ref, topic, event, payload]` (absent: 1.0.0,
  as Phoenix assumes);
- `phoenix` `heartbeat` is answered `phx_reply` ok;
- `phx_join` on `realtime:<name>` checks `access_token` (else the apikey) and answers ok with
  the requested `postgres_changes` list given ids, or `error` with a reason; with Presence
  enabled the joiner then gets `presence_state`. A second join of a topic on one socket
  replaces the first, as Phoenix does;
- `presence` track / untrack answer ok and send `presence_diff` to every member of the topic
  that has Presence enabled, the sender included; `phx_leave` and a closed socket send the
  leaves;
- `access_token` refreshes a member's token; `broadcast` (JSON, or the binary push realtime-js
  2.x sends) is relayed as JSON to the other members (to the sender too with `broadcast.self`);
- server pushes carry the member's join_ref, replies echo the request's join_ref and ref;
  any other event on a topic the socket has not joined is answered `unmatched topic`.

Postgres changes are not streamed: the join is answered so that clients subscribe, no more.
Private channels (RLS on realtime.messages) are refused, since nothing here checks policies.

Run as `python -m toolkit.dev.realtime.server --port N [--ready-fd FD]` with REALTIME_JWT_SECRET
set (usually through toolkit.dev.realtime.start).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import logging
import os
import signal
import uuid
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from toolkit.dev.jwt import InvalidToken, verify_jwt

PATH = "/realtime/v1/websocket"
READY_PATH = "/_serve/ready"
VERSIONS = ("1.0.0", "2.0.0")
SECRET_ENV = "REALTIME_JWT_SECRET"
TOPIC_PREFIX = "realtime:"

log = logging.getLogger("realtime")
_refs = itertools.count(1)


@dataclass(eq=False)
class Member:
    """One channel joined on one socket."""

    client: "Client"
    topic: str
    join_ref: str | None
    key: str
    presence: bool                  # receives presence_state and presence_diff
    broadcast_self: bool
    claims: dict
    meta: dict | None = None        # what it tracks, with its phx_ref; None: untracked


@dataclass(eq=False)
class Client:
    """One websocket."""

    ws: ServerConnection
    vsn: str
    apikey: str
    members: dict[str, Member] = field(default_factory=dict)

    async def send(self, join_ref, ref, topic: str, event: str, payload) -> None:
        if self.vsn == "2.0.0":
            frame = [join_ref, ref, topic, event, payload]
        else:
            frame = {"join_ref": join_ref, "ref": ref, "topic": topic, "event": event, "payload": payload}
        try:
            await self.ws.send(json.dumps(frame))
        except ConnectionClosed:
            pass  # its own handler cleans up

    async def reply(self, join_ref, ref, topic: str, status: str, response: dict) -> None:
        await self.send(join_ref, ref, topic, "phx_reply", {"status": status, "response": response})

    def decode(self, text: str) -> tuple:
        """(join_ref, ref, topic, event, payload) of a frame in this socket's protocol version."""
        data = json.loads(text)
        if self.vsn == "2.0.0":
            if not isinstance(data, list) or len(data) != 5:
                raise ValueError("a 2.0.0 frame is [join_ref, ref, topic, event, payload]")
            return tuple(data)
        if not isinstance(data, dict):
            raise ValueError("a 1.0.0 frame is an object")
        return data.get("join_ref"), data.get("ref"), data.get("topic"), data.get("event"), data.get("payload")


class Hub:
    """Every topic's members, and what the protocol does with them."""

    def __init__(self, secret: str):
        self.secret = secret
        self.topics: dict[str, list[Member]] = {}

    # -- the socket's life ------------------------------------------------------------------
    async def serve_socket(self, ws: ServerConnection) -> None:
        query = parse_qs(urlsplit(ws.request.path).query)
        client = Client(ws, query.get("vsn", ["1.0.0"])[0], query.get("apikey", [""])[0])
        try:
            async for frame in ws:
                try:
                    message = decode_broadcast_push(frame) if isinstance(frame, bytes) else client.decode(frame)
                except (ValueError, TypeError) as exc:
                    log.warning("undecodable frame (%s): %.200s", exc, frame)
                    continue
                await self.handle(client, *message)
        except ConnectionClosed:
            pass
        finally:
            for member in list(client.members.values()):
                await self.remove(member)

    async def handle(self, client: Client, join_ref, ref, topic, event, payload) -> None:
        payload = payload if isinstance(payload, dict) else {}
        if topic == "phoenix" and event == "heartbeat":
            await client.reply(None, ref, "phoenix", "ok", {})
            return
        if event == "phx_join":
            await self.join(client, join_ref, ref, topic, payload)
            return
        member = client.members.get(topic)
        if member is None or (join_ref is not None and join_ref != member.join_ref):
            await client.reply(join_ref, ref, topic, "error", {"reason": "unmatched topic"})
            return
        if event == "phx_leave":
            await client.reply(join_ref, ref, topic, "ok", {})
            await self.remove(member)
            await client.send(join_ref, None, topic, "phx_close", {})
        elif event == "presence":
            await self.presence(member, ref, payload)
        elif event == "access_token":
            await self.refresh_token(member, ref, payload)
        elif event == "broadcast":
            await self.broadcast(member, ref, payload)
        else:
            await client.reply(join_ref, ref, topic, "error", {"reason": f"unknown event {event!r}"})

    # -- join and leave ---------------------------------------------------------------------
    async def join(self, client: Client, join_ref, ref, topic, payload: dict) -> None:
        config = payload.get("config") if isinstance(payload.get("config"), dict) else {}
        problem = self._join_problem(topic, config)
        claims: dict = {}
        if problem is None:
            try:
                claims = verify_jwt(payload.get("access_token") or client.apikey, self.secret)
            except InvalidToken as exc:
                problem = f"Invalid JWT: {exc}"
        if problem is not None:
            await client.reply(join_ref, ref, topic, "error", {"reason": problem})
            return
        earlier = client.members.get(topic)
        if earlier is not None:
            await self.remove(earlier)
            await client.send(earlier.join_ref, None, topic, "phx_close", {})
        presence = config.get("presence") if isinstance(config.get("presence"), dict) else {}
        broadcast = config.get("broadcast") if isinstance(config.get("broadcast"), dict) else {}
        member = Member(client, topic, join_ref, key=str(presence.get("key") or uuid.uuid4()),
                        presence=presence.get("enabled", True) is not False,
                        broadcast_self=bool(broadcast.get("self")), claims=claims)
        client.members[topic] = member
        self.topics.setdefault(topic, []).append(member)
        changes = [{**f, "id": next(_refs)} for f in config.get("postgres_changes") or [] if isinstance(f, dict)]
        await client.reply(join_ref, ref, topic, "ok", {"postgres_changes": changes})
        if member.presence:
            await client.send(join_ref, None, topic, "presence_state", self.state(topic))

    @staticmethod
    def _join_problem(topic, config: dict) -> str | None:
        if not isinstance(topic, str) or not topic.startswith(TOPIC_PREFIX) or topic == TOPIC_PREFIX:
            return f"topic must be {TOPIC_PREFIX}<name>"
        if config.get("private"):
            return "private channels are not supported by the local Realtime stand-in"
        changes = config.get("postgres_changes")
        if changes is not None and not isinstance(changes, list):
            return "postgres_changes must be a list"
        return None

    async def remove(self, member: Member) -> None:
        """A member leaves (phx_leave, a replacing join, or its socket closed)."""
        client = member.client
        if client.members.get(member.topic) is member:
            del client.members[member.topic]
        members = self.topics.get(member.topic, [])
        if member in members:
            members.remove(member)
        if not members:
            self.topics.pop(member.topic, None)
        if member.meta is not None:
            await self.diff(member.topic, leaves={member.key: {"metas": [member.meta]}})
            member.meta = None

    # -- presence ---------------------------------------------------------------------------
    def state(self, topic: str) -> dict:
        found: dict[str, dict] = {}
        for m in self.topics.get(topic, []):
            if m.meta is not None:
                found.setdefault(m.key, {"metas": []})["metas"].append(m.meta)
        return found

    async def presence(self, member: Member, ref, payload: dict) -> None:
        kind = payload.get("event")
        if kind not in ("track", "untrack"):
            await member.client.reply(member.join_ref, ref, member.topic, "error", {"reason": "unknown presence event"})
            return
        await member.client.reply(member.join_ref, ref, member.topic, "ok", {})
        before = member.meta
        if kind == "untrack":
            member.meta = None
            if before is not None:
                await self.diff(member.topic, leaves={member.key: {"metas": [before]}})
            return
        meta = payload.get("payload") if isinstance(payload.get("payload"), dict) else {}
        member.meta = {**meta, "phx_ref": _ref()}
        if before is not None:
            member.meta["phx_ref_prev"] = before["phx_ref"]
        await self.diff(member.topic, joins={member.key: {"metas": [member.meta]}},
                        leaves={member.key: {"metas": [before]}} if before is not None else {})

    async def diff(self, topic: str, joins: dict | None = None, leaves: dict | None = None) -> None:
        payload = {"joins": joins or {}, "leaves": leaves or {}}
        for m in list(self.topics.get(topic, [])):
            if m.presence:
                await m.client.send(m.join_ref, None, topic, "presence_diff", payload)

    # -- the rest ---------------------------------------------------------------------------
    async def refresh_token(self, member: Member, ref, payload: dict) -> None:
        try:
            member.claims = verify_jwt(payload.get("access_token") or "", self.secret)
        except InvalidToken as exc:
            await member.client.reply(member.join_ref, ref, member.topic, "error", {"reason": f"Invalid JWT: {exc}"})
            return
        await member.client.reply(member.join_ref, ref, member.topic, "ok", {})

    async def broadcast(self, member: Member, ref, payload: dict) -> None:
        for m in list(self.topics.get(member.topic, [])):
            if m is not member or member.broadcast_self:
                await m.client.send(m.join_ref, None, member.topic, "broadcast", payload)
        await member.client.reply(member.join_ref, ref, member.topic, "ok", {})


USER_BROADCAST_PUSH = 3
JSON_ENCODING = 1


def decode_broadcast_push(frame: bytes) -> tuple:
    """realtime-js 2.x sends broadcasts as binary frames: kind 3, the lengths of join_ref, ref,
    topic, event and metadata, the payload's encoding, those fields, then the payload. Read as
    the JSON message it stands for: `broadcast` with {type, event, payload}."""
    if len(frame) < 7 or frame[0] != USER_BROADCAST_PUSH:
        raise ValueError("not a user broadcast push")
    sizes, encoding, at = frame[1:6], frame[6], 7
    fields = []
    for size in sizes:
        fields.append(frame[at:at + size].decode())
        at += size
    join_ref, ref, topic, event, _metadata = fields
    body = frame[at:]
    if encoding != JSON_ENCODING:
        raise ValueError("binary broadcast payloads are not relayed by the stand-in")
    payload = {"type": "broadcast", "event": event, "payload": json.loads(body or b"{}")}
    return join_ref or None, ref or None, topic, "broadcast", payload


def _ref() -> str:
    return f"F{next(_refs)}"


def _check_request(secret: str):
    """Refuse, before the upgrade, what Realtime refuses: another path, an unknown protocol
    version, an apikey that is not a token of the project."""

    def check(connection: ServerConnection, request: Request) -> Response | None:
        url = urlsplit(request.path)
        if url.path == READY_PATH:
            return connection.respond(200, "ready\n")
        if url.path != PATH:
            return connection.respond(404, "not found\n")
        query = parse_qs(url.query)
        vsn = query.get("vsn", ["1.0.0"])[0]
        if vsn not in VERSIONS:
            return connection.respond(400, f"unsupported vsn {vsn!r}; one of {', '.join(VERSIONS)}\n")
        try:
            verify_jwt(query.get("apikey", [""])[0], secret)
        except InvalidToken as exc:
            return connection.respond(403, f"apikey refused: {exc}\n")
        return None

    return check


async def run(port: int, secret: str, ready_fd: int | None = None) -> None:
    hub = Hub(secret)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with serve(hub.serve_socket, "127.0.0.1", port, process_request=_check_request(secret),
                     ping_interval=None, max_size=1 << 20):
        log.info("realtime on ws://127.0.0.1:%d%s", port, PATH)
        if ready_fd is not None:
            os.write(ready_fd, b"ready\n")
            os.close(ready_fd)
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ready-fd", type=int, help="file descriptor to write 'ready' to once listening")
    args = parser.parse_args()
    secret = os.environ.get(SECRET_ENV, "")
    if not secret:
        raise SystemExit(f"{SECRET_ENV} is not set")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s realtime %(levelname)s %(message)s")
    asyncio.run(run(args.port, secret, args.ready_fd))


if __name__ == "__main__":
    main()
