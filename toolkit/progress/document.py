"""PROGRESS.md: read the user's rollout document and rewrite only the parts the toolkit owns.

The document belongs to the user: notes, blockers, extra tasks and templates are kept byte for
byte (apart from undoing mojibake). The toolkit owns the header values (Last Updated, Current
Phase), the overview bars, the Overall line, each phase's Status line, the checkboxes of the
task lines it can check and the ✅/❌ result markers of those that have one, and the cells of
the migration status table. render() rewrites those lines in place and copies every other line.
A tick on a line the toolkit cannot check is the user's and is kept; a tick that contradicts
what it knows is kept too, and reported (contradictions()), unless render(fix=True).

Structure, as parse() reads it:
- A section runs from a `#`/`##` heading to the next one. `## Phase N: ...` opens phase N's
  section; checkbox lines in other sections (the trailing templates, say) are not tasks.
- Inside a phase section the first checkbox line sets the top level (so a section whose items
  are all indented is read as top-level items); a deeper checkbox line belongs to the nearest
  top-level item above it in the same list. A list ends at unindented text (a paragraph, a
  heading, a field line); an indented checkbox line with no top-level item before it in its
  list is an error, since the document does not say which task it belongs to.
- Lines inside fenced code blocks are code, not structure, except the bar lines of the
  `## Progress Overview` block.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

from toolkit.progress.model import DocumentState, MigrationRow, PhaseState, TaskKey, TaskMark
from toolkit.textfix import diagnose, not_utf8_cause, repair

# The seed is 8 kB: a document this large is the wrong file, refused before it is read.
MAX_BYTES = 2_000_000
BAR_CELLS = 10
FILLED, EMPTY = "█", "░"
PHASE_STATUS = {"not started": "🔴 Not Started", "in progress": "🟡 In Progress", "complete": "🟢 Complete"}
MIGRATION_STATUS = {
    "not started": "🔴 Not Started",
    "in progress": "🟡 In Progress",
    "migrated": "🟢 Migrated",
    "rolled back": "⚪ Rolled Back",
}
RESULT_MARKER = {"done": " ✅", "failed": " ❌", "open": " ✅/❌"}
# A step of the other scheduler mode: unticked, and said so after the task text.
NOT_APPLICABLE_MARKER = " _(not applicable in the chosen scheduler mode)_"
# Cells of the migration status table, by position (a row's parts[0] is the text before the first pipe).
TYPE_CELL, STATUS_CELL, DATE_CELL, NOTES_CELL = 1, 2, 3, 4
TABLE_COLUMNS = 4

# The task text is lazy so that a trailing result marker is split off rather than swallowed.
_CHECKBOX = re.compile(
    r"^(?P<indent>[ \t]*)- \[(?P<box>[ xX])\] (?P<text>.*?\S)"
    r"(?P<marker> ✅/❌| ✅| ❌| _\(not applicable in the chosen scheduler mode\)_)?(?P<trail>[ \t]*)$"
)
_SECTION = re.compile(r"^#{1,2} +(?P<title>.*?)\s*$")
_PHASE_HEADING = re.compile(r"^## +Phase (?P<n>\d+):")
_SUBHEADING = re.compile(r"^#{3,6} +(?P<title>.*?)\s*$")
_FENCE = re.compile(r"^ {0,3}(?P<marker>`{3,}|~{3,})")
_FIELD = re.compile(r"^(?P<label>\*\*(?P<name>Last Updated|Current Phase|Overall Progress|Status):\*\*)")
_BAR_LINE = re.compile(r"^Phase (?P<n>\d+):")
_BAR = re.compile(r"^(?P<head>Phase \d+:.*\[)(?P<cells>[^\[\]]*)(?P<mid>\][ \t]*)(?P<percent>\d+)%(?P<tail>.*)$")
_PIPE = re.compile(r"(?<!\\)\|")


class DocumentError(Exception):
    """The document cannot be understood (or does not fit the state); nothing is written."""

    def __init__(self, path: Path, line: int, message: str, hint: str | None = None):
        super().__init__(f"{path}:{line}: {message}")
        self.path = path
        self.line = line
        self.message = message
        self.hint = hint


@dataclass(frozen=True)
class Contradiction:
    """A ticked line that the database says is not done."""

    line: int  # 1-based
    text: str  # the line as written
    fact: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.describe()}"

    def describe(self) -> str:
        return f"`{self.text.strip()}` is ticked, but {self.fact}"


# ---------------------------------------------------------------------------------------------
# The owned lines, as parsed. Each knows how to render itself for a new value.


@dataclass(frozen=True)
class _Task:
    index: int
    key: TaskKey
    indent: str
    box: str
    marker: str | None
    trail: str

    @property
    def mark(self) -> TaskMark:
        if self.box in "xX":
            return "done"
        # An unticked box cannot say "failed"; only a ❌ marker can.
        return "failed" if self.marker == RESULT_MARKER["failed"] else "open"

    def rendered(self, mark: TaskMark, slot: bool) -> str:
        """The line for `mark`; `slot`: its trailing ✅/❌ is the toolkit's to set (otherwise a
        marker is the user's own text, kept as written)."""
        box = "x" if mark == "done" else " "
        own = self.marker if self.marker != NOT_APPLICABLE_MARKER else None
        if mark == "not applicable":
            marker = NOT_APPLICABLE_MARKER
        elif slot:
            marker = RESULT_MARKER[mark] if own else ""
        else:
            marker = own or ""
        return f"{self.indent}- [{box}] {self.key.text}{marker}{self.trail}"


@dataclass(frozen=True)
class _Bar:
    index: int
    phase: int
    head: str  # "Phase N: Title   [" exactly as written
    mid: str  # "] " exactly as written
    tail: str  # whatever follows the percentage

    def rendered(self, percent: int) -> str:
        return f"{self.head}{_bar_cells(percent)}{self.mid}{percent}%{self.tail}"


@dataclass(frozen=True)
class _Row:
    index: int
    data_type: str
    parts: tuple[str, ...]  # the line split at its unescaped pipes

    def rendered(self, row: MigrationRow) -> str:
        parts = list(self.parts)
        parts[STATUS_CELL] = _refill(parts[STATUS_CELL], MIGRATION_STATUS[row.status])
        parts[DATE_CELL] = _refill(parts[DATE_CELL], row.date or "-")
        if row.notes is not None:
            parts[NOTES_CELL] = _refill(parts[NOTES_CELL], row.notes)
        return "|".join(parts)


@dataclass
class _Layout:
    fields: dict[str, int] = field(default_factory=dict)  # header field name -> line index
    headings: dict[int, int] = field(default_factory=dict)  # phase -> heading line index
    statuses: dict[int, int] = field(default_factory=dict)  # phase -> Status line index
    bars: list[_Bar] = field(default_factory=list)
    tasks: list[_Task] = field(default_factory=list)
    rows: list[_Row] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# Parsing


class _Parser:
    """One pass over the repaired lines, collecting the owned lines into a _Layout."""

    def __init__(self, path: Path):
        self.path = path
        self.layout = _Layout()
        self.section = ""  # title of the current #/## section
        self.phase: int | None = None  # set inside a phase section
        self.fence: tuple[str, int] | None = None  # open code block: marker, line index
        self.top_indent: int | None = None  # indentation of the phase section's top-level items
        self.parent: str | None = None  # the current list's last top-level task
        self.table: list[int] | None = None  # inside Migration Status: [columns] once the header is read

    def run(self, bodies: list[str]) -> _Layout:
        for index, body in enumerate(bodies):
            self._line(index, body)
        self._close_section()
        if self.fence:
            self._fail(self.fence[1], "this code block is never closed (no matching ``` line)")
        if not self.layout.headings:
            self._fail(0, "no `## Phase N: ...` headings: this does not look like a PROGRESS.md")
        return self.layout

    def _fail(self, index: int, message: str) -> NoReturn:
        raise DocumentError(self.path, index + 1, message)

    def _line(self, index: int, body: str) -> None:
        if self._code(index, body):
            return
        checkbox = _CHECKBOX.match(body)
        if not checkbox and body.strip() and not body[0].isspace():
            self.parent = None  # unindented text ends a list
        if self.table is not None and self._table_row(index, body):
            return
        if _SECTION.match(body):
            self._open_section(index, body)
        elif sub := _SUBHEADING.match(body):
            self.table = [] if sub["title"] == "Migration Status" else None
        elif checkbox:
            self._task(index, checkbox)
        elif owned := _FIELD.match(body):
            self._field(index, owned["name"])

    def _code(self, index: int, body: str) -> bool:
        """Track fenced code blocks; True for a line that is part of one (fences included)."""
        fence = _FENCE.match(body)
        if self.fence is None:
            if fence:
                self.fence = (fence["marker"], index)
                self.parent = None
            return fence is not None
        marker = self.fence[0]
        stripped = body.strip()
        if fence and set(stripped) == {marker[0]} and len(stripped) >= len(marker):
            self.fence = None
        elif self.section == "Progress Overview" and _BAR_LINE.match(body):
            self.layout.bars.append(self._bar(index, body))
        return True

    def _bar(self, index: int, body: str) -> _Bar:
        phase = int(_BAR_LINE.match(body)["n"])
        m = _BAR.match(body)
        if m is None:
            self._fail(index, f"cannot read the overview bar of Phase {phase}: {_bar_problem(body)}")
        cells = m["cells"]
        # Cells damaged beyond repair are no problem: the toolkit writes the whole bar anew.
        if (len(cells) != BAR_CELLS or set(cells) - {FILLED, EMPTY}) and not diagnose(cells):
            self._fail(index, f"the overview bar of Phase {phase} must be {BAR_CELLS} cells of "
                              f"{FILLED} and {EMPTY}, found [{cells}]")
        return _Bar(index, phase, m["head"], m["mid"], m["tail"])

    def _open_section(self, index: int, body: str) -> None:
        self._close_section()
        self.section = _SECTION.match(body)["title"]
        self.top_indent = None
        self.table = None
        heading = _PHASE_HEADING.match(body)
        self.phase = int(heading["n"]) if heading else None
        if self.phase is None:
            return
        if self.phase in self.layout.headings:
            first = self.layout.headings[self.phase] + 1
            self._fail(index, f"the Phase {self.phase} heading appears twice (first at line {first})")
        self.layout.headings[self.phase] = index

    def _close_section(self) -> None:
        if self.phase is not None and self.phase not in self.layout.statuses:
            self._fail(self.layout.headings[self.phase], f"the Phase {self.phase} section has no **Status:** line")

    def _field(self, index: int, name: str) -> None:
        if name != "Status":
            self.layout.fields.setdefault(name, index)
        elif self.phase is not None:
            self.layout.statuses.setdefault(self.phase, index)

    def _task(self, index: int, m: re.Match) -> None:
        if self.phase is None:
            return  # the user's own checklists outside the phases
        indent = len(m["indent"].expandtabs(4))
        if self.top_indent is None:
            self.top_indent = indent
        if indent <= self.top_indent:
            parent, self.parent = None, m["text"]
        elif self.parent is None:
            self._fail(index, "this checkbox line is indented but there is no top-level task above it "
                              "in its list to belong to (unindent it, or put it under a task)")
        else:
            parent = self.parent
        text, marker = _split_damaged_marker(m["text"], m["marker"])
        key = TaskKey(self.phase, text, parent)
        self.layout.tasks.append(_Task(index, key, m["indent"], m["box"], marker, m["trail"]))

    def _table_row(self, index: int, body: str) -> bool:
        """Read the Migration Status table; False once the line is not part of it."""
        stripped = body.strip()
        if not stripped and not self.table:
            return True  # blank lines between the heading and the table
        if not stripped.startswith("|"):
            self.table = None
            return False
        parts = _PIPE.split(body)
        cells = len(parts) - 2 if stripped.endswith("|") and not stripped.endswith("\\|") else len(parts) - 1
        if not self.table:
            if cells != TABLE_COLUMNS:
                self._fail(index, f"the Migration Status table must have {TABLE_COLUMNS} columns "
                                  f"(Data Type, Status, Migrated Date, Notes), found {cells}")
            self.table.append(cells)
        elif cells != TABLE_COLUMNS:
            self._fail(index, f"this Migration Status row has {cells} cells, the table has {TABLE_COLUMNS}")
        elif len(self.table) == 1:
            self.table.append(cells)  # the |---|---| line under the header
        else:
            data_type = parts[TYPE_CELL].strip().strip("`")
            self.layout.rows.append(_Row(index, data_type, tuple(parts)))
        return True


def _split_damaged_marker(text: str, marker: str | None) -> tuple[str, str | None]:
    """A trailing ✅/❌ damaged beyond repair (a character lost to a misreading) is still a
    marker, so that the line keeps its key and the marker can be written anew."""
    if marker is None and " " in text:
        head, last = text.rsplit(" ", 1)
        if diagnose(last):
            return head, " " + last
    return text, marker


def _bar_problem(body: str) -> str:
    if "[" not in body:
        return "no [bar] after the title"
    if "]" not in body[body.rindex("["):]:
        return "[ without ]"
    return "expected `[cells] N%` after the title"


# ---------------------------------------------------------------------------------------------
# Values


def _bar_cells(percent: int) -> str:
    filled = (percent + 5) // 10  # rounded half up
    # Any progress shows, and only a finished phase shows a full bar.
    if percent > 0:
        filled = max(filled, 1)
    if percent < 100:
        filled = min(filled, BAR_CELLS - 1)
    return FILLED * filled + EMPTY * (BAR_CELLS - filled)


def _overall(phases: list[PhaseState]) -> str:
    count = len(phases)
    mean = (2 * sum(p.percent for p in phases) + count) // (2 * count)  # rounded half up, exactly
    complete = sum(p.status == "complete" for p in phases)
    return f"{mean}% ({complete}/{count} phases complete)"


def _refill(cell: str, content: str) -> str:
    """The cell with new content and its own surrounding spaces (keeps the table's style)."""
    content = content.replace("|", r"\|")
    m = re.fullmatch(r"(\s*)(.*?)(\s*)", cell)
    if not m[2]:
        return f" {content} "
    return f"{m[1]}{content}{m[3]}"


def _set_field(body: str, value: str) -> str:
    return f"{_FIELD.match(body)['label']} {value}"


def _check_percent(phase: PhaseState) -> None:
    if not 0 <= phase.percent <= 100:
        raise ValueError(f"Phase {phase.phase}: percent must be 0..100, got {phase.percent}")


# ---------------------------------------------------------------------------------------------
# Lines


def _read_bounded(path: Path) -> bytes:
    """The file's bytes, refused before reading when it is no regular file or too large."""
    if path.is_dir():
        raise DocumentError(path, 1, "is a folder, not a document",
                            hint="point TOOLKIT_PROGRESS (or --file) at the PROGRESS.md file itself")
    if path.exists() and not path.is_file():
        raise DocumentError(path, 1, "is not a regular file (a device or a pipe?)")
    with path.open("rb") as fh:  # FileNotFoundError goes to the caller
        data = fh.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        size = path.stat().st_size
        raise DocumentError(path, 1, f"is {size / 1e6:.1f} MB; a PROGRESS.md is at most {MAX_BYTES / 1e6:.0f} MB "
                                     "(is this the right file?)")
    return data


def _split_lines(text: str) -> tuple[list[str], list[str]]:
    """Bodies and their line endings ("\\n", "\\r\\n", or "" for the last), so each line keeps its own."""
    parts = text.split("\n")
    bodies, endings = [], []
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if not last and part.endswith("\r"):
            bodies.append(part[:-1])
            endings.append("\r\n")
        else:
            bodies.append(part)
            endings.append("" if last else "\n")
    return bodies, endings


def _repair(text: str) -> str:
    # Line by line: repair() also normalises line breaks, and a CRLF document must stay CRLF.
    bodies, endings = _split_lines(text)
    return "".join(repair(body) + ending for body, ending in zip(bodies, endings))


# ---------------------------------------------------------------------------------------------
# The document


class ProgressDocument:
    path: Path
    original: str  # the exact text read
    text: str  # the text with mojibake repaired: the base every render starts from

    def __init__(self, path: Path, original: str, text: str, layout: _Layout):
        self.path = path
        self.original = original
        self.text = text
        self._bodies, self._endings = _split_lines(text)
        self._layout = layout

    @classmethod
    def load(cls, path: Path) -> ProgressDocument:
        data = _read_bounded(path)
        try:
            original = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
            cause, fix = not_utf8_cause(data)
            raise DocumentError(path, line, f"not valid UTF-8 (byte 0x{data[exc.start]:02x} at column {column}): {cause}",
                                hint=fix.replace("FILE", str(path))) from None
        return cls.parse(original, path)

    @classmethod
    def parse(cls, text: str, path: Path) -> ProgressDocument:
        repaired = _repair(text)
        layout = _Parser(path).run(_split_lines(repaired)[0])
        return cls(path, text, repaired, layout)

    def task_keys(self) -> list[TaskKey]:
        return [task.key for task in self._layout.tasks]

    def marks(self) -> dict[TaskKey, TaskMark]:
        marks: dict[TaskKey, TaskMark] = {}
        for task in self._layout.tasks:
            marks.setdefault(task.key, task.mark)  # a repeated line: the first one speaks
        return marks

    def render(self, state: DocumentState, fix: bool = False) -> str:
        """The document showing `state`; `fix`: contradicting ticks are set as the toolkit knows them."""
        bodies = list(self._bodies)
        for index, body in self._edits(state, fix):
            bodies[index] = body
        return "".join(body + ending for body, ending in zip(bodies, self._endings))

    def is_current(self, state: DocumentState) -> bool:
        return self.render(state) == self.original

    def contradictions(self, state: DocumentState) -> list[Contradiction]:
        """Ticked lines the toolkit knows are not done: kept by render() unless fix."""
        facts = state.facts or {}
        return [Contradiction(task.index + 1, self._bodies[task.index],
                              facts.get(task.key, f"the toolkit marks it {state.tasks[task.key]}"))
                for task in self._layout.tasks if self._contradicts(task, state)]

    def damage(self) -> list[tuple[int, str]]:
        """Lines that still show mojibake after repair, with what is wrong: the user's own text,
        which the toolkit does not rewrite."""
        owned = ({t.index for t in self._layout.tasks} | {b.index for b in self._layout.bars}
                 | set(self._layout.statuses.values()) | {r.index for r in self._layout.rows})
        return [(i + 1, problem) for i, body in enumerate(self._bodies)
                if i not in owned and (problem := diagnose(body))]

    @staticmethod
    def _contradicts(task: _Task, state: DocumentState) -> bool:
        return (task.key in state.tasks and state.knows(task.key)
                and task.mark == "done" and state.tasks[task.key] != "done")

    def _edits(self, state: DocumentState, fix: bool) -> Iterator[tuple[int, str]]:
        yield from self._header_edits(state)
        yield from self._phase_edits(state.phases)
        yield from self._task_edits(state, fix)
        yield from self._migration_edits(state.migration)

    def _header_edits(self, state: DocumentState) -> Iterator[tuple[int, str]]:
        values = {"Last Updated": state.last_updated, "Current Phase": state.current_phase}
        if state.phases:
            values["Overall Progress"] = _overall(state.phases)
        for name, value in values.items():
            index = self._layout.fields.get(name)
            if index is not None:
                yield index, _set_field(self._bodies[index], value)

    def _phase_edits(self, phases: list[PhaseState]) -> Iterator[tuple[int, str]]:
        for phase in phases:
            _check_percent(phase)
            if phase.phase not in self._layout.statuses:
                raise DocumentError(self.path, 1, f"the document has no `## Phase {phase.phase}: ...` section "
                                                  f"to show Phase {phase.phase} in")
            index = self._layout.statuses[phase.phase]
            yield index, _set_field(self._bodies[index], PHASE_STATUS[phase.status])
            for bar in self._layout.bars:
                if bar.phase == phase.phase:
                    yield bar.index, bar.rendered(phase.percent)

    def _task_edits(self, state: DocumentState, fix: bool) -> Iterator[tuple[int, str]]:
        for task in self._layout.tasks:
            if task.key not in state.tasks or not state.knows(task.key):
                continue  # the user's line: what they ticked on it stays
            if self._contradicts(task, state) and not fix:
                continue
            yield task.index, task.rendered(state.tasks[task.key], task.key in state.result_slots)

    def _migration_edits(self, rows: list[MigrationRow]) -> Iterator[tuple[int, str]]:
        by_type = {row.data_type: row for row in rows}
        for row in self._layout.rows:
            if row.data_type in by_type:
                yield row.index, row.rendered(by_type[row.data_type])
