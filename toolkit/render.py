"""Strict Jinja2 rendering of a step's deploy / revert / verify scripts."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cached_property

import jinja2

from toolkit.config import SCRIPTS, LoadedPlan, Phase, Step
from toolkit import rules
from toolkit.errors import ToolkitError

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

    @cached_property
    def checksum(self) -> str:
        """What the step deploys: its rendered SQL, plus the values it reads when it reads any."""
        digest = hashlib.sha256(self.deploy.encode())
        if PARAM_MARKER in self.deploy:
            digest.update(self.params_json.encode())
        return digest.hexdigest()


class Renderer:
    def __init__(self, loaded: LoadedPlan):
        self.loaded = loaded
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(loaded.templates / "sql")),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            autoescape=False,
        )
        plan = loaded.plan
        self.context = {
            "suffix": plan.settings.suffix,
            "settings": plan.settings.model_dump(),
            "data_types": [d.model_dump() for d in plan.data_types],
            "rules": rules.context(),
        }

    def params(self, drop_data: bool = False) -> str:
        """The one bind parameter every script receives, as JSON text."""
        values = {k: v for k, v in self.context.items() if k != "rules"}  # rules render into the SQL
        return json.dumps({**values, "drop_data": drop_data}, sort_keys=True)

    @cached_property
    def _frontend(self) -> tuple[str, str]:
        """The frontend module rendered for the plan (its manifest) and its sources' hash."""
        from toolkit import frontend

        rendered = frontend.rendered_manifest(self.loaded)
        sources = hashlib.sha256(frontend.manifest(frontend.source_dir(self.loaded)).encode()).hexdigest()
        return rendered, sources

    def step(self, phase: Phase, step: Step) -> RenderedStep:
        if step.kind == "frontend":
            # What it deploys is the module's files (their manifest); nothing runs in the database.
            manifest, sources = self._frontend
            return RenderedStep(phase=phase.id, step=step, deploy=manifest, revert="", verify="",
                                template_hash=sources, params_json="")
        texts: dict[str, str] = {}
        sources = hashlib.sha256()
        for name in SCRIPTS:
            rel = f"{step.sql}/{name}"
            try:
                template = self.env.get_template(rel)
                texts[name] = template.render(self.context)
            except jinja2.TemplateNotFound:
                raise ToolkitError(f"template {rel} not found under {self.loaded.templates / 'sql'}")
            except jinja2.UndefinedError as exc:
                raise ToolkitError(f"template {rel}: {exc.message} (strict rendering: every variable must be defined)")
            except jinja2.TemplateSyntaxError as exc:
                raise ToolkitError(f"template {rel}:{exc.lineno}: {exc.message}")
            with open(template.filename, "rb") as fh:
                sources.update(fh.read())
        return RenderedStep(
            phase=phase.id,
            step=step,
            deploy=texts["deploy.sql"],
            revert=texts["revert.sql"],
            verify=texts["verify.sql"],
            template_hash=sources.hexdigest(),
            params_json=self.params(),
        )

    def phase(self, phase: Phase) -> list[RenderedStep]:
        return [self.step(phase, s) for s in self.loaded.plan.deployable(phase)]
