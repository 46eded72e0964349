"""Calling an Edge Function as an app does: through the `supabase` client's functions client,
against a hosted project or the local gateway alike."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from toolkit.errors import ToolkitError

FUNCTIONS_PATH = "/functions/v1"


@dataclass
class Reply:
    status: int | None          # None: no HTTP answer at all
    body: Any                   # the decoded JSON, or text
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status is not None and self.status < 300


def split_function_url(url: str) -> tuple[str, str]:
    """`https://x/functions/v1/name` -> (`https://x/functions/v1`, `name`)."""
    base, _, name = url.rstrip("/").rpartition("/")
    if not base.endswith(FUNCTIONS_PATH) or not name:
        raise ToolkitError(f"{url!r} is not a function URL (…{FUNCTIONS_PATH}/<name>)")
    return base, name


def invoke(functions_url: str, name: str, *, key: str, token: str | None = None, body: Any = None,
           method: str = "POST", timeout: float = 70.0) -> Reply:
    """One call: `key` is the project's API key (apikey header), `token` the bearer (the key
    itself when not given)."""
    import httpx
    from supabase import ClientOptions, create_client
    from supabase_functions.errors import FunctionsError

    if not functions_url.rstrip("/").endswith(FUNCTIONS_PATH):
        raise ToolkitError(f"the functions URL {functions_url!r} does not end in {FUNCTIONS_PATH}")
    project_url = functions_url.rstrip("/")[: -len(FUNCTIONS_PATH)]
    loopback = urlsplit(project_url).hostname in ("127.0.0.1", "localhost", "::1")
    http = httpx.Client(timeout=timeout, trust_env=not loopback, follow_redirects=True)
    try:
        client = create_client(project_url, key, options=ClientOptions(
            httpx_client=http, auto_refresh_token=False, persist_session=False))
        options: dict[str, Any] = {"method": method, "headers": {"Authorization": f"Bearer {token or key}"}}
        if body is not None:
            options["body"] = body
        try:
            data = client.functions.invoke(name, options)
        except FunctionsError as exc:
            return Reply(exc.status, exc.message, f"HTTP {exc.status}: {exc.message}")
        except httpx.HTTPError as exc:
            return Reply(None, None, f"{type(exc).__name__}: {exc}")
    finally:
        http.close()
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    try:
        return Reply(200, json.loads(text))
    except (TypeError, ValueError):
        return Reply(200, text)
