"""`toolkit docs ...`: the Phase 0 documents, rendered into the workspace and kept current."""

from __future__ import annotations

from typing import List, Optional

import typer

from toolkit.cli.output import emit, styled, table

app = typer.Typer(no_args_is_help=True, rich_markup_mode=None,
                  help="The Phase 0 documents: checklists, rollback procedures, baseline, external monitoring.")


@app.command()
def render(
    ctx: typer.Context,
    names: Optional[List[str]] = typer.Argument(
        None, help="Documents to render (checklists, rollback, baseline, monitoring-workflow); default: all."),
) -> None:
    """Render the documents into the workspace (settings.docs.dir and .github/workflows/); the
    first render captures the baseline when none is stored yet."""
    from toolkit.docs import render_documents

    app_ctx = ctx.obj
    target = app_ctx.target()
    app_ctx.confirm(target, "rendering the Phase 0 documents from", destructive=False)
    written = render_documents(app_ctx.load_plan(), target, app_ctx.project.root, app_ctx.actor_name(), names or None)
    emit(app_ctx.json, written, lambda c: c.print(table(None, ["document", "result", "files"], [
        [w["document"], styled(w["result"]) + (f" (baseline {w['captured']} captured)" if w.get("captured") else ""),
         "\n".join(w["files"]) or w.get("note", "")] for w in written])))
    app_ctx.after_change(target)
    if any(w["result"] == "not rendered" for w in written):
        raise typer.Exit(1)


@app.command()
def status(ctx: typer.Context) -> None:
    """Each document: current, stale (its inputs changed since it was rendered) or missing; exit 1
    unless all are current."""
    from toolkit.docs import document_states

    app_ctx = ctx.obj
    states = document_states(app_ctx.load_plan(), app_ctx.target(), app_ctx.project.root)
    payload = [{"document": s.name, "state": s.state, "files": list(s.files), "note": s.note} for s in states]
    emit(app_ctx.json, payload, lambda c: c.print(table(None, ["document", "state", "files", "note"], [
        [p["document"], styled(p["state"]), "\n".join(p["files"]), p["note"]] for p in payload])))
    if any(s.state != "current" for s in states):
        raise typer.Exit(1)
