"""The `toolkit` command line: thin commands over library functions. No logic of the rollout
lives here (it belongs to the library, where tests and other callers reach it): a command
parses options, calls one function, and prints its payload.

Heavy libraries (psycopg, jinja2, pydantic) are imported inside the commands, so that
`toolkit --help` stays as quick as typer itself.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Optional

import typer
from typer.core import TyperGroup
from typer.exceptions import Abort, Exit, TyperException

from toolkit.cli.context import AppContext
from toolkit.errors import EXIT_CANNOT_RUN, ToolkitError


class ToolkitGroup(TyperGroup):
    """Turns domain errors into a message on stderr and the right exit code, never a traceback."""

    def invoke(self, ctx: typer.Context):
        try:
            return super().invoke(ctx)
        except ToolkitError as exc:
            verbose = bool(ctx.obj and ctx.obj.verbose)
            _report(exc.message, exc.hint, verbose)
            raise typer.Exit(exc.exit_code)
        except KeyboardInterrupt:
            _report("interrupted", None, False)
            raise typer.Exit(130)
        except BrokenPipeError:
            # The reader went away (`| head`): stop quietly, as a shell tool does on SIGPIPE.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(141)
        except (Exit, Abort, TyperException):
            raise
        except Exception as exc:  # a bug or an unexpected failure: still no traceback by default
            verbose = bool(ctx.obj and ctx.obj.verbose)
            if verbose:
                raise
            _report(f"unexpected error: {type(exc).__name__}: {exc}", "run again with -v for the traceback", False)
            raise typer.Exit(EXIT_CANNOT_RUN)


def _report(message: str, hint: str | None, verbose: bool) -> None:
    from toolkit.cli.output import err_console

    console = err_console()
    console.print(f"[bold red]error:[/] {message}", markup=True, highlight=False, soft_wrap=True)
    if hint:
        console.print(f"[dim]hint:[/] {hint}", markup=True, highlight=False, soft_wrap=True)
    if verbose:
        import traceback

        traceback.print_exc(file=sys.stderr)


app = typer.Typer(
    cls=ToolkitGroup,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: rich formatting would double `toolkit --help` time
    help="Roll out the queue-based, presence-driven refresh system onto a Supabase project, phase by phase.",
)


@app.callback()
def _global(
    ctx: typer.Context,
    db_url: Optional[str] = typer.Option(
        None, "--db-url", envvar="SUPABASE_DB_URL", show_envvar=True,
        help="Target database (direct connection or session pooler). Default: the embedded local cluster.",
    ),
    plan: Optional[Path] = typer.Option(
        None, "--plan", envvar="TOOLKIT_PLAN", help="The plan file. Default: phases.yaml of the nearest project.",
    ),
    json_output: bool = typer.Option(False, "--json", help="Print only the payload, as JSON."),
    verbose: bool = typer.Option(False, "-v", "--verbose", help="Show tracebacks and SQL details."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Answer yes to confirmations (for CI)."),
    actor: Optional[str] = typer.Option(
        None, "--actor", envvar="TOOLKIT_ACTOR", help="Who is acting, for the ledger and audit. Default: user@host.",
    ),
) -> None:
    ctx.obj = AppContext(db_url=db_url, plan_file=plan, json=json_output, verbose=verbose, yes=yes, actor=actor)


from toolkit.cli import baseline as _baseline  # noqa: E402
from toolkit.cli import checklist as _checklist  # noqa: E402
from toolkit.cli import cron as _cron  # noqa: E402
from toolkit.cli import docs as _docs  # noqa: E402
from toolkit.cli import edge as _edge  # noqa: E402
from toolkit.cli import flags as _flags  # noqa: E402
from toolkit.cli import local as _local  # noqa: E402
from toolkit.cli import migration as _migration  # noqa: E402
from toolkit.cli import phase as _phase  # noqa: E402
from toolkit.cli import processor as _processor  # noqa: E402
from toolkit.cli import progress as _progress  # noqa: E402
from toolkit.cli import queue as _queue  # noqa: E402
from toolkit.cli import sandbox as _sandbox  # noqa: E402
from toolkit.cli import secrets as _secrets  # noqa: E402

app.add_typer(_local.app, name="local")
app.add_typer(_phase.app, name="phase")
app.add_typer(_queue.app, name="queue")
app.add_typer(_cron.app, name="cron")
app.add_typer(_checklist.app, name="checklist")
app.add_typer(_flags.app, name="flags")
app.add_typer(_progress.app, name="progress")
app.add_typer(_edge.app, name="edge")
app.add_typer(_sandbox.app, name="sandbox")
app.add_typer(_processor.app, name="processor")
app.add_typer(_secrets.app, name="secrets")
app.add_typer(_docs.app, name="docs")
app.add_typer(_baseline.app, name="baseline")
for _name, _command in _migration.COMMANDS.items():
    app.command(_name)(_command)
app.command("status")(_phase.status)
app.command("demo")(_phase.demo)


def main() -> None:
    app()
