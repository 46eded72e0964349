"""`toolkit baseline ...`: the system before the rollout, captured, shown, and compared with today."""

from __future__ import annotations

import typer

from toolkit.cli.output import emit, err_console, table

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None,
                  help="The baseline of the system before the rollout: capture it, show it, compare today with it.")


def _calls(value) -> str:
    from toolkit.docs import _num

    return _num(value)


@app.command()
def capture(ctx: typer.Context) -> None:
    """Capture cron jobs, data tables and what the legacy schedules spend; store it in the toolkit
    schema and render the baseline document."""
    from toolkit.baseline import capture as do_capture
    from toolkit.docs import render_documents

    app_ctx = ctx.obj
    target = app_ctx.target()
    app_ctx.confirm(target, "capturing the baseline of", destructive=False)
    result = do_capture(app_ctx.plan_on(target).plan, target, app_ctx.actor_name())
    written = render_documents(app_ctx.load_plan(), target, app_ctx.project.root, app_ctx.actor_name(), ["baseline"])
    implied = result["implied"]
    emit(app_ctx.json, {**result, "documents": written}, lambda c: c.print(
        f"baseline {result['id']} captured at {result['captured_at']:%Y-%m-%d %H:%M %Z}: {len(result['jobs'])} cron job(s), "
        f"{len(result['tables'])} table(s); the active legacy jobs imply {_calls(implied['calls_per_day'])} calls/day; "
        f"written: {', '.join(f for w in written for f in w['files'])}", highlight=False))
    app_ctx.after_change(target)


@app.command()
def show(ctx: typer.Context) -> None:
    """The latest baseline, as stored."""
    from toolkit.baseline import show as do_show

    found = do_show(ctx.obj.target())
    emit(ctx.obj.json, found, lambda c: c.print(table(f"baseline {found['id']} ({found['captured_at']:%Y-%m-%d %H:%M %Z})",
        ["data type", "legacy job", "schedule", "active", "calls/day"], [
            [t["data_type"], t["job"], t["schedule"], "yes" if t["active"] else "no", _calls(t["calls_per_day"])]
            for t in found["implied"]["types"]])))


@app.command()
def compare(ctx: typer.Context) -> None:
    """Today against the latest baseline: calls per day, bytes per 30 days, freshness per table."""
    from toolkit.baseline import compare as do_compare
    from toolkit.docs import _age, _size

    app_ctx = ctx.obj
    target = app_ctx.target()
    result = do_compare(app_ctx.plan_on(target).plan, target)

    def render(c):
        c.print(f"calls/day: {_calls(result['calls_per_day_then'])} at the baseline -> {_calls(result['calls_per_day_now'])} now "
                f"({_calls(result['legacy_calls_per_day_now'])} by legacy jobs still active, "
                f"{_calls(result['queue_calls_last_day'])} by the queue in the last day)", highlight=False)
        c.print(f"bytes/30 days: {_size(result['bytes_per_window_then'])} -> {_size(result['bytes_per_window_now'])}",
                highlight=False)
        c.print(table(None, ["data type", "legacy job then", "now", "calls/day then", "now", "age p50 then", "now",
                             "age p90 then", "now"], [
            [t["data_type"], "active" if t["legacy_active_then"] else "off", "active" if t["legacy_active_now"] else "off",
             _calls(t["legacy_calls_per_day_then"]), _calls(t["legacy_calls_per_day_now"]),
             _age(t["p50_age_then"]), _age(t["p50_age_now"]), _age(t["p90_age_then"]), _age(t["p90_age_now"])]
            for t in result["types"]]))
        err_console().print(f"baseline {result['baseline_id']} of {result['captured_at']:%Y-%m-%d %H:%M %Z}", highlight=False)
    emit(app_ctx.json, result, render)
