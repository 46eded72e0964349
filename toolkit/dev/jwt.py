"""LOCAL ONLY: HS256 tokens as Supabase issues them, signed with the local stack's secret.

A hosted project signs its own tokens; the toolkit never mints one for it. Locally the
functions gateway checks tokens against `.toolkit/local/jwt_secret` (under TOOLKIT_STATE_DIR when set), created
on first use.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from pathlib import Path


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def mint_jwt(secret: str, sub: str | None = None, role: str = "authenticated", ttl: int = 3600,
             **claims) -> str:
    """An HS256 token as Supabase issues them: role, sub, iat, exp (plus any extra claims)."""
    now = int(time.time())
    payload = {"role": role, "iat": now, "exp": now + int(ttl), **claims}
    if sub is not None:
        payload["sub"] = sub
    if role == "authenticated":
        payload.setdefault("aud", "authenticated")
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    body = _b64url(json.dumps(payload, separators=(",", ":")).encode())
    sig = hmac.new(secret.encode(), f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{_b64url(sig)}"


def local_jwt_secret(project_root: Path) -> str:
    """The project's local JWT secret, created (mode 0600) on first use and stable afterwards."""
    from toolkit.project import state_dir

    return jwt_secret_in(state_dir(project_root) / "local")


def jwt_secret_in(folder: Path) -> str:
    """The local stack's JWT secret kept in `folder` (its `jwt_secret`), created on first use."""
    path = Path(folder) / "jwt_secret"
    if path.is_file():
        secret = path.read_text().strip()
        if secret:
            return secret
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    # O_EXCL: two first uses at once keep one secret (the loser reads the winner's).
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as f:
        f.write(secret + "\n")
    return secret


class InvalidToken(ValueError):
    """A token that is malformed, signed with another secret, of another algorithm, or expired."""


def verify_jwt(token: str, secret: str, now: float | None = None) -> dict:
    """The claims of an HS256 token signed with `secret` and not expired, as Supabase's
    services check them; InvalidToken says why not."""
    parts = token.split(".") if isinstance(token, str) else []
    if len(parts) != 3:
        raise InvalidToken("not a JWT")
    try:
        header = json.loads(_unb64url(parts[0]))
        claims = json.loads(_unb64url(parts[1]))
        signature = _unb64url(parts[2])
    except (ValueError, UnicodeDecodeError):
        raise InvalidToken("not a JWT") from None
    if not isinstance(header, dict) or header.get("alg") != "HS256":
        raise InvalidToken("unsupported algorithm")
    expected = hmac.new(secret.encode(), f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(signature, expected):
        raise InvalidToken("bad signature")
    if not isinstance(claims, dict):
        raise InvalidToken("claims are not an object")
    exp = claims.get("exp")
    if exp is not None and (not isinstance(exp, (int, float)) or exp <= (time.time() if now is None else now)):
        raise InvalidToken("Token has expired")
    return claims


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
