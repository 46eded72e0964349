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
