"""LOCAL ONLY: a stand-in for Supabase Realtime (Phoenix channels with Presence), for the
frontend module's tests and local runs. Never used for a hosted project, where the platform's
Realtime service answers at <project>/realtime/v1/websocket.

`start(secret)` runs the server (server.py) in a process of its own on 127.0.0.1 and waits
until it listens; `toolkit local up` keeps one running beside the cluster (RealtimeService),
and the functions gateway proxies /realtime/v1/ to it, so that one project URL serves
/functions/v1, /rest/v1 and /realtime/v1 as a real project's does.
"""

from toolkit.dev.realtime.control import DEFAULT_PORT, RealtimeHandle, RealtimeService, start

__all__ = ["DEFAULT_PORT", "RealtimeHandle", "RealtimeService", "start"]
