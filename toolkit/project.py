"""Where the project's files are: phases.yaml, templates/, examples/ and .toolkit/."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PLAN_FILE = "phases.yaml"


@dataclass(frozen=True)
class Project:
    root: Path
    plan_file: Path

    @property
    def templates(self) -> Path:
        return self.root / "templates"

    @property
    def examples(self) -> Path:
        return self.root / "examples"

    @property
    def state_dir(self) -> Path:
        return self.root / ".toolkit"

    @property
    def local_home(self) -> Path:
        return self.state_dir / "local"


def _bundled_root() -> Path:
    # An editable install or a checkout: the repository root sits above the package.
    return Path(__file__).resolve().parent.parent


def find_project(start: Path | None = None, plan_file: Path | None = None) -> Project:
    """The nearest folder upward from `start` holding phases.yaml, else the toolkit's own."""
    if plan_file is None and os.environ.get("TOOLKIT_PLAN"):
        plan_file = Path(os.environ["TOOLKIT_PLAN"])
    if plan_file is not None:
        plan_file = plan_file.resolve()
        return Project(root=plan_file.parent, plan_file=plan_file)
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / PLAN_FILE).is_file():
            return Project(root=folder, plan_file=folder / PLAN_FILE)
    root = _bundled_root()
    return Project(root=root, plan_file=root / PLAN_FILE)
