"""`toolkit export supabase`: the plan's history as Supabase CLI migrations, its Edge Functions
under supabase/functions/, and their verify_jwt in supabase/config.toml, so that a team that
deploys with `supabase db push` and `supabase functions deploy` gets what `toolkit phase
apply` and `phase upgrade` give.

The migrations follow the lock file (templates/sql/revisions.lock), which lists every
released revision and toolkit schema migration in release order with its migration version:
a fresh database that pushes them all passes through the same revisions a live one did, and
a re-export after a new revision only adds files. Each file carries what the engine gives a
step's transaction (the plan's values in `toolkit.params`, the search_path, the timeouts) as
transaction-local settings, and ends with the revision's verify, whose writes are rolled
back; `supabase db push` runs a file in one transaction, so a failed verify stops the push
with nothing of that file applied. The toolkit schema's migrations come first: the scripts
call its helpers (toolkit.param, toolkit.check, toolkit.retire_table, ...).
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from toolkit import revisions, schema
from toolkit.config import LoadedPlan
from toolkit.errors import ToolkitError

VERIFY_TAG = "$toolkit_verify$"
VERIFY_SQL_TAG = "$toolkit_verify_sql$"
OURS = re.compile(r"^\d{14}_(toolkit_\d{4}_[a-z0-9_]+|phase\d+_[a-z0-9_]+_r\d+)\.sql$")
SKIP_FUNCTION_FILES = shutil.ignore_patterns("*_test.ts", "testing", "config.json", "README.md", "deno.lock")


@dataclass(frozen=True)
class Migration:
    name: str
    text: str


def supabase(loaded: LoadedPlan, dest: Path, scheduler_mode: str | None = None,
             phases: Iterable[int] | None = None) -> dict:
    """Write (or complete) `dest`/supabase for the plan: the toolkit schema and the steps of
    `phases` (default: all but the final migration, which a team applies when every type is
    promoted, by exporting it then). An exported migration is history and is never rewritten:
    one that the plan would now write differently (its values or scheduler mode changed since)
    is kept and reported in `kept_different`; files named like ours that this plan does not
    write are reported in `unknown`."""
    from toolkit import final

    mode = scheduler_mode or loaded.plan.settings.hosted_scheduler_mode
    loaded = revisions.in_mode(loaded, mode)
    chosen = set(phases) if phases is not None else {p.id for p in loaded.plan.phases if p.id != final.PHASE}
    migrations, skipped = _migrations(loaded, chosen)
    folder = dest / "supabase" / "migrations"
    folder.mkdir(parents=True, exist_ok=True)
    added, differ = [], []
    for m in migrations:
        path = folder / m.name
        if not path.is_file():
            path.write_text(m.text)
            added.append(m.name)
        elif path.read_text() != m.text:
            differ.append(m.name)     # history: kept as it was exported
    written = {m.name for m in migrations}
    unknown = sorted(p.name for p in folder.glob("*.sql") if OURS.match(p.name) and p.name not in written)
    functions = _functions(loaded, dest / "supabase")
    return {"folder": str(dest / "supabase"), "scheduler_mode": mode,
            "migrations": [m.name for m in migrations], "added": added, "skipped": skipped,
            "kept_different": differ, "unknown": unknown, "functions": functions}


# ---------------------------------------------------------------------------------------
# Migrations

def _migrations(loaded: LoadedPlan, phases: set[int]) -> tuple[list[Migration], list[str]]:
    from toolkit.render import Renderer

    unreleased = revisions.unreleased(loaded)
    if unreleased:
        raise ToolkitError(f"cannot export what is not released: {', '.join(unreleased)}",
                           hint="`toolkit revisions lock` releases them (templates/README.md)")
    renderer = Renderer(loaded)
    steps = {s.sql: (p, s) for p in loaded.plan.phases for s in p.sql_steps}
    toolkit = {m.name: m for m in schema.migrations()}
    found, skipped = [], []
    for entry in revisions.read_lock(loaded):
        if entry.toolkit:
            if entry.toolkit not in toolkit:
                raise ToolkitError(f"the lock file lists toolkit schema migration {entry.toolkit}, which this toolkit lacks")
            found.append(Migration(f"{entry.version}_toolkit_{entry.toolkit}.sql", _toolkit_file(toolkit[entry.toolkit])))
            continue
        if entry.step not in steps:
            raise ToolkitError(f"the lock file lists {entry.step}, which is not a step of the plan")
        phase, step = steps[entry.step]
        if phase.id not in phases:
            continue
        name = f"{entry.version}_phase{phase.id}_{step.id}_r{entry.revision}.sql"
        if not step.applies(loaded.plan.settings):
            skipped.append(f"{name} (only with scheduler_mode {(step.when or '').rsplit(' ', 1)[-1]})")
            continue
        if not step.transaction:
            raise ToolkitError(f"phase {phase.id} step {step.id} runs outside a transaction, and `supabase db push` "
                               f"runs each migration in one: it cannot be exported")
        found.append(Migration(name, _revision_file(renderer, phase, step, entry.revision)))
    return found, skipped


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _toolkit_file(m: "schema.Migration") -> str:
    # Nothing here may depend on the toolkit's version: a later export writes the same text.
    return (f"-- The toolkit's own schema, version {m.version} ({m.name}): the ledger and the helpers the\n"
            f"-- steps' scripts call. Exported by `toolkit export supabase`; do not edit.\n\n"
            f"{m.sql.rstrip()}\n\n"
            f"INSERT INTO toolkit.schema_version (version, name, toolkit_version)\n"
            f"VALUES ({m.version}, {_literal(m.name)}, 'supabase db push');\n")


def _revision_file(renderer, phase, step, revision: int) -> str:
    # Only what the revision is and the plan's values shape the text (not the toolkit's version,
    # the revision's `why` or where its files live now): a later export writes the same file.
    settings = renderer.loaded.plan.settings
    head = (f"-- Phase {phase.id} step {step.id}, revision {revision}"
            f"{' (as first released)' if revision == 1 else ' (from revision ' + str(revision - 1) + ')'}.\n"
            f"-- Exported by `toolkit export supabase`; do not edit: a change to a step is a new\n"
            f"-- revision (templates/README.md).\n\n"
            f"-- What `toolkit phase apply` gives a step's transaction, for this migration's only.\n"
            f"SELECT pg_catalog.set_config('toolkit.params', {_literal(renderer.params())}, true);\n"
            f"SELECT pg_catalog.set_config('toolkit.actor', 'supabase db push', true);\n"
            f"SELECT pg_catalog.set_config('search_path', 'public, extensions', true);\n"
            f"SELECT pg_catalog.set_config('lock_timeout', {_literal(settings.timeouts.lock_timeout)}, true);\n"
            f"SELECT pg_catalog.set_config('statement_timeout', {_literal(settings.timeouts.statement_timeout)}, true);\n\n")
    target = renderer.step(phase, step, revision)
    if revision == 1:
        body, checks = f"-- {step.sql}/deploy.sql\n{target.deploy}", [target.verify]
    else:
        t = renderer.upgrade(phase, step, revision)
        body = t.sql or f"-- Nothing runs: revision {revision} changes no object ({t.kind}).\n"
        checks = [c for c in (t.verify, target.verify) if c]
    return head + body.rstrip() + "\n\n" + "".join(_verify_block(c, revision) for c in checks)


def _verify_block(verify: str, revision: int) -> str:
    if VERIFY_SQL_TAG in verify or VERIFY_TAG in verify:
        raise ToolkitError(f"a verify script contains {VERIFY_SQL_TAG}, which the export uses to quote it")
    return (f"-- The verify of revision {revision}, as `toolkit phase apply` runs it before commit: a\n"
            f"-- failure stops the push; what the checks write is rolled back.\n"
            f"DO {VERIFY_TAG}\n"
            f"BEGIN\n"
            f"    EXECUTE {VERIFY_SQL_TAG}\n{verify.rstrip()}\n{VERIFY_SQL_TAG};\n"
            f"    RAISE EXCEPTION 'undo the verify''s writes' USING ERRCODE = 'TKVRX';\n"
            f"EXCEPTION WHEN SQLSTATE 'TKVRX' THEN\n"
            f"    NULL;\n"
            f"END\n"
            f"{VERIFY_TAG};\n")


# ---------------------------------------------------------------------------------------
# Edge Functions and config.toml

def _functions(loaded: LoadedPlan, supabase_dir: Path) -> list[dict]:
    """Each function under its slug with a deno.json of its imports (the CLI's per-function
    import map), _shared/ beside them, tests left out; verify_jwt into config.toml."""
    from toolkit import edge

    source = loaded.templates / "edge"
    if not (source / "deno.json").is_file():
        raise ToolkitError(f"no Edge Functions found at {source}")
    imports = {"imports": json.loads((source / "deno.json").read_text()).get("imports", {})}
    out = supabase_dir / "functions"
    settings = []
    with tempfile.TemporaryDirectory(prefix="toolkit-export-") as tmp:
        build = edge.render(source, loaded.plan.names, Path(tmp) / "functions")
        out.mkdir(parents=True, exist_ok=True)
        for base in edge.function_names(source):
            slug = loaded.plan.names.slug(base)
            verify_jwt = bool(json.loads((source / base / "config.json").read_text())["verify_jwt"])
            _replace(build / slug, out / slug)
            (out / slug / "deno.json").write_text(json.dumps(imports, indent=2) + "\n")
            settings.append({"function": slug, "verify_jwt": verify_jwt})
        _replace(build / "_shared", out / "_shared")
    _config(supabase_dir / "config.toml", settings)
    return settings


def _replace(source: Path, dest: Path) -> None:
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(source, dest, ignore=SKIP_FUNCTION_FILES)


def _config(path: Path, functions: list[dict]) -> None:
    """Add each function's section to config.toml (made when missing); a section that is
    there already must say the same verify_jwt."""
    text = path.read_text() if path.is_file() else (
        "# Written by `toolkit export supabase`: the Edge Functions' settings. `supabase init` writes\n"
        "# the rest of this file; the Supabase CLI takes its defaults for whatever is missing.\n")
    try:
        current = tomllib.loads(text).get("functions", {})
    except tomllib.TOMLDecodeError as exc:
        raise ToolkitError(f"{path} is not valid TOML: {exc}") from None
    wrong = [f"{f['function']} (verify_jwt = {str(current[f['function']]['verify_jwt']).lower()}, the function "
             f"needs {str(f['verify_jwt']).lower()})" for f in functions
             if "verify_jwt" in current.get(f["function"], {}) and current[f["function"]]["verify_jwt"] != f["verify_jwt"]]
    if wrong:
        raise ToolkitError(f"{path} disagrees with the functions' config.json: {'; '.join(wrong)}",
                           hint="fix the section in config.toml (or the function's config.json)")
    missing = [f for f in functions if "verify_jwt" not in current.get(f["function"], {})]
    for f in missing:
        if f["function"] in current:
            raise ToolkitError(f"{path} has a [functions.{f['function']}] section without verify_jwt",
                               hint=f"add `verify_jwt = {str(f['verify_jwt']).lower()}` to it")
        text = text.rstrip("\n") + f"\n\n[functions.{f['function']}]\nverify_jwt = {str(f['verify_jwt']).lower()}\n"
    if missing or not path.is_file():
        path.write_text(text)
