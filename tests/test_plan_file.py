"""phases.yaml: validation messages, and its agreement with the user's PROGRESS.md."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import ROOT, Cli
from toolkit.config import load_plan
from toolkit.errors import ConfigError
from toolkit.textfix import repair

SEED = ROOT / "tests/fixtures/PROGRESS.seed.md"


def _task_lines(text: str) -> list[str]:
    return [m.group(1) for m in re.finditer(r"^\s*- \[[ x]\] (.+?)\s*$", text, re.MULTILINE)]


def test_every_task_line_of_the_seed_document_is_a_step():
    plan = load_plan(ROOT / "phases.yaml").plan
    declared = [t for p in plan.phases for s in p.steps for t in (s.task, *s.subtasks) if t]
    seed = _task_lines(repair(SEED.read_text(encoding="utf-8")))
    assert sorted(set(seed)) == sorted(set(declared))
    # Sub-items repeat across sections ("FOR UPDATE SKIP LOCKED"); top-level tasks do not.
    tops = [s.task for p in plan.phases for s in p.steps if s.task]
    assert len(tops) == len(set(tops))


def test_data_types_follow_the_recommended_order():
    plan = load_plan(ROOT / "phases.yaml").plan
    seed = SEED.read_text(encoding="utf-8")
    order = re.findall(r"^\d+\. \*\*`([a-z-]+)`\*\*", seed, re.MULTILINE)
    assert [d.name for d in plan.data_types] == order


BROKEN = {
    "yaml syntax": ("version: 1\nsettings:\n  suffix: _v2\n   quotas: {}\n", r":4: not valid YAML"),
    "not a mapping": ("- just\n- a list\n", r":1: expected a mapping"),
    "missing field": (None, r":\d+: phases\.0\.title: required field is missing"),
    "unknown field": (None, r":\d+: phases\.0\.steps\.0\.sqll: unknown field"),
    "bad ttl": (None, r":\d+: data_types\.0\.ttl_seconds: Input should be greater than 0"),
    "bad kind": (None, r":\d+: phases\.0\.steps\.0: step 'feature_flags' needs exactly one of sql, edge, check"),
    "missing template": (None, r":\d+: phases\.0\.steps\.0\.sql: .* lacks deploy.sql"),
    "bad mode": (None, r":\d+: settings\.scheduler_mode: Input should be 'postgres' or 'external'"),
    "bad breaker rate": (None, r":\d+: settings\.breaker\.error_rate: Input should be less than or equal to 1"),
    "bad call slack": (None, r":\d+: settings\.quotas\.call_slack_ms: Input should be greater than or equal to 10"),
    "set derived slack": (None, r":\d+: settings\.quotas: .*call_slack_seconds is derived from call_slack_ms"),
}


def _mutate(kind: str, text: str) -> str:
    return {
        "missing field": lambda t: t.replace("    title: Safety Infrastructure\n", "", 1),
        "unknown field": lambda t: t.replace("sql: phase0/feature_flags}", "sqll: phase0/feature_flags}", 1),
        "bad ttl": lambda t: t.replace("ttl_seconds: 60,", "ttl_seconds: 0,", 1),
        "bad kind": lambda t: t.replace("sql: phase0/feature_flags}", "sql: phase0/feature_flags, manual: true}", 1),
        "missing template": lambda t: t.replace("sql: phase0/feature_flags}", "sql: phase0/nowhere}", 1),
        "bad mode": lambda t: t.replace("scheduler_mode: external", "scheduler_mode: sometimes", 1),
        "bad breaker rate": lambda t: t.replace("error_rate: 0.5 ", "error_rate: 1.5 ", 1),
        "bad call slack": lambda t: t.replace("call_slack_ms: 1000 ", "call_slack_ms: 0 ", 1),
        "set derived slack": lambda t: t.replace("call_slack_ms: 1000 ", "call_slack_ms: 1000\n    call_slack_seconds: 2 ", 1),
    }[kind](text)


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_malformed_plan_reports_file_and_line_and_exits_2(project: Path, kind: str):
    content, pattern = BROKEN[kind]
    plan = project / "phases.yaml"
    original = plan.read_text()
    plan.write_text(content if content is not None else _mutate(kind, original))
    assert plan.read_text() != original
    with pytest.raises(ConfigError) as err:
        load_plan(plan)
    assert re.search(re.escape(str(plan)) + pattern, str(err.value)), str(err.value)

    result = Cli(None, plan)("phase", "list")
    assert result.exit_code == 2
    assert str(plan) in result.stderr
    assert "Traceback" not in result.output


def test_missing_field_points_at_the_right_line(project: Path):
    plan = project / "phases.yaml"
    lines = plan.read_text().splitlines(keepends=True)
    bad = next(i for i, l in enumerate(lines) if "ttl_seconds: 86400, priority: 8" in l)
    lines[bad] = lines[bad].replace("ttl_seconds: 86400, ", "")
    plan.write_text("".join(lines))
    with pytest.raises(ConfigError) as err:
        load_plan(plan)
    line = int(re.search(r"phases\.yaml:(\d+): data_types\.1\.ttl_seconds", str(err.value)).group(1))
    # The message points into the profile entry (the mapping that lacks the field).
    assert abs(line - (bad + 1)) <= 2


def test_a_plan_written_with_the_slack_in_seconds_keeps_its_meaning(project: Path):
    plan = project / "phases.yaml"
    plan.write_text(plan.read_text().replace("call_slack_ms: 1000 ", "call_slack_seconds: 2 ", 1))
    quotas = load_plan(plan).plan.settings.quotas
    assert (quotas.call_slack_ms, quotas.call_slack_seconds) == (2000, 2)
