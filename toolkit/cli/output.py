"""Rendering: payload to stdout (rich or --json), status and progress to stderr."""

from __future__ import annotations

import json
from datetime import date, datetime
from functools import cache
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from rich.console import Console


@cache
def out_console() -> "Console":
    from rich.console import Console

    return Console(highlight=False, soft_wrap=False)


@cache
def err_console() -> "Console":
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def _default(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if hasattr(value, "__dict__"):
        return value.__dict__
    return str(value)


def emit(as_json: bool, payload: Any, render: Callable[["Console"], None]) -> None:
    if as_json:
        print(json.dumps(payload, default=_default, indent=2))
    else:
        render(out_console())


def table(title: str | None, columns: list[str], rows: list[list[Any]]):
    from rich.table import Table

    # Two blank column names make a key/value listing: no header row.
    t = Table(title=title, title_justify="left", show_lines=False, show_header=any(columns))
    for i, c in enumerate(columns):
        t.add_column(c, no_wrap=i == 0)  # the first column names the row: keep it whole
    for row in rows:
        t.add_row(*("" if v is None else str(v) for v in row))
    return t


STATE_STYLE = {
    "applied": "green", "pass": "green", "new": "yellow", "upgradable": "yellow", "drift": "red", "fail": "red",
    "not yet available": "dim", "manual": "cyan", "in progress": "yellow", "not started": "dim",
    "incomplete": "yellow", "inconclusive": "yellow", "skip": "dim",
}


def styled(state: str) -> str:
    style = STATE_STYLE.get(state)
    return f"[{style}]{state}[/]" if style else state
