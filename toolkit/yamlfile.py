"""Reading a YAML file into a pydantic model, every problem reported as FILE:LINE: message."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from toolkit.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


class Lines:
    """Where each key path of a YAML document starts (1-based lines)."""

    def __init__(self, node: yaml.Node | None):
        self._lines: dict[tuple, int] = {}
        if node is not None:
            self._index(node, ())

    def _index(self, node: yaml.Node, path: tuple) -> None:
        self._lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                child = path + (key.value,)
                self._index(value, child)
                self._lines[child] = key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self._index(item, path + (i,))

    def line(self, loc: tuple | list) -> int:
        loc = tuple(loc)
        while loc and loc not in self._lines:
            loc = loc[:-1]
        return self._lines.get(loc, 1)


def describe(error: dict[str, Any]) -> str:
    loc = ".".join(str(p) for p in error["loc"] if not str(p).startswith("function-after"))
    msg = error["msg"].removeprefix("Value error, ")
    if error["type"] == "missing":
        return f"{loc}: required field is missing"
    if error["type"] == "extra_forbidden":
        return f"{loc}: unknown field (check the spelling)"
    if error["type"] == "literal_error":
        return f"{loc}: {msg}, got {error.get('input')!r}"
    return f"{loc}: {msg}" if loc else msg


def load_model(path: Path, model: type[M], what: str) -> tuple[M, Lines]:
    """Parse and validate `path` as `model`; `what` names the file's role in messages."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{path}: {what} not found"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: cannot read: {exc}"]) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([f"{path}:{line}: not valid YAML: {problem}"]) from None
    if not isinstance(data, dict):
        raise ConfigError([f"{path}:1: expected a mapping at the top of the {what}"])
    lines = Lines(node)
    try:
        return model.model_validate(data), lines
    except ValidationError as exc:
        raise ConfigError([f"{path}:{lines.line(e['loc'])}: {describe(e)}" for e in exc.errors()]) from None
