"""LOCAL ONLY: a stand-in for pg_net 0.20, which has no package for this machine.

Never install it on a hosted project: there the real pg_net serves schema net.

`install(conn)` puts pg_net's SQL interface into a local database (schema net, its UNLOGGED
queue and response tables, net.http_get / http_post / http_delete with pg_net's signatures,
defaults, errors and privileges); `start_worker(conninfo)` starts the process that sends the
queued requests once their transaction commits and writes their responses, as pg_net's
background worker does. Not wired into `toolkit local up`: a caller does both.
"""

from toolkit.dev.pg_net.control import WorkerHandle, start_worker
from toolkit.dev.pg_net.schema import install
from toolkit.dev.pg_net.settings import APPLICATION_NAME

__all__ = ["APPLICATION_NAME", "WorkerHandle", "install", "start_worker"]
