"""The Realtime stand-in's contract: Phoenix channels with Presence as realtime-js speaks them
(vsn 1.0.0 objects and 2.0.0 arrays), checked frame by frame with a plain websocket client.
tests/test_frontend.py drives it with the real @supabase/supabase-js."""

from __future__ import annotations

import json
import socket
import time
import uuid

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from toolkit.dev import realtime
from toolkit.dev.jwt import mint_jwt

SECRET = "test-realtime-secret-0123456789-0123456789"
ANON = mint_jwt(SECRET, role="anon")


@pytest.fixture(scope="module")
def server():
    with realtime.start(SECRET) as s:
        yield s


class Socket:
    """One websocket in one protocol version, speaking frames as tuples."""

    def __init__(self, server, vsn: str = "2.0.0", apikey: str = ANON):
        self.vsn = vsn
        self.ws = connect(f"{server.websocket_url}?apikey={apikey}&vsn={vsn}", proxy=None)
        self.refs = iter(range(1, 10_000))

    def send(self, join_ref, topic, event, payload) -> str:
        ref = str(next(self.refs))
        if self.vsn == "2.0.0":
            self.ws.send(json.dumps([join_ref, ref, topic, event, payload]))
        else:
            self.ws.send(json.dumps({"join_ref": join_ref, "ref": ref, "topic": topic, "event": event,
                                     "payload": payload}))
        return ref

    def recv(self, timeout: float = 5) -> tuple:
        raw = json.loads(self.ws.recv(timeout=timeout))
        if self.vsn == "2.0.0":
            assert isinstance(raw, list) and len(raw) == 5, raw
            return tuple(raw)
        assert isinstance(raw, dict), raw
        return raw["join_ref"], raw["ref"], raw["topic"], raw["event"], raw["payload"]

    def reply_to(self, ref: str, timeout: float = 5) -> tuple:
        """The reply to the request `ref` (other frames before it are skipped)."""
        deadline = time.monotonic() + timeout
        while True:
            frame = self.expect("phx_reply", max(deadline - time.monotonic(), 0.01))
            if frame[1] == ref:
                return frame

    def expect(self, event: str, timeout: float = 5) -> tuple:
        """The next frame of `event` (other frames before it are skipped)."""
        deadline = time.monotonic() + timeout
        while True:
            frame = self.recv(max(deadline - time.monotonic(), 0.01))
            if frame[3] == event:
                return frame

    def join(self, topic: str, join_ref: str, key: str = "", token: str | None = None, changes=None,
             presence: bool = True) -> tuple:
        payload = {"config": {"broadcast": {"ack": False, "self": False}, "presence": {"key": key, "enabled": presence},
                              "postgres_changes": changes or [], "private": False}}
        if token:
            payload["access_token"] = token
        return self.reply_to(self.send(join_ref, topic, "phx_join", payload))

    def close(self) -> None:
        self.ws.close()


def user_token(secret: str = SECRET, ttl: int = 3600) -> tuple[str, str]:
    sub = str(uuid.uuid4())
    return sub, mint_jwt(secret, sub=sub, role="authenticated", ttl=ttl)


@pytest.mark.parametrize("vsn", ["1.0.0", "2.0.0"])
def test_heartbeat_join_and_presence_in_both_protocol_versions(server, vsn):
    s = Socket(server, vsn)
    ref = s.send(None, "phoenix", "heartbeat", {})
    assert s.recv() == (None, ref, "phoenix", "phx_reply", {"status": "ok", "response": {}})

    user, token = user_token()
    changes = [{"event": "*", "schema": "public", "table": "stock_quotes", "filter": "symbol=eq.AAPL"}]
    join_ref, _, topic, _, reply = s.join("realtime:stock:AAPL", "7", key=user, token=token, changes=changes)
    assert (join_ref, topic, reply["status"]) == ("7", "realtime:stock:AAPL", "ok")
    (answered,) = reply["response"]["postgres_changes"]
    assert {k: answered[k] for k in changes[0]} == changes[0] and isinstance(answered["id"], int)
    assert s.expect("presence_state")[::4] == ("7", {})  # join_ref echoed, nobody present yet

    ref = s.send("7", "realtime:stock:AAPL", "presence",
                 {"type": "presence", "event": "track", "payload": {"symbol": "AAPL", "userId": user}})
    assert s.expect("phx_reply") == ("7", ref, "realtime:stock:AAPL", "phx_reply", {"status": "ok", "response": {}})
    diff = s.expect("presence_diff")
    assert diff[0] == "7" and diff[1] is None
    (meta,) = diff[4]["joins"][user]["metas"]
    assert meta["symbol"] == "AAPL" and meta["userId"] == user and meta["phx_ref"]
    assert diff[4]["leaves"] == {}
    s.close()


def test_diffs_reach_every_member_and_leaving_or_closing_sends_the_leaves(server):
    topic = f"realtime:stock:{uuid.uuid4().hex[:8]}"
    a_user, a_token = user_token()
    b_user, b_token = user_token()
    a, b = Socket(server), Socket(server, "1.0.0")
    a.join(topic, "1", key=a_user, token=a_token)
    a.expect("presence_state")
    a.send("1", topic, "presence", {"type": "presence", "event": "track", "payload": {"who": "a"}})
    assert a_user in a.expect("presence_diff")[4]["joins"]

    b.join(topic, "5", key=b_user, token=b_token)
    state = b.expect("presence_state")[4]
    assert [m["who"] for m in state[a_user]["metas"]] == ["a"]  # the newcomer sees who is there
    b.send("5", topic, "presence", {"type": "presence", "event": "track", "payload": {"who": "b"}})
    assert b_user in b.expect("presence_diff")[4]["joins"]     # the sender too
    b_meta = a.expect("presence_diff")[4]["joins"][b_user]["metas"][0]  # and every other member
    # Clients tell metas apart by phx_ref (a leave removes the meta with that ref): unique per track.
    assert b_meta["phx_ref"] != state[a_user]["metas"][0]["phx_ref"]

    # Tracking again replaces the meta: one diff with the old one leaving and the new joining.
    b.send("5", topic, "presence", {"type": "presence", "event": "track", "payload": {"who": "b2"}})
    again = a.expect("presence_diff")[4]
    assert [m["who"] for m in again["joins"][b_user]["metas"]] == ["b2"]
    assert [m["who"] for m in again["leaves"][b_user]["metas"]] == ["b"]

    b.reply_to(b.send("5", topic, "phx_leave", {}))
    assert b.expect("phx_close")[0] == "5"
    left = a.expect("presence_diff")[4]
    assert list(left["leaves"]) == [b_user] and left["joins"] == {}

    c_user, c_token = user_token()
    c = Socket(server)
    c.join(topic, "9", key=c_user, token=c_token)
    c.send("9", topic, "presence", {"type": "presence", "event": "track", "payload": {"who": "c"}})
    assert c_user in a.expect("presence_diff")[4]["joins"]
    c.close()  # no leave: the socket just goes
    assert list(a.expect("presence_diff")[4]["leaves"]) == [c_user]
    a.close()
    b.close()


def test_untrack_sends_the_leave_and_keeps_the_member_joined(server):
    topic = f"realtime:stock:{uuid.uuid4().hex[:8]}"
    user, token = user_token()
    s = Socket(server)
    s.join(topic, "1", key=user, token=token)
    s.send("1", topic, "presence", {"type": "presence", "event": "track", "payload": {"n": 1}})
    s.expect("presence_diff")
    s.send("1", topic, "presence", {"type": "presence", "event": "untrack"})
    assert list(s.expect("presence_diff")[4]["leaves"]) == [user]
    assert s.reply_to(s.send(None, "phoenix", "heartbeat", {}))[4]["status"] == "ok"  # the socket is still fine
    s.close()


@pytest.mark.parametrize("token", [
    mint_jwt(SECRET, sub=str(uuid.uuid4()), role="authenticated", ttl=-10),
    mint_jwt("another-secret-0123456789-0123456789", sub=str(uuid.uuid4()), role="authenticated"),
    "not.a.token",
], ids=["expired", "foreign-secret", "garbage"])
def test_a_bad_access_token_gets_the_error_reply(server, token):
    s = Socket(server)
    join_ref, _, _, _, reply = s.join("realtime:stock:AAPL", "3", token=token)
    assert join_ref == "3" and reply["status"] == "error"
    assert "Invalid JWT" in reply["response"]["reason"]
    # Not joined: anything else on the topic is refused.
    ref = s.send("3", "realtime:stock:AAPL", "presence", {"type": "presence", "event": "track", "payload": {}})
    assert s.reply_to(ref)[4] == {"status": "error", "response": {"reason": "unmatched topic"}}
    s.close()


def test_outdated_join_refs_are_refused_and_a_second_join_replaces_the_first(server):
    topic = f"realtime:stock:{uuid.uuid4().hex[:8]}"
    user, token = user_token()
    s = Socket(server)
    s.join(topic, "1", key=user, token=token)
    s.send("1", topic, "presence", {"type": "presence", "event": "track", "payload": {}})
    s.expect("presence_diff")
    s.join(topic, "2", key=user, token=token)  # rejoin (as realtime-js does after an error)
    stale = s.reply_to(s.send("1", topic, "presence", {"type": "presence", "event": "untrack"}))
    assert stale[4] == {"status": "error", "response": {"reason": "unmatched topic"}}  # the old join_ref is gone
    assert s.reply_to(s.send("2", topic, "presence", {"type": "presence", "event": "untrack"}))[4]["status"] == "ok"
    s.close()


def test_the_handshake_refuses_a_bad_apikey_an_unknown_version_and_other_paths(server):
    for url, status in (
        (f"{server.websocket_url}?apikey=nope&vsn=2.0.0", 403),
        (f"{server.websocket_url}?apikey={mint_jwt('other-secret-0123456789abcdef', role='anon')}", 403),
        (f"{server.websocket_url}?apikey={ANON}&vsn=3.0.0", 400),
        (f"ws://127.0.0.1:{server.port}/socket/websocket?apikey={ANON}", 404),
    ):
        with pytest.raises(InvalidStatus) as refused:
            connect(url, proxy=None)
        assert refused.value.response.status_code == status, url


def test_private_channels_and_bad_topics_are_refused(server):
    s = Socket(server)
    reply = s.reply_to(s.send("1", "realtime:secret", "phx_join", {"config": {"private": True}, "access_token": ANON}))
    assert reply[4]["status"] == "error" and "private" in reply[4]["response"]["reason"]
    assert s.reply_to(s.send("2", "lobby", "phx_join", {"config": {}}))[4]["status"] == "error"
    s.close()


def test_listens_on_loopback_only_and_stops():
    with realtime.start(SECRET) as s:
        addresses = [a for a in _local_addresses() if a != "127.0.0.1"]
        for address in addresses:
            with socket.socket() as probe:
                probe.settimeout(1)
                assert probe.connect_ex((address, s.port)) != 0
        pid = s.pid
    from toolkit.dev.processes import alive

    assert not alive(pid)


def _local_addresses() -> list[str]:
    try:
        return list({info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)})
    except OSError:
        return []
