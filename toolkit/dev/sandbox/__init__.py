"""LOCAL ONLY: a stand-in for Financial Modeling Prep's "stable" API, for local runs and tests,
never a provider for a hosted project (whose functions call the real API).

`SandboxServer` serves deterministic payloads for every endpoint of phases.yaml on 127.0.0.1,
with FMP's per-minute limit and fault knobs (errors, latency, malformed bodies, forced status).
"""

from toolkit.dev.sandbox.server import Faults, Sandbox, SandboxServer

__all__ = ["Faults", "Sandbox", "SandboxServer"]
