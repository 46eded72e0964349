"""Checklists: YAML lists of automated checks and manual confirmations (checklists/<name>.yaml),
run against a target and recorded in the toolkit schema, answer by answer, so that a stopped
run resumes where it stopped and a finished run's result can tick its PROGRESS.md line.

A check is SQL whose last statement returns one row (ok boolean, evidence text). It runs with
client-side bound named parameters (`%(data_type)s`; a literal percent sign is `%%`), so it may
hold several statements, inside a transaction that is always rolled back. An item of a per-type
checklist may instead `judge` one criterion of the bake's canary analysis (toolkit.canary), so
that it and `toolkit monitor` judge the same data by the same rule.

A run passes only when every item passed: a skipped or inconclusive item, or one left pending,
makes it incomplete; one failed item fails it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Literal

from pydantic import Field, model_validator

from toolkit import canary, ledger
from toolkit.config import IDENT, DataType, Plan, Settings, Strict
from toolkit.db import Target, connect, database_errors, sql_error_message
from toolkit.errors import ConfigError, ToolkitError
from toolkit.queries import query
from toolkit.yamlfile import Lines, load_model

if TYPE_CHECKING:
    import psycopg

    from toolkit.checks import CheckContext

FOLDER = "checklists"
FILE_Q = "checklist_queries.sql"
ANSWERS = ("pass", "fail", "skip")  # what a person may answer; a check also says "inconclusive"

# Parameters every check may use, and those a per-type checklist adds (see check_params()).
PLAN_PARAMS = frozenset({"data_types", "deployable_steps", "max_queue_depth", "min_success_rate", "max_stale_share"})
TYPE_PARAMS = frozenset({"data_type", "flag", "legacy_job", "legacy_schedule", "legacy_interval_seconds",
                         "table", "key_column", "timestamp_column", "ttl_seconds"})

# What psycopg's named-parameter syntax accepts after a percent sign.
PERCENT = re.compile(r"%(%|\((\w*)\)s)?")
# A statement that ends or nests the transaction would defeat the rollback that keeps checks
# harmless. Looked for outside dollar-quoted bodies, strings and comments (a DO block's own
# BEGIN ... END is fine).
NOT_STATEMENTS = re.compile(r"\$(\w*)\$.*?\$\1\$|'(?:[^']|'')*'|--[^\n]*", re.S)
TX_CONTROL = re.compile(
    r"(?:^|;)\s*(commit|rollback|abort|end|begin|start\s+transaction|savepoint|release|prepare\s+transaction)\b", re.I)


class Ticks(Strict):
    phase: int
    step: str


class Item(Strict):
    id: str = Field(pattern=IDENT)
    text: str = Field(min_length=1)
    check: str | None = Field(None, min_length=1)
    judge: Literal[canary.CRITERIA] | None = None  # type: ignore[valid-type]
    # An automated check the toolkit runs itself (toolkit.checks.BUILTINS), for what SQL cannot see.
    run: str | None = None
    manual: bool = False

    @model_validator(mode="after")
    def _one_kind(self) -> "Item":
        from toolkit.checks import BUILTINS

        if [self.check is not None, self.judge is not None, self.run is not None, self.manual].count(True) != 1:
            raise ValueError(f"item {self.id!r} needs exactly one of `check` (SQL), `judge` (a monitor criterion), "
                             "`run` (a toolkit check) or `manual: true`")
        if self.run is not None and self.run not in BUILTINS:
            raise ValueError(f"item {self.id!r}: no toolkit check {self.run!r}; one of: {', '.join(BUILTINS)}")
        return self

    @property
    def kind(self) -> Literal["automated", "manual"]:
        return "manual" if self.manual else "automated"


class Checklist(Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    title: str = Field(min_length=1)
    ticks: Ticks | None = None
    per_type: bool = False
    items: list[Item] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> "Checklist":
        ids = [i.id for i in self.items]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise ValueError(f"item ids must be unique; repeated: {', '.join(repeated)}")
        return self


# -- loading ---------------------------------------------------------------------------------

def names(root: Path) -> list[str]:
    """The checklists of the project at `root` (its checklists/ folder), by name."""
    return sorted(p.stem for p in (root / FOLDER).glob("*.yaml"))


def load_all(root: Path, plan: Plan | None = None) -> list[Checklist]:
    """Every checklist of the project at `root`, validated against its plan; all problems at once."""
    plan = plan or _plan_at(root)
    found, problems = [], []
    for name in names(root):
        try:
            found.append(_load_file(root / FOLDER / f"{name}.yaml", plan))
        except ConfigError as exc:
            problems += exc.problems
    if problems:
        raise ConfigError(problems)
    return found


def load(root: Path, name: str, plan: Plan | None = None) -> Checklist:
    known = names(root)
    if name not in known:
        raise ToolkitError(f"there is no checklist {name!r} in {root / FOLDER}",
                           hint=f"one of: {', '.join(known)}" if known else "the folder holds no <name>.yaml")
    return _load_file(root / FOLDER / f"{name}.yaml", plan or _plan_at(root))


def _plan_at(root: Path) -> Plan | None:
    from toolkit.config import load_plan
    from toolkit.project import PLAN_FILE

    path = root / PLAN_FILE
    return load_plan(path).plan if path.is_file() else None


# Parsed checklists by file state and plan: a command reads them several times (its own use, the
# documents, PROGRESS.md), and parsing YAML with line numbers is slow.
_LOADED: dict[tuple, Checklist] = {}


def _load_file(path: Path, plan: Plan | None) -> Checklist:
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size, plan.model_dump_json() if plan else None,
           plan.names.suffix if plan else None)
    if key not in _LOADED:
        _LOADED[key] = _parse_file(path, plan)
    return _LOADED[key]


def _parse_file(path: Path, plan: Plan | None) -> Checklist:
    checklist, lines = load_model(path, Checklist, "checklist")
    problems = _cross_checks(checklist, path, lines, plan)
    if problems:
        raise ConfigError(problems)
    return _with_names(checklist, path, plan.names.suffix if plan else Settings().suffix)


def _with_names(checklist: Checklist, path: Path, suffix: str) -> Checklist:
    """Texts and checks name the plan's objects as the SQL templates do: `{{ suffix }}`."""
    import jinja2

    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True)

    def render(text: str | None) -> str | None:
        try:
            return None if text is None else env.from_string(text).render(suffix=suffix)
        except jinja2.TemplateError as exc:
            raise ConfigError([f"{path}: {exc} (checklists may use only {{{{ suffix }}}})"]) from None

    items = [i.model_copy(update={"text": render(i.text), "check": render(i.check)}) for i in checklist.items]
    return checklist.model_copy(update={"items": items})


def _cross_checks(checklist: Checklist, path: Path, lines: Lines, plan: Plan | None) -> list[str]:
    problems = []

    def at(loc: tuple, message: str) -> None:
        problems.append(f"{path}:{lines.line(loc)}: {message}")

    if checklist.name != path.stem:
        at(("name",), f"name {checklist.name!r} must be the file's name, {path.stem!r}")
    if checklist.ticks is not None and plan is not None:
        problem = _ticks_problem(plan, checklist.ticks)
        if problem:
            at(("ticks",), problem)
    allowed = PLAN_PARAMS | (TYPE_PARAMS if checklist.per_type else frozenset())
    for i, item in enumerate(checklist.items):
        for problem in _sql_problems(item.check or "", allowed, checklist.per_type):
            at(("items", i, "check"), f"item {item.id!r}: {problem}")
        if item.judge and not checklist.per_type:
            at(("items", i, "judge"), f"item {item.id!r}: `judge` judges one data type; it needs per_type: true")
    return problems


def _ticks_problem(plan: Plan, ticks: Ticks) -> str | None:
    phase = next((p for p in plan.phases if p.id == ticks.phase), None)
    step = next((s for s in phase.steps if s.id == ticks.step), None) if phase else None
    if step is None:
        return f"ticks: phases.yaml has no step {ticks.step!r} in phase {ticks.phase}"
    if step.kind != "manual":
        return (f"ticks: step {ticks.step!r} of phase {ticks.phase} is a {step.kind} step; "
                "a checklist ticks only manual steps (manual: true)")
    return None


def _sql_problems(sql: str, allowed: frozenset[str], per_type: bool) -> list[str]:
    problems = []
    for m in PERCENT.finditer(sql):
        if m.group(1) is None:
            problems.append("a literal percent sign is written %% (checks run with named parameters)")
        elif m.group(2) is not None and m.group(2) not in allowed:
            extra = "" if per_type else " (per-type parameters need per_type: true)"
            problems.append(f"unknown parameter %({m.group(2)})s{extra}; available: {', '.join(sorted(allowed))}")
    control = TX_CONTROL.search(NOT_STATEMENTS.sub(" ", sql))
    if control:
        problems.append(f"{control.group(1).upper()}: a check must not control the transaction "
                        "(the runner always rolls it back)")
    return problems


# -- parameters ------------------------------------------------------------------------------

def check_params(plan: Plan, checklist: Checklist, data_type: str | None) -> dict:
    """The bind parameters of the checklist's checks; refuses a missing, unknown or stray --type."""
    known = [d.name for d in plan.data_types]
    if checklist.per_type and data_type not in known:
        what = "needs --type" if data_type is None else f"has no data type {data_type!r}"
        raise ToolkitError(f"checklist {checklist.name} is per type and {what}", hint=f"one of: {', '.join(known)}")
    if not checklist.per_type and data_type is not None:
        raise ToolkitError(f"checklist {checklist.name} is not per type; drop --type {data_type}")
    monitor = plan.settings.monitor
    params = {
        "data_types": known,
        "deployable_steps": json.dumps({str(p.id): [s.id for s in plan.deployable(p)] for p in plan.phases}),
        "max_queue_depth": monitor.max_queue_depth, "min_success_rate": monitor.min_success_rate,
        "max_stale_share": monitor.max_stale_share,
    }
    if checklist.per_type:
        params.update(_type_params(next(d for d in plan.data_types if d.name == data_type)))
    return params


def _type_params(dt: DataType) -> dict:
    return {"data_type": dt.name, "flag": dt.flag, "legacy_job": dt.legacy_job, "legacy_schedule": dt.legacy_schedule,
            "legacy_interval_seconds": cron_period_seconds(dt.legacy_schedule), "table": dt.table,
            "key_column": dt.key_column, "timestamp_column": dt.timestamp_column, "ttl_seconds": dt.ttl_seconds}


def cron_period_seconds(schedule: str) -> int:
    """At most how long a cron schedule waits between runs, from its coarsest restricted field
    ("0 3 * * *": a day, "*/5 * * * *": five minutes): enough to tell a leftover from new work."""
    minute, hour, day, month, weekday = (schedule.split() + ["*"] * 5)[:5]
    if day != "*" or month != "*":
        return 31 * 86400
    if weekday != "*":
        return 7 * 86400
    for field, unit, whole in ((hour, 3600, 86400), (minute, 60, 3600)):
        if field.startswith("*/") and field[2:].isdigit():
            return int(field[2:]) * unit
        if field != "*":
            return whole
    return 60


def fill(text: str, params: dict) -> str:
    """An item's text with the run's parameters filled in (for display)."""
    return re.sub(r"%\((\w+)\)s", lambda m: str(params.get(m.group(1), m.group(0))), text)


# -- results ---------------------------------------------------------------------------------



def latest_results(conn: "psycopg.Connection") -> dict[tuple[str, str | None], str]:
    """The result of the newest finished run per (checklist, data type); {} before any run."""
    if not ledger.exists(conn, "toolkit.checklist_runs"):
        return {}
    return {(name, data_type): result for name, data_type, result in conn.execute(query("latest", FILE_Q))}


def results_on(target: Target) -> dict[tuple[str, str | None], str]:
    with connect(target, autocommit=True) as conn, database_errors():
        return latest_results(conn)


def describe(checklist: Checklist, results: dict[tuple[str, str | None], str] | None) -> dict:
    """One checklist as `checklist list` shows it; `results` None: the database was not read."""
    results = results or {}
    by_type = {t: r for (name, t), r in results.items() if name == checklist.name and t is not None}
    return {
        "name": checklist.name, "title": checklist.title, "per_type": checklist.per_type,
        "automated": sum(not i.manual for i in checklist.items), "manual": sum(i.manual for i in checklist.items),
        "ticks": checklist.ticks.model_dump() if checklist.ticks else None,
        "last_result": None if checklist.per_type else results.get((checklist.name, None)),
        "last_results_by_type": by_type if checklist.per_type else {},
    }


def outcome(results: list[str | None]) -> str:
    """A finished run's result from its items' answers (None: unanswered): pass only when every
    item passed; a skipped, inconclusive or pending item leaves it incomplete."""
    if "fail" in results:
        return "fail"
    if results and all(r == "pass" for r in results):
        return "pass"
    return "incomplete"


RUN_FIELDS = ("run_id", "checklist", "data_type", "started_by", "started_at", "finished_at", "result")


def show_run(root: Path, plan: Plan, target: Target, run_id: int | None = None) -> dict:
    """A recorded run (the newest without `run_id`): its items in the checklist's order, with
    their answers, notes and evidence."""
    with connect(target, autocommit=True) as conn, database_errors():
        row = None
        if ledger.exists(conn, "toolkit.checklist_runs"):
            row = conn.execute(query("newest_run" if run_id is None else "run", FILE_Q), {"id": run_id}).fetchone()
        if row is None:
            raise ToolkitError(f"there is no checklist run {run_id} on {target.describe()}" if run_id is not None
                               else f"no checklist has been run on {target.describe()}",
                               hint="`toolkit checklist run NAME` records one; `toolkit checklist list` shows the last results")
        run = dict(zip(RUN_FIELDS, row))
        answers = {r[0]: dict(zip(ANSWER_FIELDS, r)) for r in conn.execute(query("answers", FILE_Q), {"id": run["run_id"]})}
    run["title"], items = run["checklist"], []
    try:
        checklist = load(root, run["checklist"], plan)
        params = check_params(plan, checklist, run["data_type"])
        run["title"] = checklist.title
        items = [_entry(i, answers.pop(i.id, None), params) for i in checklist.items]
    except ToolkitError:
        pass  # the file changed or went away since: the stored answers still tell what happened
    items += [{"id": item_id, "text": "(not in the checklist file any more)", "kind": None,
               **{k: a[k] for k in ANSWER_FIELDS[1:]}, "earlier": False} for item_id, a in answers.items()]
    return {**run, "items": items}


# -- running ---------------------------------------------------------------------------------

Ask = Callable[[Item], "tuple[str, str | None] | None"]
Report = Callable[[dict], None]


class BadCheck(Exception):
    """A check ran but did not return one (ok boolean, evidence) row."""


ANSWER_FIELDS = ("item_id", "result", "note", "evidence", "answered_by", "answered_at")


class Runner:
    """Runs checklists against one target as one actor."""

    def __init__(self, plan: Plan, target: Target, actor: str, context: "CheckContext | None" = None):
        self.plan = plan
        self.target = target
        self.actor = actor
        self.context = context  # what `run:` items need beyond the database (toolkit.checks)

    def run(self, checklist: Checklist, data_type: str | None = None, *, resume: bool = False,
            restart: bool = False, ask: Ask | None = None, report: Report | None = None) -> dict:
        """Start (or with `resume`, continue) a run. `ask` None: non-interactive, manual items stay
        pending and the run finishes incomplete. `ask` returning None stops the run unfinished."""
        params = check_params(self.plan, checklist, data_type)
        if resume and restart:
            raise ToolkitError("pass --resume or --restart, not both")
        with connect(self.target, autocommit=True) as conn, database_errors():
            ledger.install(conn)
            run_id, resumed = self._open(conn, checklist, data_type, resume, restart)
            answers = {r[0]: dict(zip(ANSWER_FIELDS, r)) for r in conn.execute(query("answers", FILE_Q), {"id": run_id})}
            self._canary = None
            stopped = self._walk(conn, run_id, checklist, params, answers, ask, report or (lambda entry: None))
            result = None
            if not stopped:
                result = outcome([answers.get(i.id, {}).get("result") for i in checklist.items])
                conn.execute(query("finish", FILE_Q), {"id": run_id, "result": result})
        return {"run_id": run_id, "checklist": checklist.name, "title": checklist.title, "data_type": data_type,
                "resumed": resumed, "stopped": stopped, "result": result,
                "items": [_entry(i, answers.get(i.id), params) for i in checklist.items]}

    def _open(self, conn, checklist: Checklist, data_type: str | None, resume: bool, restart: bool) -> tuple[int, bool]:
        key = {"checklist": checklist.name, "data_type": data_type}
        row = conn.execute(query("unfinished", FILE_Q), key).fetchone()
        if row and resume:
            return row[0], True
        if row and restart:
            conn.execute(query("finish", FILE_Q), {"id": row[0], "result": "incomplete"})
        elif row:
            label = checklist.name + (f" --type {data_type}" if data_type else "")
            raise ToolkitError(
                f"run {row[0]} of {label} is unfinished: started by {row[1]} at {row[2]:%Y-%m-%d %H:%M %Z}, "
                f"{row[3]} of {len(checklist.items)} item(s) answered",
                hint="pass --resume to continue it, or --restart to close it as incomplete and start over")
        return conn.execute(query("start", FILE_Q), {**key, "actor": self.actor}).fetchone()[0], False

    def _walk(self, conn, run_id: int, checklist: Checklist, params: dict, answers: dict,
              ask: Ask | None, report: Report) -> bool:
        """Answer the unanswered items in order, storing each at once; True when stopped early."""
        for item in checklist.items:
            earlier = item.id in answers
            if not earlier:
                if item.manual and ask is None:
                    report(_entry(item, None, params))  # pending: for an interactive run
                    continue
                if item.manual:
                    answer = self._ask(item, params, ask)
                elif item.judge:
                    answer = self._judge(conn, item, params["data_type"])
                elif item.run is not None:
                    answer = self._run(item)
                else:
                    answer = self._check(conn, item, params)
                if answer is None:
                    return True
                row = conn.execute(query("answer", FILE_Q), {"run_id": run_id, "item_id": item.id, "actor": self.actor, **answer})
                answers[item.id] = dict(zip(ANSWER_FIELDS, row.fetchone()))
            report({**_entry(item, answers[item.id], params), "earlier": earlier})
        return False

    @staticmethod
    def _ask(item: Item, params: dict, ask: Ask) -> dict | None:
        reply = ask(item.model_copy(update={"text": fill(item.text, params)}))
        if reply is None:
            return None
        result, note = reply
        if result not in ANSWERS:
            raise ToolkitError(f"{result!r} is not an answer; one of: {', '.join(ANSWERS)}")
        return {"result": result, "note": note or None, "evidence": None}

    def _judge(self, conn: "psycopg.Connection", item: Item, data_type: str) -> dict:
        """The monitor's own judgement of one criterion (measured once per run)."""
        import psycopg

        if self._canary is None:
            dt = next(d for d in self.plan.data_types if d.name == data_type)
            try:
                self._canary = {c["criterion"]: c for c in canary.assess(conn, self.plan, dt)["criteria"]}
            except psycopg.Error as exc:  # as for a check: the item fails, naming the error
                error = f"error: {sql_error_message(exc)}"
                self._canary = {c: {"result": "fail", "evidence": error} for c in canary.CRITERIA}
        judged = self._canary[item.judge]
        return {"result": judged["result"], "note": None, "evidence": judged["evidence"]}

    def _run(self, item: Item) -> dict:
        from toolkit.checks import run_builtin

        ok, evidence = run_builtin(item.run, self.context)
        return {"result": "pass" if ok else "fail", "note": None, "evidence": evidence}

    def _check(self, conn: "psycopg.Connection", item: Item, params: dict) -> dict:
        """Run an automated item in a transaction that is always rolled back; an error fails it."""
        import psycopg

        timeouts = self.plan.settings.timeouts
        try:
            with conn.transaction(force_rollback=True):
                conn.execute(query("check_session", FILE_Q), {"lock_timeout": timeouts.lock_timeout,
                                               "statement_timeout": timeouts.statement_timeout, "actor": self.actor})
                cur = psycopg.ClientCursor(conn)
                cur.execute(item.check, params)
                while cur.nextset():
                    pass  # the last statement's row is the verdict
                ok, evidence = _verdict(cur)
        except psycopg.Error as exc:
            return {"result": "fail", "note": None, "evidence": f"error: {sql_error_message(exc)}"}
        except BadCheck as exc:
            return {"result": "fail", "note": None, "evidence": f"bad check: {exc}"}
        return {"result": "pass" if ok else "fail", "note": None, "evidence": evidence}


def _verdict(cur) -> tuple[bool, str | None]:
    if cur.description is None:
        raise BadCheck("its last statement returns no rows; it must SELECT ok, evidence")
    names = [c.name for c in cur.description]
    if "ok" not in names or "evidence" not in names:
        raise BadCheck(f"it returns columns {', '.join(names)}; it must return ok and evidence")
    rows = cur.fetchall()
    if len(rows) != 1:
        raise BadCheck(f"it returns {len(rows)} rows; it must return exactly one")
    row = dict(zip(names, rows[0]))
    if not isinstance(row["ok"], bool):
        raise BadCheck(f"ok is {row['ok']!r}; it must be true or false (evidence: {row['evidence']})")
    return row["ok"], None if row["evidence"] is None else str(row["evidence"])


def _entry(item: Item, answer: dict | None, params: dict) -> dict:
    answer = answer or {}
    return {"id": item.id, "text": fill(item.text, params), "kind": item.kind, "result": answer.get("result"),
            "evidence": answer.get("evidence"), "note": answer.get("note"),
            "answered_by": answer.get("answered_by"), "answered_at": answer.get("answered_at"), "earlier": False}
