"""`toolkit cron list`: pg_cron jobs with their last run."""

from __future__ import annotations

import typer

from toolkit.cli.output import emit, styled, table

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None, help="pg_cron jobs of the target.")


@app.command("list")
def list_(ctx: typer.Context) -> None:
    """Every pg_cron job: schedule, active, who owns it, and how its last run went."""
    from toolkit.cron import list_jobs

    target = ctx.obj.target()
    jobs = list_jobs(ctx.obj.plan_on(target).plan, target)

    def render(c):
        c.print(table(None, ["job", "schedule", "active", "owner", "last run", "status"], [
            [j["jobname"] or j["jobid"], j["schedule"], "yes" if j["active"] else "no", j["owner"],
             j["last_start"].strftime("%Y-%m-%d %H:%M:%S") if j["last_start"] else "-",
             styled({"succeeded": "pass", "failed": "fail"}.get(j["last_status"], j["last_status"] or "-"))]
            for j in jobs]))
    emit(ctx.obj.json, jobs, render)
