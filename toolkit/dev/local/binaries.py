"""Finding the machine's PostgreSQL server binaries and the extensions installed beside them."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from toolkit.errors import ToolkitError

MIN_MAJOR = 15
SERVER_PROGRAMS = ("initdb", "pg_ctl", "postgres")
# Extensions the local stack uses when present, and the Debian package that provides each.
OPTIONAL_EXTENSIONS = {
    "pg_cron": "postgresql-{major}-cron",
    "plpgsql_check": "postgresql-{major}-plpgsql-check",
    "pgtap": "postgresql-{major}-pgtap",
}


@dataclass(frozen=True)
class PgBinaries:
    bindir: Path
    major: int

    def program(self, name: str) -> str:
        return str(self.bindir / name)

    @cached_property
    def _dirs(self) -> tuple[Path, Path]:
        pg_config = self.bindir / "pg_config"
        if pg_config.exists():
            out = subprocess.run([str(pg_config), "--sharedir", "--pkglibdir"], capture_output=True, text=True)
            if out.returncode == 0:
                share, lib = out.stdout.split()
                return Path(share), Path(lib)
        return Path(f"/usr/share/postgresql/{self.major}"), self.bindir.parent / "lib"

    def has_extension(self, name: str) -> bool:
        share, lib = self._dirs
        if not (share / "extension" / f"{name}.control").exists():
            return False
        # pg_cron and plpgsql_check are shared libraries too; pgtap is SQL only.
        return name == "pgtap" or (lib / f"{name}.so").exists()

    def package_for(self, extension: str) -> str:
        return OPTIONAL_EXTENSIONS[extension].format(major=self.major)


def _major(bindir: Path) -> int | None:
    m = re.search(r"/(\d+)/bin/?$", str(bindir))
    if m:
        return int(m.group(1))
    try:
        out = subprocess.run([str(bindir / "postgres"), "--version"], capture_output=True, text=True).stdout
    except OSError:
        return None
    m = re.search(r"(\d+)(?:\.\d+)?", out)
    return int(m.group(1)) if m else None


def _candidates() -> list[Path]:
    found: list[Path] = []
    if os.environ.get("TOOLKIT_PG_BINDIR"):
        found.append(Path(os.environ["TOOLKIT_PG_BINDIR"]))
    pg_config = shutil.which("pg_config")
    if pg_config:
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True)
        if out.returncode == 0 and out.stdout.strip():
            found.append(Path(out.stdout.strip()))
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: _major(p) or 0, reverse=True)
    found.extend(versions)
    found.extend(Path(p) for p in ("/usr/local/pgsql/bin", "/usr/pgsql-17/bin", "/usr/pgsql-16/bin", "/usr/pgsql-15/bin"))
    return found


def find_binaries() -> PgBinaries:
    """The newest usable server binaries (PostgreSQL 15 or newer)."""
    too_old: list[str] = []
    for bindir in _candidates():
        if not all((bindir / p).exists() for p in SERVER_PROGRAMS):
            continue
        major = _major(bindir)
        if major is None:
            continue
        if major < MIN_MAJOR:
            too_old.append(f"{bindir} (PostgreSQL {major})")
            continue
        return PgBinaries(bindir=bindir, major=major)
    found = f" Found only: {', '.join(too_old)}." if too_old else ""
    raise ToolkitError(
        f"no PostgreSQL {MIN_MAJOR}+ server binaries (initdb, pg_ctl, postgres) were found.{found}",
        hint="install them, e.g. `apt-get install postgresql-15 postgresql-15-cron`, "
        "or point TOOLKIT_PG_BINDIR at the bin folder",
    )
