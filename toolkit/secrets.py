"""The Edge Functions' secrets (a project's environment for its functions), through the
Management API: set, listed by name and digest, removed. Values are never printed, logged or
recorded; names starting SUPABASE_ are the platform's own and refused. The database's own
secrets are Vault's (toolkit.vault)."""

from __future__ import annotations

import hashlib
import re

from toolkit.errors import ToolkitError
from toolkit.management import ManagementApi, Project

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,255}$")
RESERVED = "SUPABASE_"
MAX_VALUE = 24576  # the API's limit


def check_name(name: str) -> str:
    if name.upper().startswith(RESERVED):
        raise ToolkitError(f"{name}: names starting {RESERVED} are the platform's own (it sets them for every function)")
    if not NAME.match(name):
        raise ToolkitError(f"{name!r} is not a secret name (letters, digits and _, not starting with a digit)")
    return name


def check_value(name: str, value: str) -> str:
    if not value:
        raise ToolkitError(f"the value for {name} is empty; nothing was stored")
    if len(value) > MAX_VALUE:
        raise ToolkitError(f"the value for {name} is longer than {MAX_VALUE} characters; nothing was stored")
    return value


def digest(value: str) -> str:
    """What `list` shows for a value: its SHA-256, as the Management API reports it."""
    return hashlib.sha256(value.encode()).hexdigest()


def set_secret(project: Project, name: str, value: str) -> dict:
    check_name(name)
    check_value(name, value)
    with ManagementApi(project) as api:
        existed = any(s["name"] == name for s in api.list_secrets())
        api.set_secrets({name: value})
    return {"name": name, "action": "updated" if existed else "created", "digest": digest(value)}


def list_secrets(project: Project) -> list[dict]:
    with ManagementApi(project) as api:
        return [{"name": s["name"], "digest": s.get("value", ""), "updated_at": s.get("updated_at")}
                for s in sorted(api.list_secrets(), key=lambda s: s["name"])]


def unset_secrets(project: Project, names: list[str]) -> dict:
    for name in names:
        check_name(name)
    with ManagementApi(project) as api:
        present = {s["name"] for s in api.list_secrets()}
        missing = [n for n in names if n not in present]
        if missing:
            raise ToolkitError(f"project {project.ref} has no secret(s) {', '.join(missing)}; nothing was removed")
        api.delete_secrets(names)
    return {"removed": names}
