"""Strict Jinja2 rendering of a step's deploy / revert / verify scripts, of any of its
revisions, and of the scripts that take a live database from one revision to the next."""

from __future__ import annotations

import functools
import hashlib
import json
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import jinja2

from toolkit import revisions, rules
from toolkit.config import SCRIPTS, LoadedPlan, Phase, Plan, Step
from toolkit.errors import ToolkitError
from toolkit.final import Deployed

# Scripts that read toolkit.param() depend on the plan's values as well as on their text:
# on the values at the paths they read (toolkit.param('settings', 'schedules'), ...).
PARAM_MARKER = "toolkit.param("
_PARAM_CALL = re.compile(r"toolkit\.param\(([^()]*)\)")
_LITERAL = re.compile(r"\s*'([^']*)'\s*")


def read_paths(sql: str) -> list[tuple[str, ...]] | None:
    """The toolkit.param() paths a script reads, in order; None when one is not a list of
    literals (then the script depends on every value)."""
    paths = []
    for m in _PARAM_CALL.finditer(sql):
        parts = m.group(1).split(",")
        literals = [_LITERAL.fullmatch(p) for p in parts]
        if not all(literals):
            return None
        paths.append(tuple(lit.group(1) for lit in literals))
    return paths


@dataclass(frozen=True)
class RenderedStep:
    phase: int
    step: Step
    revision: int
    deploy: str
    revert: str
    verify: str
    template_hash: str
    params_json: str
    # The deploy script as the plan renders it before Phase 6 changed names and flag checks
    # (None: the same as `deploy`): checksums are of it, so Phase 6 is not drift of earlier steps.
    canonical_deploy: str | None = None

    @cached_property
    def checksum(self) -> str:
        """What the step deploys: its rendered SQL, plus the values it reads when it reads any
        (those at the paths it reads: a setting it does not read changes nothing of it)."""
        deploy = self.deploy if self.canonical_deploy is None else self.canonical_deploy
        digest = hashlib.sha256(deploy.encode())
        if PARAM_MARKER in deploy:
            paths = read_paths(deploy)
            if paths is None:
                digest.update(self.params_json.encode())
            else:
                params = json.loads(self.params_json)
                for path in sorted(set(paths)):
                    digest.update(json.dumps([path, _at(params, path)], sort_keys=True).encode())
        return digest.hexdigest()


def _at(values, path: tuple[str, ...]):
    for key in path:
        values = values.get(key) if isinstance(values, dict) else None
    return values


@dataclass(frozen=True)
class Transition:
    """What takes a live database from one revision of a step to the next one (an upgrade)
    or back (a downgrade): scripts in order, each with the template it came from, then the
    transition's own verify when it has one (the target revision's verify runs as well)."""

    phase: int
    step: Step
    source: int
    target: int
    kind: str
    # (label, rendered SQL); a label names the script as released, wherever its file lives
    # now (an exported migration quotes it and must never change)
    scripts: tuple[tuple[str, str], ...]
    verify: str | None = None

    @property
    def sql(self) -> str:
        return "".join(f"-- {label}\n{text}" for label, text in self.scripts)


@functools.cache
def _environment(search: tuple[str, ...]) -> jinja2.Environment:
    """One environment per search path, shared by every renderer: compiled templates are
    reused (and reloaded when their file changes)."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(list(search)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )


class Renderer:
    """Renders for the plan as deployed on a target (`deployed`; default: what the plan carries):
    after Phase 6, with the objects' base names and without flag checks."""

    def __init__(self, loaded: LoadedPlan, deployed: Deployed | None = None):
        self.loaded = loaded
        self.root = loaded.templates / "sql"
        self.deployed = loaded.plan.deployed if deployed is None else deployed
        self.context = _context(loaded, self.deployed)
        self.canonical = self.context if self.deployed == Deployed() else _context(loaded, Deployed())

    def params(self, drop_data: bool = False, context: dict | None = None) -> str:
        """The one bind parameter every script receives, as JSON text."""
        context = self.context if context is None else context
        values = {k: context[k] for k in PARAMS}  # the rest renders into the SQL
        return json.dumps({**values, "drop_data": drop_data}, sort_keys=True)

    # -- templates ------------------------------------------------------------------------
    def _env(self, *search: Path) -> jinja2.Environment:
        """An environment that finds templates in `search` first, then in templates/sql: a
        frozen revision's folder holds its own copies of what its scripts import."""
        return _environment(tuple(str(p) for p in (*search, self.root)))

    def _render(self, env: jinja2.Environment, name: str, shown: str, context: dict | None = None) -> tuple[str, str]:
        """(rendered text, source file) of template `name`; `shown` names it in messages."""
        try:
            template = env.get_template(name)
            return template.render(self.context if context is None else context), str(template.filename)
        except jinja2.TemplateNotFound:
            raise ToolkitError(f"template {shown} not found under {self.root}")
        except jinja2.UndefinedError as exc:
            raise ToolkitError(f"template {shown}: {exc.message} (strict rendering: every variable must be defined)")
        except jinja2.TemplateSyntaxError as exc:
            raise ToolkitError(f"template {shown}:{exc.lineno}: {exc.message}")

    def _template(self, step: Step, relative: str) -> str:
        """A template of the step folder outside the revisions (upgrade/, down/), rendered."""
        return self._render(self._env(), f"{step.sql}/{relative}", f"{step.sql}/{relative}")[0]

    def scripts(self, step: Step, context: dict | None = None) -> dict[str, str]:
        """A step's newest deploy, revert and verify scripts, rendered (with `context`: as that
        context, e.g. Phase 6's without flag checks)."""
        return {name: self._render(self._env(), f"{step.sql}/{name}", f"{step.sql}/{name}", context)[0]
                for name in SCRIPTS}

    # -- a revision -------------------------------------------------------------------------
    @cached_property
    def _frontend(self) -> tuple[str, str, str | None]:
        """The frontend module rendered for the plan as deployed (its manifest), its sources' hash,
        and (when Phase 6 changed names or flag checks) the manifest before Phase 6."""
        from toolkit import frontend

        plan = self.loaded.plan
        rendered = frontend.rendered_manifest(self.loaded, plan.as_deployed(self.deployed))
        canonical = None
        if self.canonical is not self.context:
            canonical = frontend.rendered_manifest(self.loaded, plan.as_deployed(Deployed()))
        sources = hashlib.sha256(frontend.manifest(frontend.source_dir(self.loaded)).encode()).hexdigest()
        return rendered, sources, canonical

    def step(self, phase: Phase, step: Step, revision: int | None = None) -> RenderedStep:
        """Revision `revision` of the step (default: the newest), as deployed from scratch."""
        if step.kind == "frontend":
            # What it deploys is the module's files (their manifest); nothing runs in the database.
            manifest, sources, canonical = self._frontend
            return RenderedStep(phase=phase.id, step=step, revision=1, deploy=manifest, revert="", verify="",
                                template_hash=sources, params_json="", canonical_deploy=canonical)
        revision = step.revision if revision is None else revision
        if not 1 <= revision <= step.revision:
            raise ToolkitError(f"phase {phase.id} step {step.id} has no revision {revision} (revisions 1 to {step.revision})")
        folder = revisions.revision_dir(self.root / step.sql, step, revision)
        if revision == step.revision:
            env, names = self._env(), {n: f"{step.sql}/{n}" for n in SCRIPTS}
        else:
            env, names = self._env(folder), {n: n for n in SCRIPTS}
        texts: dict[str, str] = {}
        sources = hashlib.sha256()
        for name in SCRIPTS:
            shown = str((folder / name).relative_to(self.root))
            texts[name], filename = self._render(env, names[name], shown)
            with open(filename, "rb") as fh:
                sources.update(fh.read())
        canonical = None
        if self.canonical is not self.context:
            canonical = self._render(env, names["deploy.sql"], names["deploy.sql"], self.canonical)[0]
        return RenderedStep(
            phase=phase.id,
            step=step,
            revision=revision,
            deploy=texts["deploy.sql"],
            revert=texts["revert.sql"],
            verify=texts["verify.sql"],
            template_hash=sources.hexdigest(),
            params_json=self.params(context=self.canonical),
            canonical_deploy=canonical,
        )

    def phase(self, phase: Phase) -> list[RenderedStep]:
        return [self.step(phase, s) for s in self.loaded.plan.deployable(phase)]

    # -- between revisions ------------------------------------------------------------------
    def upgrade(self, phase: Phase, step: Step, target: int) -> Transition:
        """From revision target - 1 to `target`."""
        entry = step.revision_entry(target)
        folder = self.root / step.sql
        scripts: list[tuple[str, str]] = []
        script = revisions.upgrade_path(folder, target)
        if entry.upgrade in ("script", "redeploy") and script.is_file():
            scripts.append((f"{step.sql}/{script.relative_to(folder)}", self._template(step, str(script.relative_to(folder)))))
        if entry.upgrade == "redeploy":
            deploy = self.step(phase, step, target).deploy
            scripts.append((f"{step.sql}/deploy.sql (revision {target}, run again)", deploy))
        check = revisions.upgrade_verify_path(folder, target)
        verify = self._template(step, str(check.relative_to(folder))) if check.is_file() else None
        return Transition(phase.id, step, target - 1, target, entry.upgrade, tuple(scripts), verify)

    def downgrade(self, phase: Phase, step: Step, source: int) -> Transition | None:
        """From revision `source` back to source - 1: its down script, then (when `source`
        was reached by running a deploy again) the deploy of source - 1; None without one."""
        entry = step.revision_entry(source)
        folder = self.root / step.sql
        script = revisions.down_path(folder, source)
        if entry.upgrade == "none":
            return Transition(phase.id, step, source, source - 1, "none", ())
        if not script.is_file():
            return None
        scripts = [(f"{step.sql}/{script.relative_to(folder)}", self._template(step, str(script.relative_to(folder))))]
        if entry.upgrade == "redeploy":
            scripts.append((f"{step.sql}/deploy.sql (revision {source - 1}, run again)",
                            self.step(phase, step, source - 1).deploy))
        return Transition(phase.id, step, source, source - 1, entry.upgrade, tuple(scripts))


# What scripts read through toolkit.param(); the other context entries render into the SQL.
PARAMS = ("suffix", "settings", "data_types")


def _context(loaded: LoadedPlan, deployed: Deployed) -> dict:
    """What templates see. `suffix` and `flag_checks` follow Phase 6 (toolkit.final); the
    templates of Phase 6 itself name their objects through `final`, which is the same before
    and after it."""
    from toolkit.final import moved_functions, rename_plan

    plan: Plan = loaded.plan.as_deployed(deployed)
    return {
        "suffix": plan.names.suffix,
        # settings.docs is read by the documents only: a change to it is no change of the SQL.
        # The processor URL follows its function's slug when Phase 6 renamed it.
        "settings": {**plan.settings.model_dump(exclude={"docs"}), "processor_url": plan.processor_url},
        "data_types": [d.model_dump() for d in plan.data_types],
        "rules": rules.context(),
        "flag_checks": plan.flag_checks,
        "flags_cleaned": deployed.flags_cleaned,
        "final": {
            "suffix": "",
            "plan_suffix": plan.settings.suffix,
            "renames": lambda: rename_plan(loaded),
            "moved_functions": moved_functions(plan.as_deployed(Deployed(renamed=True))),
        },
    }
