"""Reading a YAML file into a pydantic model, every problem reported as FILE:LINE: message.

A project file is small: one that is no regular file, too large, nested too deeply or whose
aliases expand beyond reason (a "billion laughs" bomb) is refused before it is parsed or built,
so a mistaken --plan never hangs the command."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from toolkit.errors import ConfigError

M = TypeVar("M", bound=BaseModel)

MAX_BYTES = 1_000_000       # phases.yaml is about 15 kB
MAX_DEPTH = 50              # phases.yaml nests 6 deep
MAX_NODES = 200_000         # nodes once aliases are expanded; phases.yaml has about 2,000


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


def read_text(path: Path, what: str) -> str:
    """The file's text, refused before reading when it is no regular file or too large."""
    if not path.exists():
        raise ConfigError([f"{path}: {what} not found"])
    if not path.is_file():
        kind = "a folder" if path.is_dir() else "not a regular file (a device or a pipe?)"
        raise ConfigError([f"{path}: is {kind}; expected the {what}"])
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror}"]) from None
    if len(data) > MAX_BYTES:
        raise ConfigError([f"{path}: is larger than {MAX_BYTES // 1000} kB; is this the {what}?"])
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError([f"{path}:{line}: not valid UTF-8 (byte 0x{data[exc.start]:02x})"]) from None


def _check_shape(node: yaml.Node, path: Path) -> None:
    """Refuse a document nested too deeply or expanding too far through aliases, walking at
    most MAX_NODES nodes (an alias is walked again wherever it is used, as it would be built)."""
    stack, seen = [(node, 1)], 0
    while stack:
        current, depth = stack.pop()
        seen += 1
        if depth > MAX_DEPTH:
            raise ConfigError([f"{path}:{current.start_mark.line + 1}: nested more than {MAX_DEPTH} levels deep"])
        if seen > MAX_NODES:
            raise ConfigError([f"{path}: expands to more than {MAX_NODES:,} values through its aliases "
                               "(&anchor / *alias); a plan is far smaller"])
        if isinstance(current, yaml.MappingNode):
            stack += [(child, depth + 1) for pair in current.value for child in pair]
        elif isinstance(current, yaml.SequenceNode):
            stack += [(child, depth + 1) for child in current.value]


def _check_depth(text: str, path: Path) -> None:
    """Refuse deep nesting from the parser's events, which come without recursion, before the
    composer (which recurses once per level) sees it."""
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise ConfigError([f"{path}:{event.start_mark.line + 1}: nested more than {MAX_DEPTH} levels deep"])
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _parse(text: str, path: Path) -> tuple[yaml.Node | None, Any]:
    _check_depth(text, path)
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, None
        _check_shape(node, path)
        return node, loader.construct_document(node)
    finally:
        loader.dispose()


def load_model(path: Path, model: type[M], what: str) -> tuple[M, Lines]:
    """Parse and validate `path` as `model`; `what` names the file's role in messages."""
    text = read_text(path, what)
    try:
        node, data = _parse(text, path)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([f"{path}:{line}: not valid YAML: {problem}"]) from None
    except RecursionError:  # the parser's own recursion, on nesting _check_shape never saw
        raise ConfigError([f"{path}: nested too deeply to read"]) from None
    if not isinstance(data, dict):
        raise ConfigError([f"{path}:1: expected a mapping at the top of the {what}"])
    lines = Lines(node)
    try:
        return model.model_validate(data), lines
    except ValidationError as exc:
        raise ConfigError([f"{path}:{lines.line(e['loc'])}: {describe(e)}" for e in exc.errors()]) from None
