"""An installed toolkit (a wheel in a fresh virtualenv, not the editable checkout) finds its
templates, checklists and example app, and takes a plan from any folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.conftest import ROOT


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh venv with the wheel built from this checkout; the dependencies come from the test
    venv's site-packages (on PYTHONPATH), so that nothing is downloaded."""
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "source"  # a copy: a build writes build/ and *.egg-info where it runs
    shutil.copytree(ROOT, source, symlinks=True,
                    ignore=shutil.ignore_patterns(".git", ".venv", ".toolkit", "build", "*.egg-info", "__pycache__",
                                                  ".pytest_cache", "node_modules"))
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                            "-w", str(tmp / "dist"), str(source)], capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr
    wheel = next((tmp / "dist").glob("toolkit-*.whl"))
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    site = subprocess.run([str(venv / "bin/python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    install = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", site, str(wheel)],
                             capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stderr
    return venv


def _run(venv: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOOLKIT_")}
    env["PYTHONPATH"] = sysconfig.get_paths()["purelib"]  # the dependencies, not the checkout
    return subprocess.run([str(venv / "bin/python"), "-m", "toolkit", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_wheel_carries_its_templates_and_runs_from_an_empty_folder(installed, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    where = subprocess.run([str(installed / "bin/python"), "-c", "import toolkit; print(toolkit.__file__)"],
                           cwd=empty, env={**os.environ, "PYTHONPATH": sysconfig.get_paths()["purelib"]},
                           capture_output=True, text=True, check=True).stdout.strip()
    assert where.startswith(str(installed)), where
    bundled = Path(where).parent / "bundled"
    assert not bundled.is_symlink() and (bundled / "templates/sql/phase1/api_call_queue/deploy.sql").is_file()
    assert (bundled / "checklists/migration.yaml").is_file() and (bundled / "examples/legacy_app/schema.sql").is_file()
    assert (bundled / "templates/sql/revisions.lock").is_file()
    assert (Path(where).parent / "sql/migrations/0001_initial.sql").is_file()  # the toolkit schema's migrations

    other = tmp_path / "other"
    other.mkdir()
    shutil.copy(ROOT / "phases.yaml", other / "phases.yaml")  # a plan alone, no templates beside it
    listed = _run(installed, empty, "--plan", str(other / "phases.yaml"), "phase", "list")
    assert listed.returncode == 0, listed.stderr
    assert "Queue System" in listed.stdout
    rendered = _run(installed, empty, "--plan", str(other / "phases.yaml"), "phase", "render", "1")
    assert rendered.returncode == 0, rendered.stderr
    assert "CREATE TABLE public.api_call_queue_v2" in rendered.stdout
    bundled_plan = _run(installed, empty, "phase", "list")  # no plan anywhere: the bundled one
    assert bundled_plan.returncode == 0 and "Full Migration" in bundled_plan.stdout, bundled_plan.stderr
    assert list(empty.iterdir()) == []  # nothing written into the folder it ran from
