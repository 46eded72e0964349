"""LOCAL ONLY: the pg_net stand-in worker's settings, pg_net's GUCs as arguments.

Shared by the worker process and the code that starts it; nothing here is for a hosted
project, where pg_net.batch_size and pg_net.ttl are the real extension's settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# How the worker's session shows in pg_stat_activity; net.check_worker_is_up() (net.sql)
# looks for exactly this name.
APPLICATION_NAME = "pg_net 0.20 worker (toolkit local stand-in)"
# The connection string reaches the worker through its environment, not its command line,
# where `ps` would show the password.
CONNINFO_ENV = "TOOLKIT_PG_NET_CONNINFO"

DEFAULT_BATCH_SIZE = 200          # pg_net.batch_size
DEFAULT_TTL_SECONDS = 6 * 3600    # pg_net.ttl, '6 hours'
DEFAULT_POLL_INTERVAL = 1.0
MAX_BATCH_SIZE = 32767            # pg_net.batch_size's maximum (PG_INT16_MAX)


@dataclass(frozen=True)
class Settings:
    """batch_size: requests taken and sent together; ttl_seconds: age at which responses are
    deleted; poll_interval: how often an idle worker expires responses and checks its
    connection (requests themselves wake it at commit)."""

    conninfo: str = field(repr=False)  # holds the password
    batch_size: int = DEFAULT_BATCH_SIZE
    ttl_seconds: float = DEFAULT_TTL_SECONDS
    poll_interval: float = DEFAULT_POLL_INTERVAL

    def __post_init__(self) -> None:
        if not self.conninfo:
            raise ValueError("the pg_net stand-in worker needs a connection string")
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) \
                or not 1 <= self.batch_size <= MAX_BATCH_SIZE:
            raise ValueError(f"batch_size must be an integer from 1 to {MAX_BATCH_SIZE}, not {self.batch_size!r}")
        if not self.ttl_seconds > 0:
            raise ValueError(f"ttl_seconds must be > 0, not {self.ttl_seconds!r}")
        if not self.poll_interval > 0:
            raise ValueError(f"poll_interval must be > 0, not {self.poll_interval!r}")
