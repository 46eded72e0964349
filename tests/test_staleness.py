"""Phase 3 against a real PostgreSQL with real pg_cron: presence-driven staleness checks."""

from __future__ import annotations

import json
import time

import psycopg
import pytest

from tests.conftest import ROOT, apply_phases
from tests.queue_helpers import configure, enqueue, permits, unlimited

USERS = {name: f"00000000-0000-4000-8000-{i:012d}" for i, name in enumerate("abcdefgh", 1)}


def enable(db, *types: str) -> None:
    flags = ["use_queue_system"] + [f"use_queue_for_{t.replace('-', '_')}" for t in types]
    db.execute("UPDATE public.feature_flags SET enabled = true WHERE flag_name = ANY(%s)", [flags])


def subscribe(db, user: str, symbol: str, types: list[str], age_seconds: int = 0) -> None:
    db.execute("INSERT INTO public.active_subscriptions_v2 (user_id, symbol, data_types, last_seen) "
               "VALUES (%s, %s, %s, now() - make_interval(secs => %s))", [USERS[user], symbol, types, age_seconds])


def age(db, table: str, symbol: str, seconds: int, key: str = "symbol") -> None:
    db.execute(f"UPDATE public.{table} SET updated_at = now() - make_interval(secs => %s) WHERE {key} = %s",
               [seconds, symbol])


def queued(db) -> set[tuple[str, str]]:
    return set(db.rows("SELECT symbol, data_type FROM public.api_call_queue_v2 WHERE status = 'pending'"))


def presence(db) -> dict:
    return db.scalar("SELECT public.check_and_queue_stale_data_from_presence_v2()")


@pytest.fixture
def viewers(staleness_db):
    """Subscriptions and data where exactly three viewed pairs are stale."""
    db = staleness_db
    unlimited(db)
    enable(db, "quote", "profile", "ratios-ttm")
    subscribe(db, "a", "AAPL", ["quote", "profile"])
    subscribe(db, "b", "MSFT", ["quote", "ratios-ttm"])
    subscribe(db, "c", "MSFT", ["quote"])
    subscribe(db, "d", "TSLA", ["quote"], age_seconds=3600)            # expired heartbeat
    subscribe(db, "e", "NVDA", ["quote", "dividend-history"])          # dividend flag is off
    subscribe(db, "f", "ZZZZ", ["quote"])                               # no data at all
    for symbol in ("AAPL", "NVDA"):
        age(db, "stock_quotes", symbol, 0)
    age(db, "stock_quotes", "MSFT", 3600)
    age(db, "stock_quotes", "TSLA", 3600)
    age(db, "company_profiles", "AAPL", 2 * 86400)
    age(db, "ratios_ttm", "MSFT", 0)
    age(db, "dividend_history", "NVDA", 30 * 86400)
    return db


def test_exactly_the_stale_pairs_of_active_subscriptions_are_queued(viewers):
    result = presence(viewers)
    assert result["action"] == "checked" and result["errors"] == 0
    assert queued(viewers) == {("AAPL", "profile"), ("MSFT", "quote"), ("ZZZZ", "quote")}
    # Two viewers raise MSFT above a single viewer's priority for the same type.
    prio = dict(viewers.rows("SELECT symbol, priority FROM public.api_call_queue_v2 WHERE data_type = 'quote'"))
    assert prio["MSFT"] == prio["ZZZZ"] + 1
    again = presence(viewers)
    assert again["queued"] == 0 and again["stale"] == 3
    assert viewers.scalar("SELECT count(*) FROM public.api_call_queue_v2") == 3


def test_nothing_is_queued_while_the_queue_system_is_off(viewers):
    viewers.execute("UPDATE public.feature_flags SET enabled = false WHERE flag_name = 'use_queue_system'")
    assert presence(viewers)["reason"] == "use_queue_system is off"
    assert queued(viewers) == set()


def test_a_broken_type_is_stale_and_logged_and_does_not_stop_the_others(viewers):
    age(viewers, "ratios_ttm", "MSFT", 0)
    viewers.execute("ALTER TABLE public.ratios_ttm DROP COLUMN updated_at")
    result = presence(viewers)
    assert result["errors"] == 1
    assert queued(viewers) == {("AAPL", "profile"), ("MSFT", "quote"), ("ZZZZ", "quote"), ("MSFT", "ratios-ttm")}
    event = viewers.rows("SELECT level, details ->> 'data_type' FROM public.ops_events WHERE source = 'staleness'")
    assert event == [("warning", "ratios-ttm")]


def test_an_overlapping_run_returns_at_once(viewers):
    first = psycopg.connect(viewers.url)
    try:
        first.execute("SELECT public.check_and_queue_stale_data_from_presence_v2()")  # holds lock 42 until commit
        t0 = time.monotonic()
        second = presence(viewers)
        assert time.monotonic() - t0 < 1
        assert "advisory lock 42" in second["reason"]
        first.commit()
    finally:
        first.close()
    assert len(queued(viewers)) == 3


def test_quota_exceeded_queues_nothing(viewers):
    configure(viewers, calls_per_window=1)
    viewers.execute("SELECT public.queue_refresh_if_not_exists_v2('SPY', 'quote', 100)")
    claimed = viewers.rows("SELECT id, lease, 1 FROM public.get_queue_batch_v2('w', 1)")
    with viewers.connect(autocommit=True) as conn:  # its call is made: the budget is spent
        assert permits(conn, claimed) == {claimed[0][0]: (True, None)}
    assert presence(viewers)["reason"] == "quota exhausted"
    assert queued(viewers) == set()


INJECTIONS = {
    "target_table": "stock_quotes; DROP TABLE public.company_profiles; --",
    "key_column": "symbol = symbol OR true --",
    "timestamp_column": 'updated_at") FROM public.company_profiles; --',
}


@pytest.mark.parametrize("column", sorted(INJECTIONS))
def test_registry_injection_strings_are_rejected_and_nothing_runs(viewers, column):
    update = f"UPDATE public.data_type_registry_v2 SET {column} = %s WHERE data_type = 'quote'"
    # First line of defence: the registry's own CHECK refuses the value.
    with pytest.raises(psycopg.errors.CheckViolation):
        viewers.execute(update, [INJECTIONS[column]])
    # A registry edited without that constraint: the functions refuse the row themselves.
    viewers.execute(f"ALTER TABLE public.data_type_registry_v2 DROP CONSTRAINT data_type_registry_v2_{column}_format")
    viewers.execute(update, [INJECTIONS[column]])
    _assert_quote_refused(viewers)


def test_reserved_word_in_the_registry_is_refused(viewers):
    # A reserved word passes the registry's format CHECK but is no usable identifier.
    viewers.execute("UPDATE public.data_type_registry_v2 SET target_table = 'select' WHERE data_type = 'quote'")
    _assert_quote_refused(viewers)


REFUSALS = "SELECT details ->> 'data_type', details ->> 'symbol' FROM public.ops_events " \
           "WHERE level = 'error' AND event = 'registry row refused: invalid identifier' ORDER BY id"


def _assert_quote_refused(db) -> None:
    # Reported as quote's outcome, nothing read or queued for it; the viewer's other type still
    # checked and queued (AAPL's profile is stale).
    rows = db.rows("SELECT data_type, stale, job_id, outcome FROM "
                   "public.check_and_queue_stale_batch_v2('AAPL', ARRAY['quote', 'profile'], 0) ORDER BY 1")
    assert [r[0] for r in rows] == ["profile", "quote"]
    assert rows[1] == ("quote", None, None, "refused")
    assert rows[0][1] is True and rows[0][3] == "queued"
    assert queued(db) == {("AAPL", "profile")}
    # Logged, and the entry outlives the call: the caller's transaction committed it.
    assert db.rows(REFUSALS) == [("quote", "AAPL")]

    result = presence(db)
    assert result["refused"] == ["quote"]
    assert queued(db) == {("AAPL", "profile")}  # the other types still ran
    assert db.scalar("SELECT to_regclass('public.company_profiles') IS NOT NULL")
    assert db.rows(REFUSALS) == [("quote", "AAPL"), ("quote", None)]


def test_a_refused_registry_row_is_logged_when_the_caller_tracks_a_viewer(viewers):
    # The page view's one round trip: the subscription is recorded, the stale profile queued,
    # quote refused, and the refusal's log entry committed with the call.
    viewers.execute("UPDATE public.data_type_registry_v2 SET target_table = 'select' WHERE data_type = 'quote'")
    answer = viewers.scalar("SELECT public.track_subscription_v2(%s, 'AAPL', ARRAY['quote', 'profile'])", [USERS["h"]])
    assert answer["status"] == "tracked" and answer["queued"] == [{"data_type": "profile", "outcome": "queued"}]
    assert viewers.scalar("SELECT count(*) FROM public.active_subscriptions_v2 WHERE user_id = %s", [USERS["h"]]) == 1
    assert viewers.rows(REFUSALS) == [("quote", "AAPL")]


def test_batch_reports_each_type_and_adds_the_priority(viewers):
    rows = viewers.rows("SELECT data_type, stale, outcome FROM public.check_and_queue_stale_batch_v2("
                        "'AAPL', ARRAY['quote', 'profile', 'dividend-history', 'available-exchanges'], 3) ORDER BY 1")
    assert rows == [("available-exchanges", None, "flag off"), ("dividend-history", None, "flag off"),
                    ("profile", True, "queued"), ("quote", False, "fresh")]
    registry = viewers.scalar("SELECT priority FROM public.data_type_registry_v2 WHERE data_type = 'profile'")
    assert viewers.scalar("SELECT priority FROM public.api_call_queue_v2 WHERE symbol = 'AAPL'") == registry + 3
    enable(viewers, "available-exchanges")
    viewers.execute("DELETE FROM public.available_exchanges")
    global_ = viewers.rows("SELECT data_type, outcome FROM public.check_and_queue_stale_batch_v2('AAPL', ARRAY['available-exchanges'], 0)")
    assert global_ == [("available-exchanges", "queued")]
    assert ("*", "available-exchanges") in queued(viewers)
    for bad, message in ((("'AAPL''; --'", "ARRAY['quote']"), "not a ticker symbol"),
                         (("'AAPL'", "ARRAY['nope']"), "unknown data type")):
        with pytest.raises(psycopg.errors.InvalidParameterValue, match=message):
            viewers.rows(f"SELECT * FROM public.check_and_queue_stale_batch_v2({bad[0]}, {bad[1]}, 0)")


def test_analytics_count_viewers(viewers):
    result = viewers.scalar("SELECT public.refresh_analytics_from_presence_v2()")
    counts = dict(((s, t), v) for s, t, v in viewers.rows("SELECT symbol, data_type, viewers FROM public.presence_analytics_v2"))
    assert counts[("MSFT", "quote")] == 2 and ("TSLA", "quote") not in counts
    assert result["viewers"] == sum(counts.values())
    viewers.execute("DELETE FROM public.active_subscriptions_v2 WHERE symbol = 'MSFT'")
    viewers.scalar("SELECT public.refresh_analytics_from_presence_v2()")
    assert viewers.scalar("SELECT count(*) FROM public.presence_analytics_v2 WHERE symbol = 'MSFT'") == 0


def test_scheduled_refresh_priority_throttle_and_headroom(staleness_db):
    db = staleness_db
    unlimited(db)
    enable(db, "exchange-market-status", "quote")
    db.execute("UPDATE public.exchange_market_status SET updated_at = now()")
    db.execute("UPDATE public.exchange_market_status SET updated_at = now() - interval '1 hour' "
               "WHERE exchange IN ('NASDAQ', 'NYSE', 'LSE')")
    db.execute("UPDATE public.staleness_config_v2 SET background_sample_percent = 100")
    subscribe(db, "g", "IBM", ["quote"], age_seconds=3600)   # tracked, nobody viewing now
    db.execute("INSERT INTO public.stock_quotes (symbol, updated_at) VALUES ('IBM', now() - interval '1 day') "
               "ON CONFLICT (symbol) DO UPDATE SET updated_at = excluded.updated_at")

    first = db.scalar("SELECT public.queue_scheduled_refreshes_v2()")
    assert first["queued"] == 4
    jobs = set(db.rows("SELECT symbol, data_type, priority FROM public.api_call_queue_v2"))
    assert jobs == {("NASDAQ", "exchange-market-status", -1), ("NYSE", "exchange-market-status", -1),
                    ("LSE", "exchange-market-status", -1), ("IBM", "quote", -1)}
    assert db.scalar("SELECT public.queue_scheduled_refreshes_v2()")["reason"] == "throttled"

    db.execute("UPDATE public.staleness_config_v2 SET scheduled_min_interval_seconds = 0, scheduled_max_jobs = 2")
    db.execute("DELETE FROM public.api_call_queue_v2")
    assert db.scalar("SELECT public.queue_scheduled_refreshes_v2()")["queued"] == 2  # capped per run

    configure(db, calls_per_window=10)
    enqueue(db, 6, "quote", "H")
    claimed = db.rows("SELECT id, lease, 1 FROM public.get_queue_batch_v2('w', 6)")
    with db.connect(autocommit=True) as conn:  # their calls are made: 4 of 10 calls left
        assert all(granted for granted, _ in permits(conn, claimed).values()) and len(claimed) == 6
    assert db.scalar("SELECT public.queue_scheduled_refreshes_v2()")["reason"] == "not enough quota headroom"


def test_a_viewer_raises_a_background_job(staleness_db):
    db = staleness_db
    unlimited(db)
    enable(db, "quote")
    db.execute("SELECT public.queue_refreshes_v2(ARRAY['IBM'], ARRAY['quote'], ARRAY[-1])")
    subscribe(db, "h", "IBM", ["quote"])
    age(db, "stock_quotes", "IBM", 3600)
    presence(db)
    assert db.rows("SELECT priority > 0 FROM public.api_call_queue_v2 WHERE symbol = 'IBM'") == [(True,)]


PHASE3_FUNCTIONS = ["check_and_queue_stale_batch_v2(text, text[], integer)", "check_and_queue_stale_data_from_presence_v2()",
                    "refresh_analytics_from_presence_v2()", "queue_scheduled_refreshes_v2()", "check_processor_responses_v2()"]


def test_phase3_functions_are_internal_and_pinned(staleness_db):
    for fn in PHASE3_FUNCTIONS:
        for role in ("anon", "authenticated"):
            assert not staleness_db.scalar("SELECT has_function_privilege(%s, %s, 'EXECUTE')", [role, f"public.{fn}"]), (role, fn)
        secdef, config = staleness_db.rows("SELECT prosecdef, proconfig FROM pg_proc WHERE oid = %s::regprocedure",
                                           [f"public.{fn}"])[0]
        assert secdef and "search_path=\"\"" in config, fn


def test_cron_jobs_exist_after_apply_and_are_gone_after_revert(cli, db):
    assert cli("phase", "apply", "0..3").exit_code == 0
    jobs = dict(db.rows("SELECT jobname, schedule FROM cron.job WHERE jobname LIKE 'queue-%%'"))
    assert jobs == {"queue-presence-check_v2": "* * * * *", "queue-presence-analytics_v2": "* * * * *",
                    "queue-scheduled-refresh_v2": "*/5 * * * *", "queue-recover-stuck_v2": "*/5 * * * *",
                    "queue-maintenance_v2": "17 * * * *"}
    listed = {j["jobname"]: j for j in json.loads(cli("--json", "cron", "list").stdout)}
    assert listed["queue-presence-check_v2"]["owner"] == "refresh system"
    assert listed["refresh-stock-quotes"]["owner"] == "legacy (quote)"
    assert listed["queue-presence-check_v2"]["last_status"] is None  # a clone: pg_cron never runs its jobs
    assert cli("phase", "apply", "3").exit_code == 0  # idempotent
    assert db.scalar("SELECT count(*) FROM cron.job WHERE jobname LIKE 'queue-%%'") == 5
    assert cli("--yes", "phase", "revert", "3").exit_code == 0
    assert db.scalar("SELECT count(*) FROM cron.job WHERE jobname LIKE 'queue-%%'") == 0
    assert db.scalar("SELECT count(*) FROM cron.job") == 11  # the legacy app's jobs are untouched


def test_jobs_really_run_under_pg_cron(cluster):
    """In the cluster's cron database: apply, watch pg_cron run the presence check, revert."""
    from toolkit.config import load_plan
    from toolkit.cron import list_jobs
    from toolkit.db import target_from_url
    from toolkit.engine import Engine

    apply_phases(cluster, "postgres", [0, 1, 2, 3])
    try:
        deadline = time.monotonic() + 75
        with psycopg.connect(cluster.conninfo(), autocommit=True) as conn:
            while time.monotonic() < deadline:
                row = conn.execute(
                    "SELECT d.status, d.return_message FROM cron.job_run_details d JOIN cron.job j USING (jobid) "
                    "WHERE j.jobname = 'queue-presence-check_v2' ORDER BY d.start_time DESC LIMIT 1").fetchone()
                if row and row[0] in ("succeeded", "failed"):
                    break
                time.sleep(1)
            assert row is not None, "pg_cron never ran the presence check"
            assert row[0] == "succeeded", row
            plan = load_plan(ROOT / "phases.yaml").plan
            listed = {j["jobname"]: j for j in list_jobs(plan, target_from_url(cluster.conninfo()))}
            assert listed["queue-presence-check_v2"]["last_status"] == "succeeded"
            state = conn.execute("SELECT last_presence_result FROM public.staleness_state_v2").fetchone()[0]
            assert state is None or "action" in state
    finally:
        engine = Engine(load_plan(ROOT / "phases.yaml"), target_from_url(cluster.conninfo()), "pytest")
        for phase in (3, 2, 1, 0):
            engine.revert(phase, drop_data=True)


def _track_counting_checks(db, user: str, symbol: str, types: list[str]) -> tuple[dict, int]:
    """track_subscription's answer, and how many times that call ran the per-type check
    (check_and_queue_stale_batch), read from the call's own transaction statistics."""
    db.as_platform(f'ALTER DATABASE "{db.name}" SET track_functions = \'all\'')
    with db.connect() as conn:
        answer = conn.execute("SELECT public.track_subscription_v2(%s, %s, %s)", [USERS[user], symbol, types]).fetchone()[0]
        checks = conn.execute("SELECT COALESCE(sum(calls), 0) FROM pg_stat_xact_user_functions "
                              "WHERE funcname = 'check_and_queue_stale_batch_v2'").fetchone()[0]
        conn.commit()
    return answer, checks


def test_a_track_reads_every_type_at_once_and_checks_only_the_stale_ones_one_by_one(viewers):
    # Everything fresh (the usual heartbeat): no type is checked on its own, nothing queued.
    answer, checks = _track_counting_checks(viewers, "g", "AAPL", ["quote"])
    assert (answer["status"], answer["queued"], checks) == ("tracked", [], 0)
    # One of two stale: only it goes on to the per-type check, which queues it.
    answer, checks = _track_counting_checks(viewers, "g", "AAPL", ["quote", "profile"])
    assert (answer["queued"], checks) == ([{"data_type": "profile", "outcome": "queued"}], 1)
    assert queued(viewers) == {("AAPL", "profile")}


def test_a_type_whose_freshness_cannot_be_read_counts_as_stale_on_a_track(viewers):
    # Its timestamp column is gone: the one statement fails, every type is checked on its own,
    # and the broken one counts as stale (queued) while the fresh one stays fresh.
    viewers.as_platform("ALTER TABLE public.ratios_ttm RENAME COLUMN updated_at TO seen_at")
    answer, checks = _track_counting_checks(viewers, "g", "MSFT", ["quote", "ratios-ttm"])
    assert answer["status"] == "tracked" and checks == 1
    assert {q["data_type"] for q in answer["queued"]} == {"quote", "ratios-ttm"}
    viewers.execute("UPDATE public.stock_quotes SET updated_at = now() WHERE symbol = 'MSFT'")
    viewers.execute("DELETE FROM public.api_call_queue_v2")
    answer, _ = _track_counting_checks(viewers, "h", "MSFT", ["quote", "ratios-ttm"])
    assert [q["data_type"] for q in answer["queued"]] == ["ratios-ttm"]


def test_popular_data_about_to_turn_stale_is_queued_for_the_moment_it_does(viewers):
    # The last run was 40 s ago, so the next is expected in about 40 s: AAPL's quote (30 s old,
    # a 60 s TTL, two viewers) turns stale before it and is queued due then. NVDA's turns stale
    # as soon, but has one viewer: it waits until it is stale.
    viewers.execute("UPDATE public.staleness_state_v2 SET last_presence_run_at = now() - interval '40 seconds'")
    subscribe(viewers, "h", "AAPL", ["quote"])
    age(viewers, "stock_quotes", "AAPL", 30)
    age(viewers, "stock_quotes", "NVDA", 30)
    result = presence(viewers)
    assert (result["stale"], result["ahead"], result["queued"]) == (3, 1, 4)
    assert queued(viewers) == {("AAPL", "profile"), ("MSFT", "quote"), ("ZZZZ", "quote"), ("AAPL", "quote")}
    due = viewers.scalar("SELECT q.scheduled_for = s.updated_at + interval '60 seconds' "
                         "FROM public.api_call_queue_v2 AS q JOIN public.stock_quotes AS s USING (symbol) "
                         "WHERE q.symbol = 'AAPL' AND q.data_type = 'quote'")
    assert due is True
    # Not claimable before then; the ones stale now are.
    claimed = viewers.rows("SELECT symbol, data_type FROM public.get_queue_batch_v2('w', 10)")
    assert sorted(claimed) == [("AAPL", "profile"), ("MSFT", "quote"), ("ZZZZ", "quote")]


def test_what_a_page_asks_for_itself_goes_before_the_presence_checks_refreshes(viewers):
    # Ten viewers on MSFT: the presence check's highest priority for a quote.
    for i in range(10):
        viewers.execute("INSERT INTO public.active_subscriptions_v2 (user_id, symbol, data_types, last_seen) "
                        "VALUES (gen_random_uuid(), 'MSFT', '{quote}', now())")
    presence(viewers)
    watched = viewers.scalar("SELECT priority FROM public.api_call_queue_v2 WHERE symbol = 'MSFT'")
    age(viewers, "stock_quotes", "NVDA", 3600)
    answer = viewers.scalar("SELECT public.track_subscription_v2(%s, 'NVDA', '{quote}')", [USERS["g"]])
    assert answer["queued"] == [{"data_type": "quote", "outcome": "queued"}]
    opened = viewers.scalar("SELECT priority FROM public.api_call_queue_v2 WHERE symbol = 'NVDA'")
    assert opened > watched
    assert viewers.rows("SELECT symbol FROM public.get_queue_batch_v2('w', 1)") == [("NVDA",)]


def test_a_track_plans_its_freshness_statement_once_per_session(viewers):
    with viewers.connect(autocommit=True) as conn:
        for user in ("g", "h"):
            answer = conn.execute("SELECT public.track_subscription_v2(%s, 'AAPL', '{quote,profile}')",
                                  [USERS[user]]).fetchone()[0]
            assert [q["data_type"] for q in answer["queued"]] == ["profile"]  # queued, then found queued
        rows = conn.execute("SELECT name, generic_plans + custom_plans FROM pg_prepared_statements "
                            "WHERE name LIKE 'track_freshness_%'").fetchall()
        assert len(rows) == 1 and rows[0][1] == 2
        # A statement of that name prepared with another text (by anyone sharing the session) is
        # not trusted: it is replaced, and the stale type is still found stale.
        name = rows[0][0]
        conn.execute(f"DEALLOCATE {name}")
        conn.execute(f"PREPARE {name}(text) AS SELECT NULL::text[]")
        conn.execute("DELETE FROM public.api_call_queue_v2")
        answer = conn.execute("SELECT public.track_subscription_v2(%s, 'AAPL', '{quote,profile}')",
                              [USERS["g"]]).fetchone()[0]
        assert answer["queued"] == [{"data_type": "profile", "outcome": "queued"}]
        assert conn.execute("SELECT statement NOT LIKE '%%NULL::text[]%%' FROM pg_prepared_statements "
                            "WHERE name = %s", [name]).fetchone()[0] is True


def test_a_stale_type_already_queued_at_the_pages_priority_is_reported_without_queueing_again(viewers):
    answer, checks = _track_counting_checks(viewers, "g", "AAPL", ["quote", "profile"])
    assert (answer["queued"], checks) == ([{"data_type": "profile", "outcome": "queued"}], 1)
    # The next viewer finds the job waiting: reported as it is, nothing checked type by type.
    answer, checks = _track_counting_checks(viewers, "h", "AAPL", ["quote", "profile"])
    assert (answer["queued"], checks) == ([{"data_type": "profile", "outcome": "exists"}], 0)
    # A job the presence check queued (below a page's priority) goes the whole way: raised.
    presence(viewers)
    answer, checks = _track_counting_checks(viewers, "g", "MSFT", ["quote"])
    assert (answer["queued"], checks) == ([{"data_type": "quote", "outcome": "raised"}], 1)
