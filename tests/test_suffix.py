"""Object names come from one place: with `suffix: _v3` in the plan, the main flows (apply
0..3, a processor run through the served functions, migrate and rollback) run end to end and
create nothing under the default suffix."""

from __future__ import annotations

import json

import pytest

from tests.conftest import Cli
from tests.test_migration import JOB_FIELDS, job
from toolkit.config import load_plan
from toolkit.db import target_from_url
from toolkit.dev.gateway import serve
from toolkit.dev.sandbox import SandboxServer
from toolkit.processor import Ticker

SUFFIX = "_v3"


@pytest.fixture
def v3_plan(project):
    plan = project / "phases.yaml"
    text = plan.read_text()
    assert "  suffix: _v2\n" in text
    plan.write_text(text.replace("  suffix: _v2\n", f"  suffix: {SUFFIX}\n"))
    return plan


def test_a_plan_with_another_suffix_runs_the_main_flows(db, v3_plan, tmp_path, monkeypatch):
    monkeypatch.setenv("TOOLKIT_PROGRESS", str(tmp_path / "PROGRESS.md"))
    cli = Cli(db, v3_plan)
    applied = cli("--json", "phase", "apply", "0..3")
    assert applied.exit_code == 0, applied.output
    assert db.scalar("SELECT to_regclass('public.api_call_queue_v3_pending') IS NOT NULL")
    assert db.scalar("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                     "WHERE n.nspname = 'public' AND c.relname LIKE '%\\_v2%'") == 0
    assert db.scalar("SELECT count(*) FROM pg_proc WHERE pronamespace = 'public'::regnamespace "
                     "AND proname LIKE '%\\_v2'") == 0
    assert db.scalar("SELECT count(*) FROM cron.job WHERE jobname LIKE '%\\_v3'") >= 5

    loaded = load_plan(v3_plan)
    names = loaded.plan.names
    assert names.slug("queue-processor") == "queue-processor-v3"
    db.execute("UPDATE public.queue_config_v3 SET calls_per_window = 100000")
    db.execute("SELECT public.queue_refreshes_v3(%s, %s, %s)",
               [["AAPL", "MSFT", "*"], ["quote", "profile", "available-exchanges"], [0, 0, 0]])
    with SandboxServer(port=0) as sandbox, \
            serve(db.url, names=names, port=None, jwt_secret="suffix-test-secret", market_data_url=sandbox.url,
                  api_key="sandbox", folder=v3_plan.parent / "templates" / "edge") as server:
        assert (server.build_dir / "queue-processor-v3" / "handler.ts").is_file()
        ticker = Ticker(loaded.plan, target_from_url(db.url),
                        f"{server.functions_url}/{names.slug('queue-processor')}", server.token())
        result = ticker.run(interval=0.2, until_empty=True, max_ticks=20)
    assert result["due"] == 0 and result["completed"] == 3, result
    assert db.scalar("SELECT count(*) FROM public.api_call_queue_v3_completed") == 3

    before = job(db, "refresh-stock-quotes")
    migrated = cli("--json", "migrate", "quote", "--force", "--reason", "phase 4 is tested in test_frontend.py")
    assert migrated.exit_code == 0, migrated.output
    assert json.loads(migrated.stdout)["state"] == "baking"
    assert db.scalar("SELECT count(*) FROM public.data_type_registry_v3 WHERE data_type = 'quote'") == 1
    assert job(db, "refresh-stock-quotes")["active"] is False
    rolled = cli("--json", "rollback", "quote", "--reason", "suffix test")
    assert rolled.exit_code == 0, rolled.output
    assert job(db, "refresh-stock-quotes") == before
    assert set(before) == set(JOB_FIELDS)


def test_the_templates_names_file_is_what_the_default_plan_renders():
    from tests.conftest import ROOT

    names = load_plan(ROOT / "phases.yaml").plan.names
    assert (ROOT / "templates/edge/_shared/names.ts").read_text() == names.typescript()
