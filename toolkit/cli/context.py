"""What every command receives: the global options, and the project and target they lead to."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from toolkit.errors import ToolkitError
from toolkit.project import Project, find_project

if TYPE_CHECKING:
    from toolkit.config import LoadedPlan
    from toolkit.db import Target
    from toolkit.dev.local.cluster import LocalCluster


@dataclass
class AppContext:
    db_url: str | None
    plan_file: Path | None
    json: bool
    verbose: bool
    yes: bool
    actor: str | None
    _plan: "LoadedPlan | None" = field(default=None, repr=False)

    @property
    def project(self) -> Project:
        return find_project(plan_file=self.plan_file)

    def load_plan(self) -> "LoadedPlan":
        """The validated plan, read once per command (after_change needs it again)."""
        if self._plan is None:
            from toolkit.config import load_plan

            project = self.project
            loaded = load_plan(project.plan_file, project.templates)
            loaded.plan = loaded.plan.for_target(hosted=self._hosted())
            self._plan = loaded
        return self._plan

    def plan_on(self, target: "Target") -> "LoadedPlan":
        """The plan as deployed on `target`: once Phase 6 renamed the objects and removed the
        flag checks, every command addresses them by their base names (toolkit.final)."""
        from toolkit.db import connect, database_errors
        from toolkit.final import deployed_plan

        loaded = self.load_plan()
        with connect(target, autocommit=True) as conn, database_errors():
            return deployed_plan(loaded, conn)

    def _hosted(self) -> bool:
        """Whether --db-url names a Supabase project (read from the URL, no connection)."""
        if not self.db_url:
            return False
        from toolkit.db import target_from_url

        return target_from_url(self.db_url).project_ref is not None

    def cluster(self, port: int | None = None) -> "LocalCluster":
        from toolkit.dev.local.cluster import LocalCluster

        if port is None and os.environ.get("TOOLKIT_LOCAL_PORT"):
            port = int(os.environ["TOOLKIT_LOCAL_PORT"])
        return LocalCluster(self.project.local_home, port=port)

    def target(self) -> "Target":
        from toolkit.db import target_from_url

        if self.db_url:
            return target_from_url(self.db_url)
        cluster = self.cluster()
        if cluster.pid() is None:
            raise ToolkitError(
                "no --db-url given and the embedded local cluster is not running",
                hint="start it with `toolkit local up`, or pass --db-url / set SUPABASE_DB_URL",
            )
        return target_from_url(cluster.conninfo())

    def actor_name(self) -> str:
        from toolkit.identity import current_actor

        return current_actor(self.actor)

    def after_change(self, target: "Target") -> None:
        """Bring PROGRESS.md along after a command changed the rollout (a warning if it cannot)."""
        from toolkit.cli.output import err_console
        from toolkit.docs import refresh_current
        from toolkit.progress.sync import sync_if_present

        # Current documents first (their results move on), so that PROGRESS.md sees them current.
        messages = refresh_current(self.load_plan(), target, self.project.root)
        messages.append(sync_if_present(self.load_plan(), target, self.project.root))
        for message in filter(None, messages):
            if not self.json:
                err_console().print(message, highlight=False, soft_wrap=True)

    def confirm(self, target: "Target", action: str, destructive: bool) -> None:
        """Show where a write goes; ask before remote or destructive work unless --yes."""
        from toolkit.cli.output import err_console

        console = err_console()
        if not self.json:
            console.print(f"{action} on [bold]{target.describe()}[/]", highlight=False)
        if self.yes or (target.local and not destructive):
            return
        if not sys.stdin.isatty():
            raise ToolkitError(f"{action} on {target.describe()} needs confirmation", hint="pass --yes")
        if target.project_ref:
            typed = console.input(f"Type the project ref [bold]{target.project_ref}[/] to go on: ")
            if typed.strip() != target.project_ref:
                raise ToolkitError("the project ref did not match; nothing was done")
        elif console.input("Go on? [y/N] ").strip().lower() not in ("y", "yes"):
            raise ToolkitError("cancelled; nothing was done")
