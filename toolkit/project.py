"""Where the project's files are: the plan, its templates and example app, and the workspace
(.toolkit/ state, PROGRESS.md).

The toolkit ships its own plan, templates, checklists and example app (`toolkit/bundled/`:
links to the repository's folders in a checkout, real files in an installed wheel). A
project may bring its own plan; what it does not bring beside the plan (templates/,
examples/) comes from the bundle.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PLAN_FILE = "phases.yaml"
# Where the workspace's own state lives (the local cluster, its JWT secret), instead of
# <root>/.toolkit: a test suite or CI job keeps its checkout untouched with it.
STATE_DIR_ENV = "TOOLKIT_STATE_DIR"
BUNDLED = Path(__file__).resolve().parent / "bundled"


@dataclass(frozen=True)
class Project:
    root: Path          # the workspace: the plan's folder, or the current one for the bundled plan
    plan_file: Path

    def _beside_plan(self, name: str) -> Path:
        here = self.plan_file.parent / name
        return here if here.is_dir() else BUNDLED / name

    @property
    def templates(self) -> Path:
        return self._beside_plan("templates")

    @property
    def examples(self) -> Path:
        return self._beside_plan("examples")

    @property
    def state_dir(self) -> Path:
        return state_dir(self.root)

    @property
    def local_home(self) -> Path:
        """The local cluster's folder (TOOLKIT_LOCAL_HOME: another project's, or the tests')."""
        if os.environ.get("TOOLKIT_LOCAL_HOME"):
            return Path(os.environ["TOOLKIT_LOCAL_HOME"])
        return self.state_dir / "local"


def state_dir(root: Path) -> Path:
    """The workspace's state folder: TOOLKIT_STATE_DIR, else <root>/.toolkit."""
    given = os.environ.get(STATE_DIR_ENV)
    return Path(given).resolve() if given else Path(root) / ".toolkit"


def find_project(start: Path | None = None, plan_file: Path | None = None) -> Project:
    """The nearest folder upward from `start` holding phases.yaml, else the bundled plan with
    the current folder as the workspace."""
    if plan_file is None and os.environ.get("TOOLKIT_PLAN"):
        plan_file = Path(os.environ["TOOLKIT_PLAN"])
    if plan_file is not None:
        plan_file = plan_file.resolve()
        return Project(root=plan_file.parent, plan_file=plan_file)
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / PLAN_FILE).is_file():
            return Project(root=folder, plan_file=folder / PLAN_FILE)
    return Project(root=here, plan_file=BUNDLED / PLAN_FILE)
