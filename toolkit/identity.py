"""Who is acting: recorded in the ledger, the history and the flag audit."""

from __future__ import annotations

import getpass
import os
import socket
import subprocess


def _git_user() -> str | None:
    try:
        out = subprocess.run(["git", "config", "user.email"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def current_actor(explicit: str | None = None) -> str:
    """--actor, else TOOLKIT_ACTOR, else git's user.email, else user@host."""
    if explicit:
        return explicit
    if os.environ.get("TOOLKIT_ACTOR"):
        return os.environ["TOOLKIT_ACTOR"]
    git = _git_user()
    if git:
        return git
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"
