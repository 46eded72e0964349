"""Strict Jinja2 rendering of a step's deploy / revert / verify scripts."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

import jinja2

from toolkit.config import SCRIPTS, LoadedPlan, Phase, Plan, Step
from toolkit import rules
from toolkit.errors import ToolkitError
from toolkit.final import Deployed

# Scripts that read toolkit.param() depend on the plan's values as well as on their text.
PARAM_MARKER = "toolkit.param("


@dataclass(frozen=True)
class RenderedStep:
    phase: int
    step: Step
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
        """What the step deploys: its rendered SQL, plus the values it reads when it reads any."""
        deploy = self.deploy if self.canonical_deploy is None else self.canonical_deploy
        digest = hashlib.sha256(deploy.encode())
        if PARAM_MARKER in deploy:
            digest.update(self.params_json.encode())
        return digest.hexdigest()


class Renderer:
    """Renders for the plan as deployed on a target (`deployed`; default: what the plan carries):
    after Phase 6, with the objects' base names and without flag checks."""

    def __init__(self, loaded: LoadedPlan, deployed: Deployed | None = None):
        self.loaded = loaded
        self.env = environment(loaded.templates / "sql")
        plan = loaded.plan
        self.deployed = plan.deployed if deployed is None else deployed
        self.context = _context(loaded, self.deployed)
        self.canonical = self.context if self.deployed == Deployed() else _context(loaded, Deployed())

    def params(self, drop_data: bool = False, context: dict | None = None) -> str:
        """The one bind parameter every script receives, as JSON text."""
        context = self.context if context is None else context
        values = {k: context[k] for k in PARAMS}
        return json.dumps({**values, "drop_data": drop_data}, sort_keys=True)

    def scripts(self, step: Step, context: dict | None = None) -> dict[str, str]:
        """A step's deploy, revert and verify scripts, rendered."""
        return {name: self._render(f"{step.sql}/{name}", context or self.context)[0] for name in SCRIPTS}

    def _render(self, rel: str, context: dict) -> tuple[str, str]:
        try:
            template = self.env.get_template(rel)
            return template.render(context), template.filename
        except jinja2.TemplateNotFound:
            raise ToolkitError(f"template {rel} not found under {self.loaded.templates / 'sql'}")
        except jinja2.UndefinedError as exc:
            raise ToolkitError(f"template {rel}: {exc.message} (strict rendering: every variable must be defined)")
        except jinja2.TemplateSyntaxError as exc:
            raise ToolkitError(f"template {rel}:{exc.lineno}: {exc.message}")

    def step(self, phase: Phase, step: Step) -> RenderedStep:
        texts: dict[str, str] = {}
        sources = hashlib.sha256()
        for name in SCRIPTS:
            texts[name], filename = self._render(f"{step.sql}/{name}", self.context)
            with open(filename, "rb") as fh:
                sources.update(fh.read())
        canonical = None
        if self.canonical is not self.context:
            canonical = self._render(f"{step.sql}/deploy.sql", self.canonical)[0]
        return RenderedStep(
            phase=phase.id,
            step=step,
            deploy=texts["deploy.sql"],
            revert=texts["revert.sql"],
            verify=texts["verify.sql"],
            template_hash=sources.hexdigest(),
            params_json=self.params(context=self.canonical),
            canonical_deploy=canonical,
        )

    def phase(self, phase: Phase) -> list[RenderedStep]:
        return [self.step(phase, s) for s in self.loaded.plan.deployable(phase)]


@lru_cache(maxsize=8)
def environment(folder: Path) -> jinja2.Environment:
    """One Jinja environment per template folder, so that its compiled templates are shared by
    every renderer of a command (it reloads a template whose file changed)."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(folder)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )


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
