"""The real Supabase CLI that scripts/bootstrap.sh installs (pinned), for the tests that hold
the toolkit to it; they skip, saying why, only when npm itself is missing."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
VERSION = "2.117.0"
BINARY = ROOT / ".toolkit" / "tools" / "supabase-cli" / "node_modules" / ".bin" / "supabase"


def supabase_cli() -> Path:
    """The CLI's path; skips the test when npm is missing, fails when bootstrap did not run."""
    if BINARY.exists():
        return BINARY
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed, so the Supabase CLI is not either (scripts/bootstrap.sh installs it with npm)")
    pytest.fail(f"the Supabase CLI {VERSION} is missing at {BINARY}: run scripts/bootstrap.sh")
