"""A database the previous release deployed is brought to this plan by `phase upgrade`, through
the real upgrade scripts of every step this release revised: no step reads as drift, every
row is kept, the queue works under its new revisions, and every phase verifies."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml

from tests.conftest import Cli
from tests.test_upgrade import _fill, _rows
from toolkit.config import load_plan


def _previous_release(project: Path, dest: Path) -> Path:
    """A copy of the plan as the previous release had it: every revised step at revision 1 (its
    frozen copy in r1/ made the step's scripts again), no revision history."""
    shutil.copytree(project, dest)
    plan = yaml.safe_load((dest / "phases.yaml").read_text())
    for phase in plan["phases"]:
        for step in phase["steps"]:
            if step.pop("revisions", None) is None:
                continue
            folder = dest / "templates" / "sql" / step["sql"]
            for script in ("deploy.sql", "revert.sql", "verify.sql"):
                shutil.copy(folder / "r1" / script, folder / script)
            for old in ("r1", "upgrade", "down"):
                shutil.rmtree(folder / old, ignore_errors=True)
    (dest / "phases.yaml").write_text(yaml.safe_dump(plan, sort_keys=False))
    return dest / "phases.yaml"


def _as_the_previous_release_recorded_it(db, plan_file: Path) -> None:
    """What that release's ledger held: no catalog fingerprint (it took none), and, for steps
    that read the plan's values, a checksum over all of its settings (which this release added
    to, so no checksum of today's plan can match it)."""
    reads_values = [(p.id, s.id) for p in load_plan(plan_file).plan.phases for s in p.sql_steps
                    if "toolkit.param(" in (plan_file.parent / "templates/sql" / s.sql / "deploy.sql").read_text()]
    assert reads_values, "some steps read the plan's values"
    db.execute("UPDATE toolkit.ledger SET objects = NULL")
    for phase, step in reads_values:
        db.execute("UPDATE toolkit.ledger SET checksum = 'over the previous release''s settings' "
                   "WHERE phase = %s AND step = %s", [phase, step])


def test_the_previous_release_upgrades_to_this_one_keeping_every_row(db, project, tmp_path):
    previous = _previous_release(project, tmp_path / "previous")
    assert Cli(db, previous)("phase", "apply", "0..3").exit_code == 0
    _fill(db)
    before = _rows(db)
    _as_the_previous_release_recorded_it(db, previous)

    cli = Cli(db, project / "phases.yaml")
    revised = {(p.id, s.id) for p in load_plan(project / "phases.yaml").plan.phases for s in p.sql_steps
               if s.revision > 1}
    assert revised, "this release revises steps"
    for phase in range(4):
        planned = cli("--json", "phase", "plan", str(phase))
        states = {s["step"]: s for s in json.loads(planned.stdout)}
        assert planned.exit_code == 0, [s for s in states.values() if s["state"] == "drift"]
        for (p, step), s in ((k, states[k[1]]) for k in revised if k[0] == phase):
            assert s["state"] == "upgradable" and s["upgrade"], (step, s)

    upgraded = cli("--json", "phase", "upgrade", "all")
    assert upgraded.exit_code == 0, upgraded.output
    assert _rows(db) == before
    newest = {(p.id, s.id): s.revision for p in load_plan(project / "phases.yaml").plan.phases for s in p.sql_steps}
    assert {(p, s): r for p, s, r in db.rows("SELECT phase, step, revision FROM toolkit.ledger")} == {
        k: v for k, v in newest.items() if k[0] <= 3 and (k[0], k[1]) in {(p, s) for p, s, _ in db.rows(
            "SELECT phase, step, revision FROM toolkit.ledger")}}
    assert all(db.scalar("SELECT revision FROM toolkit.ledger WHERE phase = %s AND step = %s", [p, s]) == newest[(p, s)]
               for p, s in revised if p <= 3)
    for phase in ("0", "1", "2", "3"):
        verified = cli("phase", "verify", phase)
        assert verified.exit_code == 0, verified.output

    # The queue under its new revisions: a claim hands out a lease, which completion takes.
    with db.connect(autocommit=True) as conn:
        conn.execute("SET ROLE service_role")
        claimed = conn.execute("SELECT id, lease FROM public.get_queue_batch_v2('after-release', 2)").fetchall()
        assert claimed and all(lease is not None for _, lease in claimed)
        done = conn.execute("SELECT public.complete_queue_jobs_v2(%s, %s, %s)",
                            [[i for i, _ in claimed], [lease for _, lease in claimed], [1000] * len(claimed)]).fetchall()
        assert len(done) == len(claimed)


def test_the_ring_upgrade_to_slots_of_125_ms_keeps_the_calls_it_counts(db, project, tmp_path):
    # api_data_usage as revision 5 made it (slots of 250 ms), with 7 calls just permitted.
    before = tmp_path / "before"
    shutil.copytree(project, before)
    step = before / "templates/sql/phase2/api_data_usage"
    for script in ("deploy.sql", "revert.sql", "verify.sql", "phase2/api_data_usage/functions.sql"):
        shutil.copy(step / "r5" / script, step / script.replace("phase2/api_data_usage/", ""))
    shutil.rmtree(step / "r5")
    (step / "upgrade/5-6.sql").unlink()
    released = step / "upgrade/4-5.sql"
    released.write_text(released.read_text().replace("phase2/api_data_usage/r5/", ""))
    plan = yaml.safe_load((before / "phases.yaml").read_text())
    [usage] = [s for p in plan["phases"] for s in p["steps"] if s["id"] == "api_data_usage"]
    usage["revisions"] = [r for r in usage["revisions"] if r["rev"] < 6]
    (before / "phases.yaml").write_text(yaml.safe_dump(plan, sort_keys=False))
    applied = Cli(db, before / "phases.yaml")("phase", "apply", "0..2")
    assert applied.exit_code == 0, applied.output
    assert db.scalar("SELECT ring_slot_ms FROM public.api_quota_state_v2") == 250
    db.execute("UPDATE public.api_quota_state_v2 "
               "SET ring_epoch = floor(extract(epoch FROM clock_timestamp()) * 1000 / ring_slot_ms)::bigint")
    db.execute("UPDATE public.api_quota_state_v2 "
               "SET call_ring[1] = 7, call_ring[(ring_epoch % (cardinality(call_ring) - 1))::integer + 2] = 7")

    upgraded = Cli(db, project / "phases.yaml")("phase", "upgrade", "2")
    assert upgraded.exit_code == 0, upgraded.output
    # The new layout: 125 ms slots over window + slack, the 7 calls in the slot of now, still counted.
    assert db.rows("SELECT ring_slot_ms, cardinality(call_ring) FROM public.api_quota_state_v2") == \
        [(125, db.scalar("SELECT ceil((call_window_seconds * 1000 + call_slack_ms) / 125.0)::integer + 2 "
                         "FROM public.queue_config_v2"))]
    ring = db.scalar("SELECT call_ring FROM public.api_quota_state_v2")
    assert ring[0] == 7 and sorted(ring[1:])[-1] == 7 and sum(ring[1:]) == 7, ring
    assert db.scalar("SELECT public.get_quota_status_v2() ->> 'calls_used'") == "7"
