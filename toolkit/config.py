"""phases.yaml: the rollout plan, validated on load with file:line messages."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationInfo, field_validator, model_validator

from toolkit.errors import ConfigError
from toolkit.final import Deployed, moved_url
from toolkit.names import Names, effective
from toolkit.rules import PRIORITY_MAX, PRIORITY_MIN
from toolkit.states import DEPLOYED_KINDS
from toolkit.yamlfile import Lines, load_model

IDENT = r"^[a-z_][a-z0-9_]{0,62}$"
SCRIPTS = ("deploy.sql", "revert.sql", "verify.sql")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Quotas(Strict):
    # The provider's rate limit: calls_per_window calls in any call_window_seconds.
    calls_per_window: int = Field(300, gt=0)
    call_window_seconds: int = Field(60, gt=0, le=3600)
    # The longest a call may take to reach the provider after its permit, in milliseconds (the
    # processor does not call later than half of it); the budget counts it as part of the
    # window, so a call holds the budget window + slack (+ at most a 250 ms slot of the ring).
    # A second: the permit's answer has 500 ms to reach the processor (a round trip to the
    # database in the same region takes a few ms), the request 500 ms to reach the provider (one
    # way across a continent takes tens of ms, a new TLS connection a few hundred). Half a second
    # was too little on a loaded machine: the provider saw 75 calls in a window of 60.
    call_slack_ms: int = Field(1000, ge=10, le=60_000)
    # The slack in whole seconds (rounded up), as the revisions of the budget before
    # api_data_usage 5 counted it; their scripts, which upgrades still run, read it. Derived from
    # call_slack_ms; a plan written before the milliseconds, which sets only this, keeps its
    # meaning (call_slack_ms = 1000 x it).
    call_slack_seconds: int | None = Field(None, ge=1, le=60)
    # Its bandwidth cap: bytes_per_window bytes in any trailing window_days.
    bytes_per_window: int = Field(20_000_000_000, gt=0)
    window_days: int = Field(30, gt=0)

    @model_validator(mode="after")
    def _whole_seconds_of_the_slack(self) -> "Quotas":
        if self.call_slack_seconds is not None and "call_slack_ms" not in self.model_fields_set:
            object.__setattr__(self, "call_slack_ms", self.call_slack_seconds * 1000)
        seconds = max(1, -(-self.call_slack_ms // 1000))
        if self.call_slack_seconds is not None and self.call_slack_seconds != seconds:
            raise ValueError(f"call_slack_seconds is derived from call_slack_ms ({seconds} for "
                             f"{self.call_slack_ms} ms): remove it, set call_slack_ms")
        object.__setattr__(self, "call_slack_seconds", seconds)
        return self


class Queue(Strict):
    stuck_timeout_seconds: int = Field(300, gt=0)
    max_attempts: int = Field(5, gt=0)
    backoff_base_seconds: float = Field(30, gt=0)
    backoff_max_seconds: float = Field(3600, gt=0)
    claim_retries: int = Field(5, ge=0)
    estimate_sample_rate: float = Field(0.1, ge=0, le=1)
    completed_retention_hours: float = Field(72, gt=0)
    failed_retention_days: float = Field(30, gt=0)
    maintenance_batch_size: int = Field(5000, gt=0)


class Staleness(Strict):
    subscription_ttl_seconds: int = Field(120, gt=0)
    scheduled_min_interval_seconds: int = Field(300, ge=0)
    scheduled_max_jobs: int = Field(50, gt=0)
    background_sample_percent: float = Field(10, gt=0, le=100)
    min_quota_headroom: float = Field(0.5, ge=0, le=1)
    queue_chunk_symbols: int = Field(500, gt=0)
    track_rate_limit_per_minute: int = Field(30, gt=0)


class Monitor(Strict):
    """The bake's canary analysis: thresholds over a window of the type's recent work."""

    window_minutes: int = Field(60, gt=0)
    min_jobs: int = Field(10, ge=0)              # fewer finished jobs in the window: inconclusive
    min_success_rate: float = Field(0.95, ge=0, le=1)
    max_queue_depth: int = Field(500, ge=0)
    max_stale_share: float = Field(0.2, ge=0, le=1)
    max_errors: int = Field(5, ge=0)


class Breaker(Strict):
    """The processor's circuit breaker: it judges runs, never a single failed call."""

    failure_threshold: int = Field(5, gt=0)       # failed runs in a row that open it
    error_rate: float = Field(0.5, gt=0, le=1)    # ... or this share of failed calls ...
    window_seconds: int = Field(300, gt=0)        # ... over this window ...
    min_calls: int = Field(20, gt=0)              # ... once it holds at least this many calls
    open_seconds: float = Field(60, gt=0)         # open this long, then a half-open probe ...
    probe_calls: int = Field(5, gt=0)             # ... of at most this many provider calls


class Processor(Strict):
    """How a start of the queue processor (pg_cron's through pg_net, or the external ticker's) runs."""

    # continuous: the run takes new jobs for run_seconds, waiting for new due jobs when the
    # queue is empty, then hands over to the next start; once: the run drains what is due and
    # returns (the old once-a-minute behaviour).
    drain: Literal["continuous", "once"] = "continuous"
    # A continuous run's time for taking jobs (it then finishes what it holds, one provider
    # timeout at most). The next start takes over when it ends: at least the schedule's
    # interval, and within the platform's wall clock (150 s on the free plan, waiting for the
    # handover and the last calls included).
    run_seconds: int = Field(60, ge=10, le=110)
    # How often an idle continuous run looks for new due jobs (one indexed read).
    idle_poll_ms: int = Field(200, ge=20, le=5000)


class Locks(Strict):
    presence_check: int = 42
    scheduled_refresh: int = 43
    processor_loop: int = 44
    apply: int = 4_244_001
    migration: int = 4_244_003


class Timeouts(Strict):
    lock_timeout: str = Field("5s", pattern=r"^\d+(ms|s|min)$")
    statement_timeout: str = Field("5min", pattern=r"^\d+(ms|s|min|h)$")
    apply_lock_wait_seconds: float = Field(5.0, ge=0)


class Docs(Strict):
    """The Phase 0 documents `toolkit docs render` writes into the workspace."""

    dir: str = Field("docs/rollout", pattern=r"^[A-Za-z0-9_.][A-Za-z0-9_./-]*$")   # relative to the workspace
    # The project's functions URL the external probes call; default: the target's
    # (https://<ref>.supabase.co/functions/v1 for a Supabase project, else the local gateway).
    functions_url: str = Field("", pattern=r"^(https?://\S+)?$")
    probe_interval_minutes: int = Field(5, ge=5, le=60)   # GitHub Actions and UptimeRobot: 5 at most


class Settings(Strict):
    suffix: str = Field("_v2", pattern=r"^(_[a-z0-9]+)?$")
    quotas: Quotas = Quotas()
    queue: Queue = Queue()
    staleness: Staleness = Staleness()
    breaker: Breaker = Breaker()
    processor: Processor = Processor()
    locks: Locks = Locks()
    timeouts: Timeouts = Timeouts()
    schedules: dict[str, str] = {}
    # Default: the local gateway's URL of the plan's queue-processor function.
    processor_url: str = Field("", pattern=r"^(https?://\S+)?$")
    market_data_base_url: str = "https://financialmodelingprep.com/stable"
    # Who starts the queue processor: pg_cron through pg_net ("postgres"), or an external
    # ticker ("external"). On a Supabase project, where pg_net exists, hosted_scheduler_mode.
    scheduler_mode: Literal["postgres", "external"] = "external"
    hosted_scheduler_mode: Literal["postgres", "external"] = "postgres"
    bake_hours: float = Field(24, gt=0)
    monitor: Monitor = Monitor()
    docs: Docs = Docs()

    @model_validator(mode="after")
    def _default_processor_url(self) -> "Settings":
        if not self.processor_url:
            slug = Names(self.suffix).slug("queue-processor")
            object.__setattr__(self, "processor_url", f"http://127.0.0.1:54331/functions/v1/{slug}")
        return self


class DataType(Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    table: str = Field(pattern=IDENT)
    key_column: str | None = Field(pattern=IDENT)
    timestamp_column: str = Field(pattern=IDENT)
    ttl_seconds: int = Field(gt=0)
    priority: int = Field(ge=PRIORITY_MIN, le=PRIORITY_MAX)
    estimated_bytes: int = Field(ge=0)
    endpoints: list[str] = Field(min_length=1)
    strategy: Literal["on-demand", "scheduled"]
    legacy_job: str
    legacy_schedule: str
    flag: str | None = Field(None, pattern=IDENT)

    @model_validator(mode="after")
    def _default_flag(self) -> "DataType":
        if self.flag is None:
            object.__setattr__(self, "flag", "use_queue_for_" + self.name.replace("-", "_"))
        return self


StepKind = Literal["sql", "edge", "check", "manual", "doc", "frontend"]
KINDS = ("sql", "edge", "check", "doc", "frontend")
# How a live database reaches a revision from the one before (templates/README.md):
# redeploy: the new deploy.sql runs again (replaceable objects), after upgrade/<k-1>-<k>.sql if any;
# script: upgrade/<k-1>-<k>.sql alone (tables); none: nothing runs (a change to comments only).
UpgradeKind = Literal["redeploy", "script", "none"]


class Revision(Strict):
    """A revision of a step after its first (revision 1 is the step as first released)."""

    rev: int = Field(ge=2)
    upgrade: UpgradeKind
    why: str = Field(min_length=1)


class Step(Strict):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    # The PROGRESS.md task line the step ticks; none for steps the document does not list.
    task: str | None = Field(None, min_length=1)
    subtasks: list[str] = []
    sql: str | None = Field(None, pattern=r"^[A-Za-z0-9_/.-]+$")
    edge: str | None = None
    check: str | None = None
    doc: str | None = None
    # The app-side module of frontend/ the step renders into the workspace and tests (toolkit.frontend).
    frontend: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]+\.ts$")
    manual: bool = False
    transaction: bool = True
    planned: str | None = Field(None, min_length=1)
    # A step that belongs to one scheduler mode only; in the other it is not applicable.
    when: str | None = Field(None, pattern=r"^scheduler_mode == (postgres|external)$")
    # The revisions after the first, oldest first (an sql step only).
    revisions: list[Revision] = []

    @model_validator(mode="after")
    def _one_kind(self) -> "Step":
        kinds = [k for k in KINDS if getattr(self, k)]
        if self.manual:
            kinds.append("manual")
        if len(kinds) != 1:
            raise ValueError(
                f"step {self.id!r} needs exactly one of sql, edge, check, doc, frontend or manual: true "
                f"(found {', '.join(kinds) or 'none'})"
            )
        if self.revisions and kinds != ["sql"]:
            raise ValueError(f"step {self.id!r}: only sql steps have revisions")
        numbers = [r.rev for r in self.revisions]
        if numbers != list(range(2, len(numbers) + 2)):
            raise ValueError(f"step {self.id!r}: revisions are numbered 2, 3, ... in order (found {numbers})")
        return self

    @property
    def revision(self) -> int:
        """The newest revision: what a fresh database gets."""
        return 1 + len(self.revisions)

    def revision_entry(self, rev: int) -> Revision:
        return self.revisions[rev - 2]

    @property
    def kind(self) -> StepKind:
        for k in KINDS:
            if getattr(self, k):
                return k  # type: ignore[return-value]
        return "manual"

    @property
    def available(self) -> bool:
        return self.planned is None

    @property
    def deployable(self) -> bool:
        """Applied by the engine (the other kinds are confirmed by checklists or other commands)."""
        return self.kind in DEPLOYED_KINDS and self.available

    def applies(self, settings: "Settings") -> bool:
        """Whether the step belongs to the plan's scheduler mode (see `when`)."""
        return self.when is None or self.when.rsplit(" ", 1)[1] == settings.scheduler_mode


class Phase(Strict):
    id: int = Field(ge=0)
    title: str
    requires: list[int] = []
    target: str | None = None
    steps: list[Step] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_steps(self) -> "Phase":
        seen: set[str] = set()
        for step in self.steps:
            if step.id in seen:
                raise ValueError(f"step id {step.id!r} appears twice in phase {self.id}")
            seen.add(step.id)
        return self

    def step(self, step_id: str) -> Step:
        return next(s for s in self.steps if s.id == step_id)

    @property
    def deployable_steps(self) -> list[Step]:
        return [s for s in self.steps if s.deployable]

    @property
    def sql_steps(self) -> list[Step]:
        """The built SQL steps: what has revisions, a lock entry and an exported migration."""
        return [s for s in self.deployable_steps if s.kind == "sql"]

    @property
    def planned_steps(self) -> list[Step]:
        return [s for s in self.steps if not s.available]


class Plan(Strict):
    version: Literal[1]
    settings: Settings = Settings()
    data_types: list[DataType] = Field(min_length=1)
    phases: list[Phase] = Field(min_length=1)
    # What Phase 6 has changed on the target (toolkit.final); nothing for the plan as written.
    _deployed: Deployed = PrivateAttr(default_factory=Deployed)

    @field_validator("data_types")
    @classmethod
    def _data_tables(cls, data_types: list[DataType], info: ValidationInfo) -> list[DataType]:
        """A data type's table is the app's: never one the rollout creates (the staleness checks
        read the table the registry names, so the registry may name data tables only)."""
        settings = info.data.get("settings")
        own = Names(settings.suffix if settings else Settings().suffix).own_relations
        for d in data_types:
            if d.table in own:
                raise ValueError(f"data type {d.name}: table {d.table} is one of the rollout's own tables; "
                                 "a data type's table is the app's table its data is kept in")
        return data_types

    @model_validator(mode="after")
    def _cross_checks(self) -> "Plan":
        names = [d.name for d in self.data_types]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise ValueError(f"data type names must be unique; repeated: {', '.join(sorted(dupes))}")
        ids = [p.id for p in self.phases]
        if ids != list(range(len(ids))):
            raise ValueError(f"phase ids must run 0, 1, 2, ... in order; found {ids}")
        for p in self.phases:
            late = [r for r in p.requires if r >= p.id]
            if late:
                raise ValueError(f"phase {p.id} requires {late}: a phase can only require earlier phases")
        return self

    @property
    def names(self) -> Names:
        """The names the plan's objects have on the target (after Phase 6: their base names)."""
        return effective(self.settings.suffix, self._deployed.renamed)

    @property
    def deployed(self) -> Deployed:
        return self._deployed

    def as_deployed(self, deployed: Deployed) -> "Plan":
        """The plan as it applies to a target where Phase 6 has done what `deployed` says."""
        plan = self.model_copy()
        plan._deployed = deployed
        return plan

    @property
    def flag_checks(self) -> bool:
        """Whether the system consults feature flags (until Phase 6's remove_flag_checks). The
        frontend module's flagless mode is this setting turned off."""
        return not self._deployed.flagless

    @property
    def processor_url(self) -> str:
        """settings.processor_url, following the queue-processor's slug once Phase 6 renamed it."""
        return moved_url(self.settings.processor_url, Names(self.settings.suffix), self.names)

    def for_target(self, hosted: bool) -> "Plan":
        """The plan as it applies to a target: a Supabase project takes hosted_scheduler_mode."""
        mode = self.settings.hosted_scheduler_mode if hosted else self.settings.scheduler_mode
        if mode == self.settings.scheduler_mode:
            return self
        return self.model_copy(update={"settings": self.settings.model_copy(update={"scheduler_mode": mode})})

    def deployable(self, phase: Phase) -> list[Step]:
        """What apply deploys of a phase in the plan's scheduler mode."""
        return [s for s in phase.deployable_steps if s.applies(self.settings)]

    def phase(self, phase_id: int) -> Phase:
        for p in self.phases:
            if p.id == phase_id:
                return p
        known = ", ".join(str(p.id) for p in self.phases)
        raise ConfigError([f"there is no phase {phase_id} in the plan (phases: {known})"])


class LoadedPlan:
    """The validated plan plus where it came from (for templates and messages)."""

    def __init__(self, plan: Plan, path: Path, templates: Path):
        self.plan = plan
        self.path = path
        self.templates = templates

    def step_folder(self, step: Step) -> Path:
        assert step.sql is not None
        return self.templates / "sql" / step.sql


def load_plan(path: Path, templates: Path | None = None) -> LoadedPlan:
    """Read and validate phases.yaml; every problem is reported as FILE:LINE: message."""
    if templates is None:
        from toolkit.project import Project

        templates = Project(root=path.parent, plan_file=path).templates  # beside the plan, else bundled
    plan, lines = load_model(path, Plan, "plan file (run from a project folder or pass --plan)")
    problems = _missing_scripts(plan, templates, path, lines)
    if problems:
        raise ConfigError(problems)
    return LoadedPlan(plan, path, templates)


def _missing_scripts(plan: Plan, templates: Path, path: Path, lines: Lines) -> list[str]:
    from toolkit import revisions

    problems = []
    for pi, phase in enumerate(plan.phases):
        for si, step in enumerate(phase.steps):
            if step.kind == "edge" and step.available:
                problems += _missing_function(step, templates, path, lines.line(("phases", pi, "steps", si, "edge")),
                                              f"phases.{pi}.steps.{si}.edge")
            if not step.deployable or step.kind != "sql":
                continue
            folder = templates / "sql" / (step.sql or "")
            missing = [name for name in SCRIPTS if not (folder / name).is_file()]
            if missing:
                line = lines.line(("phases", pi, "steps", si, "sql"))
                problems.append(
                    f"{path}:{line}: phases.{pi}.steps.{si}.sql: {folder} lacks {', '.join(missing)} "
                    f"(a step's folder holds deploy.sql, revert.sql and verify.sql; "
                    f"mark the step `planned: <why>` if it is not written yet)"
                )
            for problem in revisions.layout_problems(folder, step):
                line = lines.line(("phases", pi, "steps", si, "revisions"))
                problems.append(f"{path}:{line}: phases.{pi}.steps.{si}: {problem}")
    return problems


def _missing_function(step: Step, templates: Path, path: Path, line: int, where: str) -> list[str]:
    from toolkit.names import EDGE_FUNCTIONS

    if step.edge not in EDGE_FUNCTIONS:
        return [f"{path}:{line}: {where}: {step.edge!r} is not an Edge Function of the plan "
                f"(known: {', '.join(sorted(EDGE_FUNCTIONS))})"]
    entry = templates / "edge" / step.edge / "index.ts"
    if not entry.is_file():
        return [f"{path}:{line}: {where}: {entry} does not exist (mark the step `planned: <why>` until it does)"]
    return []


def parse_phase_selection(plan: Plan, text: str) -> list[int]:
    """'1', '0..2' or 'all' -> phase ids in order."""
    ids = [p.id for p in plan.phases]
    if text == "all":
        return ids
    m = re.fullmatch(r"(\d+)(?:\.\.(\d+))?", text.strip())
    if not m:
        raise ConfigError([f"phase must be a number, a range like 0..1, or 'all' (got {text!r})"])
    first = int(m.group(1))
    last = int(m.group(2)) if m.group(2) else first
    if first > last:
        raise ConfigError([f"phase range {text!r} runs backwards"])
    for pid in (first, last):
        plan.phase(pid)
    return list(range(first, last + 1))
