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


# The global options (see _global), which may also follow the subcommand: `queue status --json`.
def _global_options(group) -> tuple[set[str], set[str]]:
    """The callback's options: (flags, options taking a value)."""
    flags: set[str] = set()
    valued: set[str] = set()
    for p in group.params:
        if p.param_type_name == "option":
            (flags if p.is_flag or p.count else valued).update((*p.opts, *p.secondary_opts))
    return flags, valued


def hoist_global_options(group, ctx: typer.Context, args: list[str]) -> list[str]:
    """The arguments with global options that follow the subcommand moved in front of it. An
    option the subcommand defines itself, an option's value and anything after `--` stay."""
    flags, valued = _global_options(group)
    i = 0
    while i < len(args) and args[i].startswith("-") and args[i] != "--":
        i += 2 if args[i] in valued else 1
    command = group
    while i < len(args) and hasattr(command, "get_command"):  # a group: one more command name
        command = command.get_command(ctx, args[i])
        if command is None:
            return args  # the parser names the unknown command
        i += 1
    own = {o: p.param_type_name == "option" and not getattr(p, "is_flag", False) and not getattr(p, "count", False)
           for p in command.params for o in (*p.opts, *p.secondary_opts)}
    moved, kept, j = [], [], i
    while j < len(args):
        arg, name = args[j], args[j].split("=", 1)[0]
        takes_value = own.get(name) if name in own else name in valued
        target = kept if name in own or name not in flags | valued else moved
        if arg == "--":
            kept += args[j:]
            break
        target.append(arg)
        if takes_value and "=" not in arg and j + 1 < len(args):
            target.append(args[j + 1])
            j += 1
        j += 1
    return moved + args[:i] + kept


class ToolkitGroup(TyperGroup):
    """Turns domain errors into a message on stderr and the right exit code, never a traceback."""

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, hoist_global_options(self, ctx, args))

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
    project_ref: Optional[str] = typer.Option(
        None, "--project-ref", envvar="SUPABASE_PROJECT_REF", show_envvar=True,
        help="The Supabase project the Edge Functions and their secrets go to (Management API; token from "
             "SUPABASE_ACCESS_TOKEN). Default: the --db-url's project; without one, the local gateway.",
    ),
    api_url: Optional[str] = typer.Option(
        None, "--api-url", envvar="SUPABASE_API_URL", show_envvar=True,
        help="The Management API host. Default: https://api.supabase.com.",
    ),
    functions_url: Optional[str] = typer.Option(
        None, "--functions-url", envvar="SUPABASE_FUNCTIONS_URL",
        help="Where the project's functions answer. Default: https://<ref>.supabase.co/functions/v1.",
    ),
) -> None:
    ctx.obj = AppContext(db_url=db_url, plan_file=plan, json=json_output, verbose=verbose, yes=yes, actor=actor,
                         project_ref=project_ref, api_url=api_url, functions_url=functions_url)
    if os.environ.get("TOOLKIT_PROGRESS"):  # a mistaken one is refused before any command changes anything
        from toolkit.progress import document_path

        document_path(Path.cwd())


from toolkit.cli import baseline as _baseline  # noqa: E402
from toolkit.cli import checklist as _checklist  # noqa: E402
from toolkit.cli import cron as _cron  # noqa: E402
from toolkit.cli import docs as _docs  # noqa: E402
from toolkit.cli import edge as _edge  # noqa: E402
from toolkit.cli import export as _export  # noqa: E402
from toolkit.cli import flags as _flags  # noqa: E402
from toolkit.cli import local as _local  # noqa: E402
from toolkit.cli import migration as _migration  # noqa: E402
from toolkit.cli import phase as _phase  # noqa: E402
from toolkit.cli import processor as _processor  # noqa: E402
from toolkit.cli import progress as _progress  # noqa: E402
from toolkit.cli import queue as _queue  # noqa: E402
from toolkit.cli import revisions as _revisions  # noqa: E402
from toolkit.cli import sandbox as _sandbox  # noqa: E402
from toolkit.cli import secrets as _secrets  # noqa: E402

app.add_typer(_local.app, name="local")
app.add_typer(_phase.app, name="phase")
app.add_typer(_revisions.app, name="revisions")
app.add_typer(_queue.app, name="queue")
app.add_typer(_cron.app, name="cron")
app.add_typer(_checklist.app, name="checklist")
app.add_typer(_flags.app, name="flags")
app.add_typer(_progress.app, name="progress")
app.add_typer(_edge.app, name="edge")
app.add_typer(_export.app, name="export")
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
