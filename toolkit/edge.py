"""The Edge Functions (templates/edge): render them for the plan, type-check, lint and test them.

The function folders under templates/edge carry base names (`queue-processor`); a build for a
plan copies them under their slugs (`queue-processor-v2`, from toolkit.names) with
`_shared/names.ts` written for the plan's suffix, so that what runs, is deployed or exported
always names the plan's objects. Serving a build locally is toolkit.dev.gateway's business.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from toolkit.errors import ToolkitError
from toolkit.names import EDGE_FUNCTIONS, Names
from toolkit.project import Project, find_project

DENO_PERMISSIONS = ["--allow-net", "--allow-env", "--allow-read"]
NAMES_FILE = Path("_shared") / "names.ts"


# ---------------------------------------------------------------------------------------
# Where things are

def functions_dir(project: Project | None = None) -> Path:
    """The project's templates/edge (the installed toolkit's own when the project has none)."""
    project = project or find_project()
    here = project.templates / "edge"
    if (here / "deno.json").is_file():
        return here
    raise ToolkitError(f"no Edge Functions found at {here}")


def deno_bin() -> str:
    """The Deno binary of the `deno` PyPI package (or DENO_BIN)."""
    if os.environ.get("DENO_BIN"):
        path = os.environ["DENO_BIN"]
        if not os.access(path, os.X_OK):
            raise ToolkitError(f"DENO_BIN={path} is not an executable")
        return path
    try:
        from deno import find_deno_bin
    except ImportError:
        raise ToolkitError("Deno is not installed", hint="pip install deno (it is a toolkit dependency)") from None
    path = find_deno_bin()
    if not path or not Path(path).exists():
        raise ToolkitError("the deno package has no binary for this platform", hint="install Deno and set DENO_BIN")
    return str(path)


def function_names(folder: Path) -> list[str]:
    return sorted(p.parent.name for p in folder.glob("*/handler.ts") if not p.parent.name.startswith("_"))


# ---------------------------------------------------------------------------------------
# Building for a plan

def render(source: Path, names: Names, dest: Path, moved: dict[str, str] | None = None) -> Path:
    """Copy the functions under their slugs into `dest` (emptied first), with names.ts for `names`;
    `moved` (old slug -> new slug, toolkit.final.moved_functions) adds under each old slug a
    function that answers where it went, for the gateway to serve and a deploy to deploy."""
    unknown = [f for f in function_names(source) if f not in EDGE_FUNCTIONS]
    if unknown:
        raise ToolkitError(f"{source} holds functions the plan does not name: {', '.join(unknown)}",
                           hint="add them to toolkit.names.EDGE_FUNCTIONS")
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns("node_modules", ".*"))
    for base in function_names(source):
        slug = names.slug(base)
        if slug != base:
            (dest / base).rename(dest / slug)
    (dest / NAMES_FILE).write_text(names.typescript())
    for old, new in (moved or {}).items():
        write_moved(dest, old, new)
    return dest


def write_moved(dest: Path, old: str, new: str) -> Path:
    """The function under `old` that points callers at `new` (templates/edge/_shared/moved.ts)."""
    folder = dest / old
    folder.mkdir()
    (folder / "handler.ts").write_text(
        f"// Written by the toolkit: {old} was renamed to {new} by the final migration (phase 6).\n"
        'import { movedHandler } from "../_shared/moved.ts";\n\n'
        f"export default movedHandler({json.dumps(old)}, {json.dumps(new)});\n")
    (folder / "index.ts").write_text('import handler from "./handler.ts";\n\nDeno.serve(handler);\n')
    (folder / "config.json").write_text('{ "verify_jwt": false }\n')
    return folder


# ---------------------------------------------------------------------------------------
# check / test

@dataclass
class DenoRun:
    ok: bool
    output: str
    commands: list[str]


def _run(folder: Path, *args_list: list[str], timeout: float = 600) -> DenoRun:
    """Run deno commands in the functions folder, all of them, collecting their output."""
    deno = deno_bin()
    out, ok, commands = [], True, []
    env = {**os.environ, "NO_COLOR": "1"}
    for args in args_list:
        cmd = [deno, *args]
        commands.append(" ".join(["deno", *args]))
        try:
            done = subprocess.run(cmd, cwd=folder, env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            out.append(f"$ deno {' '.join(args)}\ntimed out after {timeout:.0f} s")
            ok = False
            continue
        out.append(f"$ deno {' '.join(args)}\n{(done.stdout + done.stderr).strip()}")
        ok = ok and done.returncode == 0
    return DenoRun(ok, "\n".join(out), commands)


def check(folder: Path) -> DenoRun:
    """`deno check` of every entry point (index.ts, handler.ts, a gateway, the tests), then `deno lint`."""
    entries = sorted({str(p.relative_to(folder)) for pattern in ("*/index.ts", "*/handler.ts", "_gateway/main.ts",
                                                                   "**/*_test.ts")
                      for p in folder.glob(pattern)})
    return _run(folder, ["check", *entries], ["lint"])


def test(folder: Path) -> DenoRun:
    """The Deno unit tests (`**/*_test.ts`)."""
    return _run(folder, ["test", *DENO_PERMISSIONS])
