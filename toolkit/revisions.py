"""A step's revisions: where each one's scripts live, how a live database goes from one to the
next, and the lock file that freezes the released ones (templates/README.md says how to make
a new revision; sqitch's rework is the model).

Layout of a step folder `templates/sql/phaseN/<step>/`:

    deploy.sql revert.sql verify.sql     the newest revision
    r1/, r2/, ...                        frozen copies of the older revisions, each with the
                                         templates its scripts import (_macros.sql, ...)
    upgrade/<k-1>-<k>.sql                what takes a live database from k-1 to k
    upgrade/<k-1>-<k>.verify.sql         its own checks (optional)
    down/<k>-<k-1>.sql                   what takes it back from k to k-1 (optional)

`templates/sql/revisions.lock` lists every released revision, and every toolkit schema
migration, in the order they were released, each with its migration version (the timestamp
`toolkit export supabase` names its file with) and the checksum of its rendered SQL.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from toolkit.errors import ToolkitError

if TYPE_CHECKING:
    from toolkit.config import LoadedPlan, Phase, Step

SCRIPTS = ("deploy.sql", "revert.sql", "verify.sql")
LOCK_FILE = Path("sql") / "revisions.lock"          # under the templates folder
MODES = ("external", "postgres")                     # a revision is frozen in both scheduler modes
STAMP = "%Y%m%d%H%M%S"
LOCK_HEADER = """\
# The released revisions of the SQL steps and the toolkit schema's migrations, in the order
# they were released. A released revision never changes: `toolkit revisions check` (and the
# test suite) compare each one's rendered SQL under this folder's plan, in both scheduler
# modes, with the checksums here. A change is a new revision (templates/README.md).
# `version` is the migration version `toolkit export supabase` gives the revision's file.
# Written by `toolkit revisions lock`, which only ever adds lines.
"""


# ---------------------------------------------------------------------------------------
# Layout

def revision_dir(step_dir: Path, step: "Step", revision: int) -> Path:
    return step_dir if revision == step.revision else step_dir / f"r{revision}"


def upgrade_path(step_dir: Path, target: int) -> Path:
    return step_dir / "upgrade" / f"{target - 1}-{target}.sql"


def upgrade_verify_path(step_dir: Path, target: int) -> Path:
    return step_dir / "upgrade" / f"{target - 1}-{target}.verify.sql"


def down_path(step_dir: Path, source: int) -> Path:
    return step_dir / "down" / f"{source}-{source - 1}.sql"


def layout_problems(step_dir: Path, step: "Step") -> list[str]:
    """What the step folder lacks, or holds that its revision history does not explain."""
    problems = []
    for k in range(1, step.revision):
        missing = [n for n in SCRIPTS if not (step_dir / f"r{k}" / n).is_file()]
        if missing:
            problems.append(f"revision {k} of {step.id} has no frozen copy: {step_dir / f'r{k}'} lacks {', '.join(missing)} "
                            f"(`toolkit revisions new` makes it)")
    if (step_dir / f"r{step.revision}").exists():
        problems.append(f"{step_dir / f'r{step.revision}'} exists, but revision {step.revision} is the newest "
                        f"(its scripts are the step folder's own)")
    expected = set()
    for entry in step.revisions:
        script = upgrade_path(step_dir, entry.rev)
        expected |= {script.name, upgrade_verify_path(step_dir, entry.rev).name}
        if entry.upgrade == "script" and not script.is_file():
            problems.append(f"revision {entry.rev} of {step.id} is `upgrade: script` but {script} is missing")
        if entry.upgrade == "none" and script.is_file():
            problems.append(f"revision {entry.rev} of {step.id} is `upgrade: none` but {script} exists")
    stray = sorted(p.name for p in (step_dir / "upgrade").glob("*.sql") if p.name not in expected)
    if stray:
        problems.append(f"{step_dir / 'upgrade'} holds {', '.join(stray)}, which no revision of {step.id} uses")
    stray = sorted(p.name for p in (step_dir / "down").glob("*.sql")
                   if p.name not in {down_path(step_dir, e.rev).name for e in step.revisions})
    if stray:
        problems.append(f"{step_dir / 'down'} holds {', '.join(stray)}, which no revision of {step.id} uses")
    return problems


# ---------------------------------------------------------------------------------------
# The lock file

@dataclass(frozen=True)
class Released:
    version: str                          # 14 digits: the export's migration version
    step: str | None = None               # a step's template folder, e.g. phase2/get_queue_batch
    revision: int | None = None
    toolkit: str | None = None            # or a toolkit schema migration, e.g. 0001_initial
    digests: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> tuple:
        return ("toolkit", self.toolkit) if self.toolkit else (self.step, self.revision)

    def line(self) -> str:
        what = f"toolkit: {self.toolkit}" if self.toolkit else f"step: {self.step}, revision: {self.revision}"
        sums = "".join(f", {k}: {v}" for k, v in self.digests.items())
        return f"- {{version: '{self.version}', {what}{sums}}}\n"


def lock_path(loaded: "LoadedPlan") -> Path:
    return loaded.templates / LOCK_FILE


def read_lock(loaded: "LoadedPlan") -> list[Released]:
    import yaml

    path = lock_path(loaded)
    if not path.is_file():
        return []
    try:
        items = yaml.safe_load(path.read_text()) or []
    except yaml.YAMLError as exc:
        raise ToolkitError(f"{path}: not valid YAML: {exc}") from None
    found = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not re.fullmatch(r"\d{14}", str(item.get("version", ""))):
            raise ToolkitError(f"{path}: entry {i + 1} is not {{version: '<14 digits>', ...}}")
        digests = {k: str(v) for k, v in item.items() if k in ("deploy", "upgrade", "down", "sql")}
        found.append(Released(str(item["version"]), item.get("step"), item.get("revision"), item.get("toolkit"), digests))
    versions = [r.version for r in found]
    if versions != sorted(set(versions)):
        raise ToolkitError(f"{path}: versions must be unique and increasing, in release order")
    return found


def _sha(*texts: str) -> str:
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode())
        digest.update(b"\0")
    return digest.hexdigest()


def in_mode(loaded: "LoadedPlan", mode: str) -> "LoadedPlan":
    """The plan with another scheduler mode (the lock holds both; an export takes one)."""
    from toolkit.config import LoadedPlan

    plan = loaded.plan
    settings = plan.settings.model_copy(update={"scheduler_mode": mode})
    return LoadedPlan(plan.model_copy(update={"settings": settings}), loaded.path, loaded.templates)


def digests(loaded: "LoadedPlan", phase: "Phase", step: "Step", revision: int) -> dict[str, str]:
    """Checksums of a revision's rendered SQL in both scheduler modes: its deploy, and the
    upgrade and down scripts that lead to and from it when it has them. Nothing is ignored:
    a comment is part of the text."""
    from toolkit.render import Renderer

    renderers = [Renderer(in_mode(loaded, m)) for m in MODES]
    found = {"deploy": _sha(*(r.step(phase, step, revision).deploy for r in renderers))}
    if revision > 1:
        folder = renderers[0].root / step.sql
        for key, path in (("upgrade", upgrade_path(folder, revision)), ("upgrade", upgrade_verify_path(folder, revision)),
                          ("down", down_path(folder, revision))):
            if path.is_file():
                rel = str(path.relative_to(folder))
                found[key] = _sha(found.get(key, ""), *(r._template(step, rel) for r in renderers))
    return found


def _toolkit_digest(migration) -> dict[str, str]:
    return {"sql": _sha(migration.sql)}


def _steps(loaded: "LoadedPlan"):
    """Every SQL step of the plan that is built (in either scheduler mode), in plan order."""
    for phase in loaded.plan.phases:
        for step in phase.sql_steps:
            yield phase, step


def unreleased(loaded: "LoadedPlan") -> list[str]:
    """The revisions and toolkit migrations the lock file does not list yet."""
    from toolkit import schema

    have = {r.key for r in read_lock(loaded)}
    missing = [f"toolkit schema migration {m.name}" for m in schema.migrations() if ("toolkit", m.name) not in have]
    missing += [f"phase {phase.id} step {step.id} revision {k}" for phase, step in _steps(loaded)
                for k in range(1, step.revision + 1) if (step.sql, k) not in have]
    return missing


def check(loaded: "LoadedPlan") -> list[str]:
    """Every released revision that changed, every revision not released yet, and every lock
    entry the plan no longer explains; empty when all is as released."""
    from toolkit import schema

    path = lock_path(loaded)
    released = {r.key: r for r in read_lock(loaded)}
    problems = []
    known = set()
    for m in schema.migrations():
        known.add(("toolkit", m.name))
        entry = released.get(("toolkit", m.name))
        if entry is None:
            problems.append(f"toolkit schema migration {m.name} is not released yet: run `toolkit revisions lock`")
        elif entry.digests != _toolkit_digest(m):
            problems.append(f"toolkit schema migration {m.name} was released (version {entry.version} in {path}) but "
                            f"{m.path} changed: a released migration never changes; undo the edit and add the change "
                            f"as the next numbered file in {m.path.parent}")
    for phase, step in _steps(loaded):
        for k in range(1, step.revision + 1):
            known.add((step.sql, k))
            entry = released.get((step.sql, k))
            if entry is None:
                problems.append(f"phase {phase.id} step {step.id} revision {k} is not released yet: "
                                f"run `toolkit revisions lock` to add it to {path}")
                continue
            now = digests(loaded, phase, step, k)
            changed = sorted(key for key in set(now) | set(entry.digests) if now.get(key) != entry.digests.get(key))
            if changed:
                problems.append(_changed(loaded, phase, step, k, changed))
    for key, entry in released.items():
        if key not in known:
            what = f"toolkit schema migration {key[1]}" if key[0] == "toolkit" else f"{key[0]} revision {key[1]}"
            problems.append(f"{path} lists {what} (version {entry.version}), which is gone: a released revision "
                            f"stays in the plan and the templates")
    return problems


def _changed(loaded: "LoadedPlan", phase: "Phase", step: "Step", k: int, parts: list[str]) -> str:
    folder = revision_dir(loaded.templates / "sql" / step.sql, step, k)
    where = {"deploy": f"{folder}/deploy.sql (or a template it imports)",
             "upgrade": f"{loaded.templates / 'sql' / step.sql}/upgrade/{k - 1}-{k}*.sql",
             "down": f"{down_path(loaded.templates / 'sql' / step.sql, k)}"}
    what = "; ".join(where[p] for p in parts)
    return (f"phase {phase.id} step {step.id} revision {k} was released, but its rendered SQL changed ({what}): "
            f"a released revision never changes. Make the change revision {step.revision + 1} of the step: "
            f"`toolkit revisions new {phase.id} {step.id} --upgrade redeploy|script|none --why \"...\" "
            f"--from-git <the commit before the edit>` keeps the edit as revision {step.revision + 1} and revision "
            f"{step.revision} as released (templates/README.md, \"Making a new revision\")")


def lock(loaded: "LoadedPlan", now: datetime | None = None) -> list[Released]:
    """Add every revision and toolkit migration not released yet to the lock file, toolkit
    migrations first (the revisions may call what they add); never changes a line."""
    from toolkit import schema

    problems = [p for p in check(loaded) if "not released yet" not in p]
    if problems:
        raise ToolkitError("the lock file disagrees with the templates:\n" + "\n".join(problems),
                           hint="released revisions are fixed first; `toolkit revisions lock` only adds new ones")
    existing = read_lock(loaded)
    have = {r.key for r in existing}
    start = (now or datetime.now(timezone.utc)).replace(microsecond=0, tzinfo=None)
    if existing:
        start = max(start, datetime.strptime(existing[-1].version, STAMP) + timedelta(seconds=1))
    added: list[Released] = []

    def stamp() -> str:
        return (start + timedelta(seconds=len(added))).strftime(STAMP)

    for m in schema.migrations():
        if ("toolkit", m.name) not in have:
            added.append(Released(stamp(), toolkit=m.name, digests=_toolkit_digest(m)))
    for phase, step in _steps(loaded):
        for k in range(1, step.revision + 1):
            if (step.sql, k) not in have:
                added.append(Released(stamp(), step=step.sql, revision=k, digests=digests(loaded, phase, step, k)))
    if added:
        path = lock_path(loaded)
        text = path.read_text() if path.is_file() else LOCK_HEADER
        path.write_text(text + "".join(r.line() for r in added))
    return added


# ---------------------------------------------------------------------------------------
# Making a new revision

def new_revision(loaded: "LoadedPlan", phase_id: int, step_id: str, upgrade: str, why: str,
                 from_git: str | None = None) -> dict:
    """Freeze the step's newest revision k into r<k>/ (from the working tree, or as it was at
    git revision `from_git` when the scripts were already edited in place), add revision k+1
    to the plan, and for `upgrade: script` start upgrade/<k>-<k+1>.sql. The frozen copy must
    render exactly as the released revision k did, or nothing is changed."""
    from toolkit.config import load_plan

    phase = loaded.plan.phase(phase_id)
    step = next((s for s in phase.steps if s.id == step_id), None)
    if step is None or step.kind != "sql":
        raise ToolkitError(f"phase {phase_id} has no sql step {step_id!r}")
    if upgrade not in ("redeploy", "script", "none"):
        raise ToolkitError(f"--upgrade must be redeploy, script or none (got {upgrade!r})")
    k = step.revision
    step_dir = loaded.templates / "sql" / step.sql
    dest = step_dir / f"r{k}"
    if dest.exists():
        raise ToolkitError(f"{dest} exists already")
    plan_text = loaded.path.read_text()
    made: list[Path] = [dest]
    try:
        read = _git_reader(loaded.templates, from_git) if from_git else (lambda p: p.read_text())
        for rel, text in _with_references(loaded.templates / "sql", step.sql, read).items():
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        loaded.path.write_text(_add_revision(plan_text, loaded.path, phase_id, step_id,
                                             f"{{rev: {k + 1}, upgrade: {upgrade}, why: {_quoted(why)}}}"))
        script = upgrade_path(step_dir, k + 1)
        if upgrade == "script" and not script.exists():
            script.parent.mkdir(exist_ok=True)
            script.write_text(f"-- Revision {k} -> {k + 1} of {step.id}: {why}\n"
                              f"-- Runs on a live database at revision {k}, in the phase's transaction, before the\n"
                              f"-- verify of revision {k + 1}; it must reach exactly what deploy.sql creates.\n")
            made.append(script)
        reloaded = load_plan(loaded.path, loaded.templates)
        released = {r.key: r for r in read_lock(reloaded)}.get((step.sql, k))
        new_step = reloaded.plan.phase(phase_id).step(step_id)
        if released and digests(reloaded, reloaded.plan.phase(phase_id), new_step, k)["deploy"] != released.digests["deploy"]:
            raise ToolkitError(
                f"the frozen copy of revision {k} does not render as the released revision {k} did: "
                f"the step's scripts were edited already",
                hint="take revision k as released from git: --from-git <the commit before the edit> (e.g. main)")
    except BaseException:
        loaded.path.write_text(plan_text)
        for path in made:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            elif path.exists():
                path.unlink()
        raise
    return {"phase": phase_id, "step": step_id, "frozen": str(dest), "revision": k + 1, "upgrade": upgrade,
            "upgrade_script": str(upgrade_path(step_dir, k + 1)) if upgrade != "none" else None,
            "down_script": str(down_path(step_dir, k + 1))}


def _quoted(text: str) -> str:
    import json

    return json.dumps(text)  # a JSON string is a YAML flow scalar


def _with_references(root: Path, folder: str, read) -> dict[str, str]:
    """The step's three scripts and every template they import or include, recursively:
    {path inside the frozen copy: text}. The scripts go to its top; what they reference keeps
    its path under templates/sql, which the frozen copy's loader searches first."""
    import jinja2
    from jinja2 import meta

    env = jinja2.Environment()
    found: dict[str, str] = {}
    todo = [(name, root / folder / name) for name in SCRIPTS]
    while todo:
        rel, path = todo.pop()
        if rel in found:
            continue
        found[rel] = text = read(path)
        for ref in meta.find_referenced_templates(env.parse(text)):
            if ref is None:
                raise ToolkitError(f"{path} imports a template by a computed name; a frozen copy cannot follow it")
            todo.append((ref, root / ref))
    return found


def _git_reader(templates: Path, rev: str):
    try:
        top = subprocess.run(["git", "-C", str(templates), "rev-parse", "--show-toplevel"],
                             capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        raise ToolkitError(f"{templates} is not in a git checkout; --from-git needs one") from None

    def read(path: Path) -> str:
        rel = path.resolve().relative_to(Path(top).resolve())
        done = subprocess.run(["git", "-C", top, "show", f"{rev}:{rel}"], capture_output=True, text=True)
        if done.returncode != 0:
            raise ToolkitError(f"git show {rev}:{rel} failed: {done.stderr.strip()}")
        return done.stdout
    return read


def _add_revision(text: str, path: Path, phase_id: int, step_id: str, item: str) -> str:
    """phases.yaml with `item` appended to the step's revisions, its layout and comments kept."""
    import yaml

    root = yaml.compose(text, Loader=yaml.SafeLoader)
    phases = dict((k.value, v) for k, v in root.value)["phases"]
    phase_node = next(p for p in phases.value if dict((k.value, v) for k, v in p.value)["id"].value == str(phase_id))
    steps = dict((k.value, v) for k, v in phase_node.value)["steps"]
    step = next(s for s in steps.value if dict((k.value, v) for k, v in s.value)["id"].value == step_id)
    fields = dict((k.value, v) for k, v in step.value)
    existing = fields.get("revisions")
    if step.flow_style:
        if existing is not None:       # ..., revisions: [{...}]}  ->  ..., revisions: [{...}, item]}
            at = existing.end_mark.index - 1
            return text[:at] + ", " + item + text[at:]
        at = step.end_mark.index - 1   # before the closing brace
        return text[:at] + ", revisions: [" + item + "]" + text[at:]
    lines = text.splitlines(keepends=True)
    indent = " " * step.value[0][0].start_mark.column
    if existing is not None and not existing.flow_style:
        at = sum(len(l) for l in lines[:_last_line(existing) + 1])
        return text[:at] + " " * (existing.value[0].start_mark.column - 2) + f"- {item}\n" + text[at:]
    if existing is not None:
        raise ToolkitError(f"{path}: step {step_id}'s revisions are a flow list; add revision by hand")
    at = sum(len(l) for l in lines[:_last_line(step) + 1])
    return text[:at] + f"{indent}revisions:\n{indent}  - {item}\n" + text[at:]


def _last_line(node) -> int:
    """The (0-based) line a YAML node ends on: a block collection ends with its last child."""
    import yaml

    if isinstance(node, yaml.MappingNode) and not node.flow_style and node.value:
        return _last_line(node.value[-1][1])
    if isinstance(node, yaml.SequenceNode) and not node.flow_style and node.value:
        return _last_line(node.value[-1])
    end = node.end_mark
    return end.line if end.column else end.line - 1


# ---------------------------------------------------------------------------------------
# Reading

def listing(loaded: "LoadedPlan") -> list[dict]:
    """Every SQL step: its revisions, how each is reached, and whether it is released as is."""
    released = {r.key: r for r in read_lock(loaded)}
    rows = []
    for phase, step in _steps(loaded):
        for k in range(1, step.revision + 1):
            entry = released.get((step.sql, k))
            if entry is None:
                state = "not released"
            else:
                state = "released" if digests(loaded, phase, step, k) == entry.digests else "CHANGED"
            rows.append({"phase": phase.id, "step": step.id, "revision": k,
                         "upgrade": "deploy" if k == 1 else step.revision_entry(k).upgrade,
                         "why": "first release" if k == 1 else step.revision_entry(k).why,
                         "version": entry.version if entry else None, "state": state})
    return rows
