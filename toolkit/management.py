"""Supabase's Management API (the functions and secrets routes): who may call it, where, and
what its answers mean.

A project ref and an access token are checked for their form before any call, so a typo
costs no request. HTTP answers become one-line errors that name what to fix: 401 the token,
404 the project ref; a 429 waits as long as Retry-After says and tries again, a 5xx or a
dropped connection is retried with backoff and then gives up (exit 2). The token is sent
only in the Authorization header and never appears in a message.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import urlsplit

from toolkit.errors import ToolkitError

DEFAULT_API_URL = "https://api.supabase.com"
REF = re.compile(r"^[a-z]{20}$")
TOKEN = re.compile(r"^sbp_(oauth_)?[a-f0-9]{40}$")
SLUG = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
LOOPBACK = {"127.0.0.1", "localhost", "::1"}

RETRIES = 4                  # after the first try: 5xx, 429 and dropped connections
BACKOFF_S = 0.5              # doubled each retry
MAX_RETRY_AFTER_S = 60.0     # a longer Retry-After is not waited for: the command gives up
TIMEOUT_S = 60.0             # a deploy uploads and bundles: allow it time


def check_ref(ref: str) -> str:
    if not REF.match(ref or ""):
        raise ToolkitError(f"{ref!r} is not a Supabase project ref (20 lowercase letters)",
                           hint="pass --project-ref or set SUPABASE_PROJECT_REF (Dashboard > Project Settings > General)")
    return ref


def check_token(token: str | None) -> str:
    if not token:
        raise ToolkitError("SUPABASE_ACCESS_TOKEN is not set",
                           hint="create a personal access token (Dashboard > Account > Access Tokens) and export it")
    if not TOKEN.match(token):
        # The value is not echoed: a mistyped token is still mostly a secret.
        raise ToolkitError("SUPABASE_ACCESS_TOKEN is not a personal access token (sbp_ and 40 hex digits)")
    return token


def check_url(url: str, what: str) -> str:
    """https, or plain http to this machine only (the local stand-ins)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url.rstrip("/")
    if parts.scheme == "http" and parts.hostname in LOOPBACK:
        return url.rstrip("/")
    raise ToolkitError(f"{what} {url!r} must be an https:// URL (plain http only to 127.0.0.1 or localhost)")


def functions_url_for(ref: str) -> str:
    return f"https://{ref}.supabase.co/functions/v1"


@dataclass(frozen=True)
class Project:
    """The Management API side of a target: which project, through which host, and where its
    functions answer. The access token is not kept here: it is read when a call is made."""

    ref: str
    api_url: str = DEFAULT_API_URL
    functions_url: str = ""

    @classmethod
    def resolve(cls, ref: str, api_url: str | None = None, functions_url: str | None = None) -> "Project":
        ref = check_ref(ref)
        api = check_url(api_url or DEFAULT_API_URL, "the Management API URL")
        functions = check_url(functions_url or functions_url_for(ref), "the functions URL")
        return cls(ref=ref, api_url=api, functions_url=functions)

    @property
    def host(self) -> str:
        return urlsplit(self.api_url).netloc

    def describe(self) -> str:
        return f"Supabase project {self.ref} (Management API {self.host})"


class ManagementApi:
    """The routes the toolkit uses; each method returns the decoded answer or raises ToolkitError."""

    def __init__(self, project: Project, *, token: str | None = None, sleep: Callable[[float], None] = time.sleep,
                 retries: int = RETRIES, backoff: float = BACKOFF_S):
        import httpx

        token = check_token(token if token is not None else os.environ.get("SUPABASE_ACCESS_TOKEN"))
        self.project = project
        self._sleep = sleep
        self._retries = retries
        self._backoff = backoff
        # trust_env off: a proxy meant for package downloads must not see the token.
        self._client = httpx.Client(base_url=project.api_url, timeout=TIMEOUT_S, trust_env=False,
                                    headers={"Authorization": f"Bearer {token}",
                                             "User-Agent": "toolkit"})

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> "ManagementApi":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- routes ------------------------------------------------------------------------------
    def _base(self) -> str:
        return f"/v1/projects/{self.project.ref}"

    def list_functions(self) -> list[dict]:
        return self._call("GET", f"{self._base()}/functions", what="listing the functions").json()

    def get_function(self, slug: str) -> dict | None:
        """The function's metadata, or None when the project has no such function."""
        response = self._call("GET", f"{self._base()}/functions/{_slug(slug)}", what=f"reading function {slug}",
                              missing_ok=True)
        return None if response.status_code == 404 else response.json()

    def deploy_function(self, slug: str, metadata: dict, files: dict[str, bytes]) -> dict:
        import json

        parts: list[tuple[str, Any]] = [("metadata", (None, json.dumps(metadata), "application/json"))]
        parts += [("file", (path, content, "application/octet-stream")) for path, content in files.items()]
        return self._call("POST", f"{self._base()}/functions/deploy", params={"slug": _slug(slug)},
                          files=parts, what=f"deploying function {slug}").json()

    def delete_function(self, slug: str) -> bool:
        """True when it was deleted, False when the project had no such function."""
        response = self._call("DELETE", f"{self._base()}/functions/{_slug(slug)}", what=f"deleting function {slug}",
                              missing_ok=True)
        return response.status_code != 404

    def list_secrets(self) -> list[dict]:
        return self._call("GET", f"{self._base()}/secrets", what="listing the secrets").json()

    def set_secrets(self, secrets: dict[str, str]) -> None:
        body = [{"name": k, "value": v} for k, v in secrets.items()]
        self._call("POST", f"{self._base()}/secrets", json=body, what="storing secrets")

    def delete_secrets(self, names: list[str]) -> None:
        self._call("DELETE", f"{self._base()}/secrets", json=names, what="removing secrets")

    # -- transport -----------------------------------------------------------------------------
    def _call(self, method: str, path: str, *, what: str, missing_ok: bool = False, **kwargs):
        import httpx

        attempt = 0
        while True:
            try:
                response = self._client.request(method, path, **kwargs)
            except httpx.HTTPError as exc:
                if attempt >= self._retries:
                    raise ToolkitError(f"{what}: cannot reach the Management API at {self.project.host} "
                                       f"({type(exc).__name__})", hint="check the network and --api-url") from None
                self._sleep(self._backoff * 2 ** attempt)
                attempt += 1
                continue
            status = response.status_code
            if status < 300 or (missing_ok and status == 404):
                return response
            if status == 429 or status >= 500:
                wait = self._retry_wait(response, attempt)
                if attempt < self._retries and wait is not None:
                    self._sleep(wait)
                    attempt += 1
                    continue
            raise self._error(what, response)

    def _retry_wait(self, response, attempt: int) -> float | None:
        """Seconds to wait before trying again; None: give up now."""
        if response.status_code != 429:
            return self._backoff * 2 ** attempt
        header = response.headers.get("retry-after", "")
        try:
            wait = float(header)
        except ValueError:
            wait = self._backoff * 2 ** attempt
        return wait if 0 <= wait <= MAX_RETRY_AFTER_S else None

    def _error(self, what: str, response) -> ToolkitError:
        status = response.status_code
        detail = _message(response)
        where = self.project.describe()
        if status == 401:
            return ToolkitError(f"{what}: the Management API refused the access token (401)",
                                hint="SUPABASE_ACCESS_TOKEN is wrong, expired or revoked: create a new one")
        if status == 403:
            return ToolkitError(f"{what}: the access token may not do this on project {self.project.ref} (403)",
                                hint="use a token of an account that is a member of the project's organization")
        if status == 404:
            return ToolkitError(f"{what}: project {self.project.ref} was not found (404)",
                                hint="check --project-ref / SUPABASE_PROJECT_REF and --api-url")
        if status == 429:
            return ToolkitError(f"{what}: rate limited by the Management API (429) and retries ran out",
                                hint="wait a minute and run the command again")
        if status >= 500:
            return ToolkitError(f"{what}: the Management API failed ({status}: {detail}) after {self._retries + 1} tries",
                                hint="try again later; nothing more was changed")
        return ToolkitError(f"{what} on {where}: refused ({status}: {detail})")


def _slug(slug: str) -> str:
    if not SLUG.match(slug):
        raise ToolkitError(f"{slug!r} is not a function name (a letter, then letters, digits, _ or -)")
    return slug


def _message(response) -> str:
    try:
        body = response.json()
    except ValueError:
        return (response.text or "").strip()[:200] or "no details"
    if isinstance(body, dict):
        return str(body.get("message") or body.get("error") or body)[:200]
    return str(body)[:200]
