"""Released revisions are frozen: the lock file holds each one's checksum, and any edit of a
released revision's rendered SQL (or of a released toolkit schema migration) is refused with
what to do instead. No database needed."""

from __future__ import annotations

import shutil
import subprocess

import yaml

from tests.conftest import ROOT, Cli
from tests.revision_helpers import newest
from toolkit import revisions
from toolkit.config import load_plan


def test_every_released_revision_renders_as_it_was_released():
    problems = revisions.check(load_plan(ROOT / "phases.yaml"))
    assert not problems, "\n".join(problems)


def test_editing_a_released_revision_in_place_fails_the_check(project):
    cli = Cli(None, project / "phases.yaml")
    assert cli("revisions", "check").exit_code == 0
    k = newest(project, 1, "is_profile_stale")
    deploy = project / "templates/sql/phase1/is_profile_stale/deploy.sql"
    original = deploy.read_text()
    deploy.write_text(original + "-- only a comment, still a change\n")
    result = cli("revisions", "check")
    assert result.exit_code == 1
    assert (f"phase 1 step is_profile_stale revision {k} was released, but its rendered SQL changed "
            f"({project}/templates/sql/phase1/is_profile_stale/deploy.sql (or a template it imports)): a released "
            f"revision never changes. Make the change revision {k + 1} of the step: "
            "`toolkit revisions new 1 is_profile_stale --upgrade redeploy|script|none --why \"...\" --from-git <the "
            f"commit before the edit>` keeps the edit as revision {k + 1}") in " ".join(result.stdout.split())
    deploy.write_text(original)

    # A shared macro is part of every revision that imports it.
    macros = project / "templates/sql/_macros.sql"
    macros.write_text(macros.read_text().replace("SECURITY DEFINER\n", "SECURITY DEFINER\n\n"))
    changed = [p for p in revisions.check(load_plan(project / "phases.yaml"))]
    assert len(changed) > 5 and all("was released, but its rendered SQL changed" in p for p in changed)

    # So is each scheduler mode's rendering: the postgres-mode branch of a template too.
    shutil.copy(ROOT / "templates/sql/_macros.sql", macros)
    loop = project / "templates/sql/phase2/invoke_processor_loop/functions.sql"  # included by its deploy
    text = loop.read_text()
    assert "{%- if settings.scheduler_mode == 'postgres' %}" in text
    loop.write_text(text.replace("{%- if settings.scheduler_mode == 'postgres' %}",
                                 "{%- if settings.scheduler_mode == 'postgres' %}\n-- edited", 1))
    assert [p.split(" was released")[0] for p in revisions.check(load_plan(project / "phases.yaml"))] == [
        f"phase 2 step invoke_processor_loop revision {newest(project, 2, 'invoke_processor_loop')}"]


def test_a_released_toolkit_migration_is_frozen_too(project, monkeypatch, tmp_path):
    from toolkit import schema

    copy = tmp_path / "migrations"
    shutil.copytree(schema.MIGRATIONS_DIR, copy)
    (copy / "0001_initial.sql").write_text((copy / "0001_initial.sql").read_text() + "-- edited\n")
    monkeypatch.setattr(schema, "MIGRATIONS_DIR", copy)
    schema.migrations.cache_clear()
    try:
        problems = revisions.check(load_plan(project / "phases.yaml"))
    finally:
        schema.migrations.cache_clear()
    assert len(problems) == 1 and problems[0].startswith("toolkit schema migration 0001_initial was released")
    assert "add the change as the next numbered file" in problems[0]


def test_a_revision_made_after_the_scripts_were_edited_takes_the_released_one_from_git(project):
    git = ["git", "-C", str(project), "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "released"], check=True)
    k = newest(project, 1, "is_profile_stale")
    deploy = project / "templates/sql/phase1/is_profile_stale/deploy.sql"
    deploy.write_text(deploy.read_text() + "-- changed in place, as on another branch\n")
    plan_before = (project / "phases.yaml").read_text()
    cli = Cli(None, project / "phases.yaml")

    refused = cli("revisions", "new", "1", "is_profile_stale", "--upgrade", "redeploy", "--why", "a lease")
    assert refused.exit_code == 2
    assert f"the frozen copy of revision {k} does not render as the released revision {k} did" in refused.stderr
    assert "--from-git" in refused.stderr
    assert (project / "phases.yaml").read_text() == plan_before and not (deploy.parent / f"r{k}").exists()

    made = cli("revisions", "new", "1", "is_profile_stale", "--upgrade", "redeploy", "--why", "a lease", "--from-git", "HEAD")
    assert made.exit_code == 0, made.output
    frozen = deploy.parent / f"r{k}"
    assert sorted(p.relative_to(frozen).as_posix() for p in frozen.rglob("*.sql")) == [
        "_macros.sql", "deploy.sql", "revert.sql", "verify.sql"]
    step = next(s for p in yaml.safe_load((project / "phases.yaml").read_text())["phases"] for s in p["steps"]
                if s["id"] == "is_profile_stale")
    assert step["revisions"][-1] == {"rev": k + 1, "upgrade": "redeploy", "why": "a lease"}
    assert [p for p in revisions.check(load_plan(project / "phases.yaml"))] == [
        f"phase 1 step is_profile_stale revision {k + 1} is not released yet: run `toolkit revisions lock` to add it to "
        f"{project}/templates/sql/revisions.lock"]
    locked = cli("revisions", "lock")
    assert locked.exit_code == 0 and f"phase1/is_profile_stale revision {k + 1}" in locked.stdout
    assert cli("revisions", "check").exit_code == 0
    # The frozen copy keeps its own macros: a later change of the shared ones leaves it alone.
    macros = project / "templates/sql/_macros.sql"
    macros.write_text(macros.read_text().replace("}} TO service_role;", "}} TO  service_role;"))
    changed = [p.split(" was released")[0] for p in revisions.check(load_plan(project / "phases.yaml"))
               if "is_profile_stale" in p]
    assert changed == [f"phase 1 step is_profile_stale revision {k + 1}"]


def test_a_revision_the_step_folder_does_not_back_is_a_plan_error(project):
    plan = project / "phases.yaml"
    plan.write_text(plan.read_text().replace(
        "        sql: phase1/is_data_stale\n",
        "        sql: phase1/is_data_stale\n        revisions:\n          - {rev: 2, upgrade: script, why: a column}\n"))
    result = Cli(None, plan)("phase", "list")
    assert result.exit_code == 2
    assert f"{plan}:" in result.stderr
    assert "revision 1 of is_data_stale has no frozen copy" in result.stderr
    assert "revision 2 of is_data_stale is `upgrade: script` but" in result.stderr
