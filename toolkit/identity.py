"""Who is acting: recorded in the ledger, the history and the flag audit."""

from __future__ import annotations

import getpass
import os
import socket


def current_actor(explicit: str | None = None) -> str:
    if explicit:
        return explicit
    if os.environ.get("TOOLKIT_ACTOR"):
        return os.environ["TOOLKIT_ACTOR"]
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"
