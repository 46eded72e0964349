"""PROGRESS.md: the user's rollout document, kept true by the toolkit: read as it is, rewritten
only where the toolkit owns it, written atomically. Never a source of truth about the database
(the ledger is), and never written by anything but the user's own commands."""

from __future__ import annotations

import os
from pathlib import Path

from toolkit.errors import ToolkitError

DEFAULT_NAME = "PROGRESS.md"
ENV = "TOOLKIT_PROGRESS"


def document_path(root: Path, explicit: Path | None = None) -> Path:
    """The document: --file, else TOOLKIT_PROGRESS, else PROGRESS.md of the project. A folder
    is refused here, before any command changes anything."""
    if explicit is not None:
        path, source = explicit, "--file"
    elif os.environ.get(ENV):
        path, source = Path(os.environ[ENV]), ENV
    else:
        return root / DEFAULT_NAME
    if path.is_dir():
        raise ToolkitError(f"{source} points at a folder ({path}), not at a document",
                           hint=f"give the file itself, e.g. {path / DEFAULT_NAME}")
    return path
