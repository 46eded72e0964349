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
    from toolkit.management import Project as SupabaseProject


@dataclass
class AppContext:
    db_url: str | None
    plan_file: Path | None
    json: bool
    verbose: bool
    yes: bool
    actor: str | None
    project_ref: str | None = None      # --project-ref / SUPABASE_PROJECT_REF
    api_url: str | None = None          # --api-url / SUPABASE_API_URL
    functions_url: str | None = None    # --functions-url / SUPABASE_FUNCTIONS_URL
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
            port = _port(os.environ["TOOLKIT_LOCAL_PORT"], "TOOLKIT_LOCAL_PORT")
        return LocalCluster(self.project.local_home, port=port)

    def target(self) -> "Target":
        from toolkit.db import target_from_url

        if self.db_url:
            return self._with_functions(target_from_url(self.db_url))
        cluster = self.cluster()
        if cluster.pid() is None:
            raise ToolkitError(
                "no --db-url given and the embedded local cluster is not running",
                hint="start it with `toolkit local up`, or pass --db-url / set SUPABASE_DB_URL",
            )
        return self._with_functions(target_from_url(cluster.conninfo()))

    def _with_functions(self, target: "Target") -> "Target":
        import dataclasses

        return dataclasses.replace(target, functions=self.functions_project(target.project_ref))

    def functions_project(self, db_ref: str | None = None, required: bool = False) -> "SupabaseProject | None":
        """The Management API side of the target: --project-ref, else the database's own
        project; neither: None (the local gateway). A database of one project and functions
        of another is refused."""
        from toolkit.management import Project as SupabaseProject

        if db_ref is None and self.db_url:
            from toolkit.db import target_from_url

            db_ref = target_from_url(self.db_url).project_ref
        if db_ref and self.project_ref and db_ref != self.project_ref:
            raise ToolkitError(
                f"the database URL is project {db_ref}'s but the project ref is {self.project_ref}",
                hint="one target at a time: make --db-url / SUPABASE_DB_URL and --project-ref / "
                     "SUPABASE_PROJECT_REF name the same project",
            )
        ref = self.project_ref or db_ref
        if not ref:
            if required:
                raise ToolkitError("no Supabase project given",
                                   hint="pass --project-ref or set SUPABASE_PROJECT_REF (and SUPABASE_ACCESS_TOKEN)")
            return None
        return SupabaseProject.resolve(ref, self.api_url, self.functions_url)

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

    def confirm(self, target: "Target", action: str, destructive: bool, changes: list[str] | None = None) -> None:
        """Show where a write goes (database host, project ref, what will change); ask before
        remote or destructive work unless --yes: a hosted project's ref must be typed."""
        extra = [f"functions and secrets: {target.functions.describe()}"] if target.functions is not None else []
        ref = target.functions.ref if target.functions is not None else target.project_ref
        self._confirm(f"{action} on {target.describe()}", extra, changes or [], ref, target.remote, destructive)

    def confirm_project(self, project: "SupabaseProject", action: str, destructive: bool,
                        changes: list[str] | None = None) -> None:
        """confirm() for what goes to a project's Management API only (functions, secrets)."""
        self._confirm(f"{action} on {project.describe()}", [], changes or [], project.ref, True, destructive)

    def _confirm(self, headline: str, where: list[str], changes: list[str], ref: str | None, remote: bool,
                 destructive: bool) -> None:
        from toolkit.cli.output import err_console

        console = err_console()
        if not self.json:
            console.print(headline, highlight=False, soft_wrap=True, markup=False)
            for line in where:
                console.print(f"  {line}", highlight=False, soft_wrap=True, markup=False)
            for change in changes:
                console.print(f"  - {change}", highlight=False, soft_wrap=True, markup=False)
        if self.yes or (not remote and not destructive):
            return
        if not _interactive():
            raise ToolkitError(f"{headline} needs confirmation; nothing was done",
                               hint="pass --yes (in CI), or run it in a terminal")
        if ref:
            typed = console.input(f"Type the project ref [bold]{ref}[/] to go on: ")
            if typed.strip() != ref:
                raise ToolkitError("the project ref did not match; nothing was done")
        elif console.input("Go on? [y/N] ").strip().lower() not in ("y", "yes"):
            raise ToolkitError("cancelled; nothing was done")


def _interactive() -> bool:
    """Whether someone can answer a question (standard input is a terminal)."""
    return sys.stdin.isatty()


def _port(text: str, source: str) -> int:
    try:
        port = int(text.strip())
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise ToolkitError(f"{source} must be a port number (1-65535), got {text!r}")
    return port
