"""The Edge Functions (templates/edge): render them for the plan, bundle, type-check, lint and test them.

The function folders under templates/edge carry base names (`queue-processor`); a build for a
plan copies them under their slugs (`queue-processor-v2`, from toolkit.names) with
`_shared/names.ts` written for the plan's suffix, so that what runs, is deployed or exported
always names the plan's objects. Each function's settings (verify_jwt, the secrets it needs)
are its folder's config.json, read here for the deploy and by the local gateway. Serving a
build locally is toolkit.dev.gateway's business.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import re
import shutil
import subprocess
from dataclasses import dataclass, field
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
# A function's settings and what a deploy uploads

CONFIG_FILE = "config.json"
IMPORT_MAP = "deno.json"
# Uploaded paths are those of the Supabase CLI's layout (`supabase/functions/<slug>/...`), so
# a function deployed by the toolkit looks as if `supabase functions deploy` had sent it.
UPLOAD_ROOT = "supabase/functions"
ENTRYPOINT = "index.ts"


@dataclass(frozen=True)
class FunctionSettings:
    verify_jwt: bool            # Supabase's default when unsaid is true; the toolkit always says it
    secrets: tuple[str, ...]    # what the function reads from the project's secrets


def function_settings(folder: Path, base: str) -> FunctionSettings:
    """`<folder>/<base>/config.json`: {"verify_jwt": bool, "secrets": ["NAME", ...]}."""
    path = folder / base / CONFIG_FILE
    try:
        data = json.loads(path.read_text()) if path.is_file() else {}
    except ValueError as exc:
        raise ToolkitError(f"{path}: not JSON ({exc})") from None
    verify_jwt = data.get("verify_jwt", True)
    secrets = data.get("secrets", [])
    if not isinstance(verify_jwt, bool) or not isinstance(secrets, list) or not all(
            isinstance(x, str) and x for x in secrets):
        raise ToolkitError(f"{path}: verify_jwt must be true or false and secrets a list of names")
    return FunctionSettings(verify_jwt=verify_jwt, secrets=tuple(secrets))


@dataclass(frozen=True)
class Bundle:
    """One function as the Management API's deploy receives it."""

    slug: str
    verify_jwt: bool
    files: dict[str, bytes] = field(repr=False)    # upload path -> content

    @property
    def entrypoint(self) -> str:
        return f"{UPLOAD_ROOT}/{self.slug}/{ENTRYPOINT}"

    @property
    def import_map(self) -> str:
        return f"{UPLOAD_ROOT}/{IMPORT_MAP}"

    @property
    def metadata(self) -> dict:
        return {"entrypoint_path": self.entrypoint, "import_map_path": self.import_map, "static_patterns": [],
                "verify_jwt": self.verify_jwt, "name": self.slug}

    @property
    def content_hash(self) -> str:
        """What is deployed, as one digest: the metadata and every file (path and content)."""
        digest = hashlib.sha256(json.dumps(self.metadata, sort_keys=True).encode())
        for path in sorted(self.files):
            digest.update(b"\0" + path.encode() + b"\0" + hashlib.sha256(self.files[path]).digest())
        return digest.hexdigest()


# import/export ... from "x", import "x", import("x"); comments are removed first.
_COMMENTS = re.compile(r"/\*.*?\*/|(?<![:\\])//[^\n]*", re.DOTALL)
_IMPORTS = re.compile(r"""(?:\bimport|\bexport)\b[^"';]*?\bfrom\s*["']([^"']+)["']"""
                      r"""|\bimport\s*["']([^"']+)["']|\bimport\s*\(\s*["']([^"']+)["']\s*\)""")


def _specifiers(source: str) -> list[str]:
    return [next(g for g in m.groups() if g) for m in _IMPORTS.finditer(_COMMENTS.sub("", source))]


def _excluded(rel: str) -> bool:
    return rel.endswith("_test.ts") or "/testing/" in f"/{rel}"


def bundle(build: Path, slug: str, verify_jwt: bool) -> Bundle:
    """The files a function's entrypoint imports in a rendered build (relative imports followed,
    `_shared/` included, npm: and bare specifiers of the import map left to the platform),
    plus the import map."""
    import_map = build / IMPORT_MAP
    mapped = json.loads(import_map.read_text()).get("imports", {}) if import_map.is_file() else {}
    entry = f"{slug}/{ENTRYPOINT}"
    if not (build / entry).is_file():
        raise ToolkitError(f"{build / entry} does not exist: {slug} has no entrypoint")
    seen: dict[str, bytes] = {}
    todo = [entry]
    while todo:
        rel = todo.pop()
        if rel in seen:
            continue
        if _excluded(rel):
            raise ToolkitError(f"{rel} is a test or a test fixture, yet {slug} imports it",
                               hint="production code must not import *_test.ts or testing/ files")
        path = build / rel
        if not path.is_file():
            raise ToolkitError(f"{slug}: {rel} is imported but does not exist in the build")
        seen[rel] = path.read_bytes()
        for spec in _specifiers(seen[rel].decode("utf-8")):
            target = mapped.get(spec, spec)
            if not target.startswith(("./", "../")):
                continue  # npm:, jsr:, https: and bare names: resolved by the platform
            resolved = posixpath.normpath(posixpath.join(posixpath.dirname(rel), target))
            if resolved.startswith("../"):
                raise ToolkitError(f"{slug}: {rel} imports {spec}, outside the functions folder")
            todo.append(resolved)
    files = {f"{UPLOAD_ROOT}/{rel}": content for rel, content in sorted(seen.items())}
    if import_map.is_file():
        files[f"{UPLOAD_ROOT}/{IMPORT_MAP}"] = import_map.read_bytes()
    return Bundle(slug=slug, verify_jwt=verify_jwt, files=files)


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
