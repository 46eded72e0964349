"""LOCAL ONLY: a stand-in for Supabase's Management API (the Edge Functions and secrets
routes), for the tests and local runs. Never a way to reach a hosted project.

It answers as the published contract says (routes, status codes, validation of the token,
the project ref, slugs, multipart deploys, metadata and secret names), keeps what it was sent
so that tests can compare uploads, and serves the deployed functions' metadata back. It does
not run functions: the local gateway (toolkit.dev.gateway) does that.
"""

from toolkit.dev.management_api.server import ManagementApiServer, StandIn

__all__ = ["ManagementApiServer", "StandIn"]
