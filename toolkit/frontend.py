"""The app-side module of phase 4 (`frontend/`: RealtimeStockManager.ts, its tests and README).

A `frontend` step renders the folder for the plan into the user's workspace (`rollout/frontend/`):
`names.ts` exactly as the Edge Functions' `_shared/names.ts` (toolkit.names), `settings.ts`
with the plan's settings the module reads. The step is applied once that copy is written and the
module's Deno tests passed with the real supabase-js against the local stack
(toolkit.dev.frontend_stack); its checksum is that of the rendered files, so a change of the
module, of the names or of the settings is drift, and `verify` finds a workspace copy edited by
hand.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from toolkit.config import LoadedPlan, Plan
from toolkit.errors import ToolkitError
from toolkit.project import BUNDLED

FOLDER = "frontend"
MODULE = "RealtimeStockManager.ts"
TESTS = "RealtimeStockManager_test.ts"
WORKSPACE_DIR = Path("rollout") / "frontend"
NAMES_FILE = "names.ts"
SETTINGS_FILE = "settings.ts"
DENO_PERMISSIONS = ["--allow-net", "--allow-env", "--allow-read"]
TEST_TIMEOUT = 600.0


def source_dir(loaded: LoadedPlan) -> Path:
    """frontend/ beside the plan, else the toolkit's own."""
    here = loaded.path.parent / FOLDER
    return here if (here / MODULE).is_file() else BUNDLED / FOLDER


def workspace_dir(root: Path) -> Path:
    return root / WORKSPACE_DIR


def settings_typescript(plan: Plan) -> str:
    ttl = plan.settings.staleness.subscription_ttl_seconds
    return (
        "// Settings of the plan the module needs, rendered by the toolkit from phases.yaml. This copy\n"
        "// holds the default plan's values; a test keeps it equal to what the toolkit renders for it.\n\n"
        "/** staleness.subscription_ttl_seconds: a viewer not seen for this long no longer counts. */\n"
        f"export const SUBSCRIPTION_TTL_SECONDS = {json.dumps(ttl)};\n\n"
        "/** Whether the module consults the queue system's feature flag: false once the final migration\n"
        " * (phase 6) removed the flag checks. */\n"
        f"export const FLAG_CHECKS = {json.dumps(plan.flag_checks)};\n"
    )


def render(source: Path, plan: Plan, dest: Path) -> Path:
    """The module folder for `plan` at `dest` (replaced): names.ts and settings.ts rendered."""
    if not (source / MODULE).is_file():
        raise ToolkitError(f"no {MODULE} in {source}")
    tmp = dest.with_name(dest.name + ".rendering")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(source, tmp, ignore=shutil.ignore_patterns("node_modules", ".*"))
    (tmp / NAMES_FILE).write_text(plan.names.typescript())
    (tmp / SETTINGS_FILE).write_text(settings_typescript(plan))
    if dest.exists():
        shutil.rmtree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp.rename(dest)
    return dest


def manifest(folder: Path) -> str:
    """One line per file, `sha256 path`, in path order: what a frontend step deploys."""
    lines = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and "node_modules" not in p.parts):
        lines.append(f"{hashlib.sha256(path.read_bytes()).hexdigest()} {path.relative_to(folder).as_posix()}")
    return "\n".join(lines) + "\n"


def rendered_manifest(loaded: LoadedPlan, plan: Plan | None = None) -> str:
    """The manifest of the module rendered for `plan` (default: the loaded one), in a
    temporary folder."""
    with tempfile.TemporaryDirectory(prefix="frontend-render-") as tmp:
        return manifest(render(source_dir(loaded), plan or loaded.plan, Path(tmp) / FOLDER))


def workspace_problem(root: Path, expected: str) -> str | None:
    """Why the workspace copy is not the rendered module, or None."""
    folder = workspace_dir(root)
    if not (folder / MODULE).is_file():
        return f"{folder / MODULE} is missing"
    if manifest(folder) != expected:
        return f"{folder} differs from the module rendered for the plan (edited by hand, or the plan changed)"
    return None


# -- the tests ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class TestResult:
    name: str
    area: str
    ok: bool
    seconds: float
    message: str = ""


@dataclass
class TestRun:
    ok: bool
    seconds: float
    output: str
    tests: list[TestResult] = field(default_factory=list)

    @property
    def passed(self) -> int:
        return sum(t.ok for t in self.tests)

    @property
    def failed(self) -> int:
        return sum(not t.ok for t in self.tests)

    def summary(self) -> str:
        failing = [t.name for t in self.tests if not t.ok]
        text = f"{self.passed} passed, {self.failed} failed in {self.seconds:.0f} s"
        return text + (f"; failing: {'; '.join(failing)}" if failing else "")


def area_of(name: str) -> str:
    """The area a test proves: its name up to the first colon ("presence: ..." -> presence)."""
    head, sep, _ = name.partition(":")
    return head.strip() if sep else "unit"


def run_tests(folder: Path, env: dict[str, str], timeout: float = TEST_TIMEOUT) -> TestRun:
    """`deno test` of the module in `folder` with `env` (the local stack's URLs and keys)."""
    from toolkit.edge import deno_bin

    junit = folder / ".junit.xml"
    cmd = [deno_bin(), "test", *DENO_PERMISSIONS, f"--junit-path={junit}", TESTS]
    started = time.monotonic()
    try:
        done = subprocess.run(cmd, cwd=folder, env={**os.environ, "NO_COLOR": "1", **env},
                              capture_output=True, text=True, timeout=timeout)
        output, code = (done.stdout + done.stderr).strip(), done.returncode
    except subprocess.TimeoutExpired as exc:
        output, code = f"timed out after {timeout:.0f} s\n{exc.stdout or ''}", -1
    seconds = time.monotonic() - started
    tests = _junit_results(junit)
    junit.unlink(missing_ok=True)
    return TestRun(ok=code == 0 and bool(tests) and all(t.ok for t in tests), seconds=seconds, output=output,
                   tests=tests)


def _junit_results(path: Path) -> list[TestResult]:
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return []
    results = []
    for case in root.iter("testcase"):
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        message = "" if problem is None else (problem.get("message") or problem.text or "failed").strip()
        results.append(TestResult(name=case.get("name", ""), area=area_of(case.get("name", "")), ok=problem is None,
                                  seconds=float(case.get("time") or 0), message=message[:2000]))
    return results


def record_run(conn, run: TestRun, *, phase: int, checksum: str, actor: str, detail: str) -> int:
    """The run and each test's result in the toolkit schema (the phase 4 checklists' evidence)."""
    from toolkit.queries import query

    run_id = conn.execute(query("insert_run", "frontend_queries.sql"), {
        "actor": actor, "phase": phase, "module": MODULE, "checksum": checksum, "ok": run.ok, "passed": run.passed,
        "failed": run.failed, "seconds": round(run.seconds, 1), "detail": detail,
    }).fetchone()[0]
    for t in run.tests:
        conn.execute(query("insert_test", "frontend_queries.sql"), {
            "run_id": run_id, "name": t.name, "area": t.area, "ok": t.ok, "seconds": round(t.seconds, 3),
            "message": t.message})
    return run_id
