"""The tests leave the user's files alone: a PROGRESS.md at the project root is never written by
a test, because every test points TOOLKIT_PROGRESS and TOOLKIT_STATE_DIR into its own folder
(tests/conftest.py), and the session fails when any file of the checkout changed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from tests.conftest import ROOT, Cli, checkout_files

SEED = ROOT / "tests/fixtures/PROGRESS.seed.md"


def test_a_progress_md_at_the_project_root_survives_cli_calls(db, project, tmp_path):
    planted = project / "PROGRESS.md"
    shutil.copy(SEED, planted)
    before = planted.read_bytes()
    redirected = tmp_path / "PROGRESS.md"
    assert os.environ["TOOLKIT_PROGRESS"] == str(redirected)
    shutil.copy(SEED, redirected)

    cli = Cli(db, project / "phases.yaml")
    assert cli("phase", "apply", "0..1").exit_code == 0
    assert cli("phase", "verify", "1").exit_code == 0
    assert cli("progress", "sync").exit_code == 0
    # The same from a separate process started in the project folder, as a user would run it.
    out = subprocess.run([sys.executable, "-m", "toolkit", "--db-url", db.url, "progress", "sync"],
                         cwd=project, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr

    assert planted.read_bytes() == before
    assert redirected.read_bytes() != SEED.read_bytes()  # the redirected document is the one kept in step
    assert not (project / ".toolkit").exists()


def test_the_checkout_snapshot_sees_every_kind_of_change(tmp_path):
    root = tmp_path / "checkout"
    (root / "docs").mkdir(parents=True)
    (root / ".venv").mkdir()
    (root / ".toolkit/tools").mkdir(parents=True)
    (root / "docs/a.md").write_text("a")
    (root / "link").symlink_to("docs")
    before = checkout_files(root)
    assert set(before) == {"docs/a.md", "link"}

    (root / ".venv/x").write_text("made by bootstrap")
    (root / ".toolkit/tools/y").write_text("made by bootstrap")
    assert checkout_files(root) == before
    (root / "docs/a.md").write_text("b")
    (root / "PROGRESS.md").write_text("new")
    (root / ".toolkit/local").mkdir()
    (root / ".toolkit/local/jwt_secret").write_text("s")
    after = checkout_files(root)
    assert {p for p in before.keys() | after.keys() if before.get(p) != after.get(p)} == {
        "docs/a.md", "PROGRESS.md", ".toolkit/local/jwt_secret"}
