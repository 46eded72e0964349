"""The Phase 0 documents: rendered by `toolkit docs render` into the user's workspace
(settings.docs.dir, `docs/rollout/` by default, and `.github/workflows/`) from templates/docs,
from the plan, the checklists, the revert scripts, the baseline and the target, so that they
cannot go out of date unnoticed.

Each rendered file ends with (a YAML file starts with) a line naming the digest of the
document's inputs: the document as rendered without what changes by itself (the latest
checklist results). A document is current when its files carry the digest of today's inputs,
stale when an input changed since (a checklist edited, a revert script changed, a new baseline,
another functions URL, Phase 6 applied), missing when a file is not there (toolkit.states).
Commands that change the rollout re-render the documents that are current, so that their
results stay fresh; a stale one waits for `toolkit docs render`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import jinja2

from toolkit import ledger
from toolkit.config import LoadedPlan
from toolkit.db import Target, connect, database_errors
from toolkit.errors import ToolkitError
from toolkit.progress.atomic import write_atomic
from toolkit.queries import query
from toolkit.states import DOC_CURRENT, DOC_MISSING, doc_state

if TYPE_CHECKING:
    import psycopg

FILE = "docs.sql"
WORKFLOW = ".github/workflows/health-check.yml"
# The plan's doc steps (phases.yaml `doc:`) and the files each renders; {dir} is settings.docs.dir.
DOCUMENTS: dict[str, dict[str, str]] = {
    "checklists": {"{dir}/checklists.md": "checklists.md.j2"},
    "rollback": {"{dir}/rollback.md": "rollback.md.j2"},
    "baseline": {"{dir}/baseline.md": "baseline.md.j2"},
    "monitoring-workflow": {WORKFLOW: "health-check.yml.j2", "{dir}/monitoring.md": "monitoring.md.j2"},
}
STAMP = re.compile(r"toolkit docs render: ([a-z-]+), inputs ([0-9a-f]{16})")
LOCAL_FUNCTIONS_URL = "http://127.0.0.1:54331/functions/v1"
NO_BASELINE = "no baseline captured yet: toolkit baseline capture (or toolkit docs render, which captures one)"
PROBE_TOKEN = "HEALTH_CHECK_PROBE_TOKEN"


@dataclass
class Document:
    name: str
    files: dict[str, str] = field(default_factory=dict)   # workspace-relative path -> content
    digest: str = ""
    note: str = ""                                         # why it cannot be rendered yet


@dataclass(frozen=True)
class DocState:
    name: str
    state: str
    files: tuple[str, ...]
    note: str = ""


class Documents:
    """The documents of a plan, for a workspace and a target."""

    def __init__(self, loaded: LoadedPlan, target: Target, workspace: Path):
        self.loaded = loaded
        self.target = target
        self.workspace = workspace
        self.dir = loaded.plan.settings.docs.dir
        self.env = _environment(loaded.templates / "docs")

    # -- what the documents say -------------------------------------------------------------
    def render(self, conn: "psycopg.Connection", names: list[str] | None = None) -> dict[str, Document]:
        from toolkit.final import deployed_plan

        loaded = deployed_plan(self.loaded, conn)
        inputs = _Inputs(self, loaded, conn)
        return {name: self._document(name, inputs) for name in (names or DOCUMENTS)}

    def _document(self, name: str, inputs: "_Inputs") -> Document:
        doc = Document(name)
        context = inputs.context(name)
        if context is None:
            doc.note = NO_BASELINE
            return doc
        definitions = {path: self._template(template, {**context, "results": None})
                       for path, template in self._files(name).items()}
        doc.digest = hashlib.sha256("\0".join(f"{p}\0{t}" for p, t in sorted(definitions.items())).encode()).hexdigest()[:16]
        for path, template in self._files(name).items():
            text = self._template(template, context)
            doc.files[path] = _stamped(path, text, name, doc.digest)
        return doc

    def _files(self, name: str) -> dict[str, str]:
        return {path.format(dir=self.dir): template for path, template in DOCUMENTS[name].items()}

    def _template(self, template: str, context: dict) -> str:
        try:
            return self.env.get_template(template).render(context)
        except jinja2.TemplateNotFound:
            raise ToolkitError(f"template docs/{template} not found under {self.loaded.templates}") from None
        except jinja2.TemplateError as exc:
            raise ToolkitError(f"template docs/{template}: {exc}") from None

    # -- their state on disk ----------------------------------------------------------------
    def states(self, conn: "psycopg.Connection") -> dict[str, DocState]:
        # A document with a file missing is missing whatever its inputs: no need to render it.
        missing = [n for n in DOCUMENTS if not all((self.workspace / p).is_file() for p in self._files(n))]
        found = self.render(conn, [n for n in DOCUMENTS if n not in missing]) if len(missing) < len(DOCUMENTS) else {}
        return {name: self.state_of(found.get(name) or Document(name)) for name in DOCUMENTS}

    def state_of(self, doc: Document) -> DocState:
        paths = tuple(self._files(doc.name))
        stamps = []
        for path in paths:
            file = self.workspace / path
            stamps.append(_stamp(file.read_text(encoding="utf-8", errors="replace")) or "" if file.is_file() else None)
        state = doc_state(stamps, doc.digest or None)
        if doc.note:
            note = doc.note
        else:
            note = {DOC_CURRENT: "", DOC_MISSING: "not rendered yet: toolkit docs render"}.get(
                state, "its inputs changed since it was rendered: toolkit docs render")
        return DocState(doc.name, state, paths, note)

    # -- writing ----------------------------------------------------------------------------
    def write(self, conn: "psycopg.Connection", names: list[str] | None = None,
              only_current: bool = False) -> list[dict]:
        """Write the documents (`only_current`: those that are current, with fresh results)."""
        written = []
        if only_current:
            names = [n for n in names or DOCUMENTS if all((self.workspace / p).is_file() for p in self._files(n))]
            if not names:
                return []
        for name, doc in self.render(conn, names).items():
            if not doc.files:
                written.append({"document": name, "files": [], "result": "not rendered", "note": doc.note})
                continue
            if only_current and self.state_of(doc).state != DOC_CURRENT:
                continue
            changed = []
            for path, text in doc.files.items():
                file = self.workspace / path
                if not file.is_file() or file.read_text(encoding="utf-8", errors="replace") != text:
                    file.parent.mkdir(parents=True, exist_ok=True)
                    write_atomic(file, text)
                    changed.append(path)
            written.append({"document": name, "files": list(doc.files), "result": "written" if changed else "up to date",
                            "changed": changed})
        return written


@lru_cache(maxsize=4)
def _environment(folder: Path) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(folder)), undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
        trim_blocks=True, lstrip_blocks=True, autoescape=False)
    env.globals.update(num=_num, size=_size, pct=_pct, age=_age, fill=_fill)
    return env


def _stamped(path: str, text: str, name: str, digest: str) -> str:
    line = f"toolkit docs render: {name}, inputs {digest}"
    if path.endswith((".yml", ".yaml")):
        return f"# {line} (rendered from templates/docs; edits are overwritten)\n{text}"
    return f"{text.rstrip()}\n\n<!-- {line} (rendered from templates/docs; edits are overwritten) -->\n"


def _stamp(text: str) -> str | None:
    m = STAMP.search(text)
    return m.group(2) if m else None


def functions_url(loaded: LoadedPlan, target: Target) -> str:
    """The project's functions URL for the external probes: the setting, else the target's."""
    configured = loaded.plan.settings.docs.functions_url
    if configured:
        return configured.rstrip("/")
    if target.project_ref:
        return f"https://{target.project_ref}.supabase.co/functions/v1"
    return LOCAL_FUNCTIONS_URL


# -- the inputs --------------------------------------------------------------------------------

class _Inputs:
    """What the templates are rendered from, read once per render."""

    def __init__(self, docs: Documents, loaded: LoadedPlan, conn: "psycopg.Connection"):
        self.docs = docs
        self.loaded = loaded
        self.plan = loaded.plan
        self.conn = conn
        self._baseline = None

    def context(self, name: str) -> dict | None:
        common = {"plan": self.plan, "names": self.plan.names, "docs_dir": self.docs.dir,
                  "settings": self.plan.settings}
        if name == "checklists":
            return {**common, **self._checklists()}
        if name == "rollback":
            return {**common, **self._rollback()}
        if name == "baseline":
            baseline = self.baseline()
            return None if baseline is None else {**common, **_baseline_context(baseline, self.plan)}
        return {**common, **self._monitoring()}

    def baseline(self) -> dict | None:
        from toolkit.baseline import latest

        if self._baseline is None:
            self._baseline = latest(self.conn) or {}
        return self._baseline or None

    def _checklists(self) -> dict:
        from toolkit.checklists import check_params, load_all

        lists = load_all(self.docs.workspace, self.plan)
        runs = _latest_runs(self.conn)
        entries = []
        for c in sorted(lists, key=lambda c: (c.ticks.phase if c.ticks else 99, c.name)):
            first_type = self.plan.data_types[0].name if c.per_type else None
            params = {k: f"<{k}>" for k in check_params(self.plan, c, first_type)} if c.per_type else {}
            entries.append({"checklist": c, "params": params, "ticks": self._ticks(c),
                            "runs": [r for r in runs if r["checklist"] == c.name]})
        return {"checklists": entries, "results": {"runs": runs}}

    def _ticks(self, checklist) -> str:
        if checklist.per_type:
            return "Per data type (phase 5 and rollback drills)"
        if checklist.ticks is None:
            return "Ticks no PROGRESS.md line"
        phase = self.plan.phase(checklist.ticks.phase)
        return f"Ticks phase {phase.id}: {phase.step(checklist.ticks.step).task}"

    def _rollback(self) -> dict:
        from toolkit.render import Renderer

        renderer = Renderer(self.loaded)
        phases = []
        for phase in self.plan.phases:
            steps = []
            for step in reversed([s for s in self.plan.deployable(phase) if s.kind == "sql"]):
                revert = renderer.scripts(step)["revert.sql"]
                steps.append({"step": step, **revert_effects(revert)})
            phases.append({"phase": phase, "steps": steps})
        return {"phases": phases, "final_applied": self.plan.deployed}

    def _monitoring(self) -> dict:
        url = functions_url(self.loaded, self.docs.target)
        slug = self.plan.names.slug("health-check")
        return {"functions_url": url, "health_url": f"{url}/{slug}", "interval": self.plan.settings.docs.probe_interval_minutes,
                "probe_token": PROBE_TOKEN, "probe_script": PROBE_SCRIPT}


def _latest_runs(conn) -> list[dict]:
    if not ledger.exists(conn, "toolkit.checklist_runs"):
        return []
    cur = conn.execute(query("latest_runs", FILE))
    names = [c.name for c in cur.description]
    runs = [dict(zip(names, row)) for row in cur]
    for run in runs:
        run["finished"] = _utc(run["finished_at"])
        acur = conn.execute(query("run_answers", FILE), {"run_id": run["id"]})
        anames = [c.name for c in acur.description]
        run["answers"] = {row[0]: dict(zip(anames, row)) for row in acur}
    return runs


# -- what a revert script does, read from it ------------------------------------------------------

_DROP = re.compile(r"\bDROP\s+(FUNCTION|VIEW|MATERIALIZED VIEW|TYPE|INDEX|TABLE|TRIGGER|POLICY)\s+(?:IF\s+EXISTS\s+)?"
                   r"([\w.\"]+)", re.I)
_RETIRE = re.compile(r"toolkit\.retire_table\(\w+\)\s+FROM\s+to_regclass\('([^']+)'\)", re.I)
_UNSCHEDULE = re.compile(r"cron\.unschedule\((?:[^;]|\n)*?;", re.I)
_QUOTED_JOB = re.compile(r"'([a-z0-9]+[_-][a-z0-9_-]*)'")


def revert_effects(sql: str) -> dict:
    """What a rendered revert script does, as the rollback procedures list it: the tables it
    archives (when they hold rows), what it drops, the cron jobs it unschedules, and, for a
    script that does none of these, its opening comment."""
    dropped = [f"{kind.lower()} {name}" for kind, name in _DROP.findall(sql) if not name.startswith("pg_temp.")]
    jobs = sorted({j for stmt in _UNSCHEDULE.findall(sql) for j in _QUOTED_JOB.findall(stmt)})
    archived = _RETIRE.findall(sql)
    comment = []
    if not (dropped or jobs or archived):
        for line in sql.splitlines():
            if not line.startswith("--"):  # the opening comment ends at its first other line
                break
            comment.append(line[2:].strip())
    return {"comment": " ".join(comment), "archived": archived, "dropped": dropped, "unscheduled": jobs}


def _baseline_context(baseline: dict, plan) -> dict:
    import datetime as dt

    at = baseline["captured_at"]
    captured = at.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC") if isinstance(at, dt.datetime) else str(at)
    return {"baseline": baseline, "captured_at": captured, "implied": baseline["implied"], "jobs": baseline["jobs"],
            "tables": baseline["tables"], "legacy_jobs": {d.legacy_job: d.name for d in plan.data_types}}


# -- formatting in the templates -----------------------------------------------------------------

def _utc(value) -> str:
    import datetime as dt

    return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC") if value else "-"


def _num(value) -> str:
    if value is None:
        return "-"
    if float(value) == int(value):
        return f"{int(value):,}"
    return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"


def _size(value) -> str:
    if value is None:
        return "-"
    value = float(value)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(value) < 1000 or unit == "TB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1000
    return ""


def _pct(part, whole) -> str:
    return f"{100 * float(part) / float(whole):.1f}%" if whole else "-"


def _age(seconds) -> str:
    if seconds is None:
        return "-"
    seconds = float(seconds)
    for limit, unit, div in ((120, "s", 1), (7200, "min", 60), (172800, "h", 3600)):
        if abs(seconds) < limit:
            return f"{seconds / div:.0f} {unit}" if unit == "s" else f"{seconds / div:.1f} {unit}"
    return f"{seconds / 86400:.1f} d"


def _fill(text: str, params: dict) -> str:
    from toolkit.checklists import fill

    return fill(text, params)


# The probe the workflow runs (and the tests run against the local gateway): HTTP 200 and a
# healthy body, or the run fails. A few attempts, so that one dropped request does not page.
PROBE_SCRIPT = """\
set -u
body="$(mktemp)"
status=000
for attempt in $(seq 1 "${PROBE_ATTEMPTS:-3}"); do
  status="$(curl --silent --show-error --max-time 20 --output "$body" --write-out '%{http_code}' \\
    --header "x-probe-token: ${HEALTH_CHECK_PROBE_TOKEN:-}" "$HEALTH_CHECK_URL")" || status=000
  if [ "$status" = 200 ] && grep -q '"status":"ok"' "$body"; then
    echo "healthy: $(head -c 2000 "$body")"
    exit 0
  fi
  echo "attempt $attempt: HTTP $status: $(head -c 2000 "$body")"
  if [ "$attempt" -lt "${PROBE_ATTEMPTS:-3}" ]; then sleep "${PROBE_RETRY_SECONDS:-10}"; fi
done
echo "::error::the health check at $HEALTH_CHECK_URL is failing (HTTP $status)"
exit 1
"""


# -- entry points -------------------------------------------------------------------------------

def render_documents(loaded: LoadedPlan, target: Target, workspace: Path, actor: str,
                     names: list[str] | None = None) -> list[dict]:
    """`toolkit docs render`: every document (or `names`), capturing a baseline first when there
    is none, so that the baseline document shows the system as it is before the rollout."""
    unknown = [n for n in names or () if n not in DOCUMENTS]
    if unknown:
        raise ToolkitError(f"no document {', '.join(unknown)}", hint=f"one of: {', '.join(DOCUMENTS)}")
    from toolkit.baseline import capture, latest

    captured = None
    with connect(target, autocommit=True) as conn, database_errors():
        ledger.install(conn)
        if (names is None or "baseline" in names) and latest(conn) is None:
            from toolkit.final import deployed_plan

            captured = capture(deployed_plan(loaded, conn).plan, target, actor)
        written = Documents(loaded, target, workspace).write(conn, names)
    if captured:
        for w in written:
            if w["document"] == "baseline":
                w["captured"] = captured["id"]
    return written


def unrendered(loaded: LoadedPlan, workspace: Path) -> list[str]:
    """The documents with a file missing from the workspace (no database needed)."""
    folder = loaded.plan.settings.docs.dir
    return [name for name, files in DOCUMENTS.items()
            if not all((workspace / p.format(dir=folder)).is_file() for p in files)]


def document_states(loaded: LoadedPlan, target: Target, workspace: Path) -> list[DocState]:
    with connect(target, autocommit=True) as conn, database_errors():
        return list(Documents(loaded, target, workspace).states(conn).values())


def refresh_current(loaded: LoadedPlan, target: Target, workspace: Path) -> list[str]:
    """After a command changed the rollout: re-render the documents that are current (their
    results move on); never fails the command that called it."""
    if not any((workspace / p.format(dir=loaded.plan.settings.docs.dir)).is_file()
               for files in DOCUMENTS.values() for p in files):
        return []
    try:
        with connect(target, autocommit=True) as conn:
            written = Documents(loaded, target, workspace).write(conn, only_current=True)
    except (ToolkitError, OSError, _db_error()) as exc:
        return [f"documents were not refreshed: {getattr(exc, 'message', exc)}"]
    return [f"{f} updated" for w in written for f in w.get("changed", [])]


def _db_error():
    import psycopg

    return psycopg.Error
