"""New revisions of two steps, made as templates/README.md tells an engineer to, on a private
copy of the plan and templates (the `project` fixture): never in the real plan."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Cli
from toolkit.config import load_plan

DROP_CLAIM = """\
-- CREATE TYPE cannot be replaced: the claim type goes with the function that returns it, and
-- deploy.sql of revision 2, run again after this, makes both.
DROP FUNCTION public.get_queue_batch{{ suffix }};
DROP TYPE public.queue_claim{{ suffix }};
"""


def _edit(path: Path, *pairs: tuple[str, str]) -> None:
    text = path.read_text()
    for old, new in pairs:
        assert text.count(old) == 1, f"{path}: expected exactly one {old!r} (did the template change?)"
        text = text.replace(old, new)
    path.write_text(text)


def newest(project: Path, phase: int, step: str) -> int:
    """The step's newest revision in the project's plan."""
    return load_plan(project / "phases.yaml").plan.phase(phase).step(step).revision


def make_revisions(project: Path) -> dict[str, tuple[int, int]]:
    """The next revision of api_call_queue (a table: a `note` column, by an upgrade script) and
    of get_queue_batch (a function: the claim carries the note along; redeployed after an
    upgrade script drops what CREATE cannot replace, with a down script to go back).
    Returns each step's (revision before, revision made)."""
    cli = Cli(None, project / "phases.yaml")
    sql = project / "templates/sql"
    queue_k, claim_k = newest(project, 1, "api_call_queue"), newest(project, 2, "get_queue_batch")

    made = cli("revisions", "new", "1", "api_call_queue", "--upgrade", "script", "--why", "jobs carry a note")
    assert made.exit_code == 0, made.output
    queue = sql / "phase1/api_call_queue"
    _edit(queue / "deploy.sql", ("\n) PARTITION BY LIST (status);", ",\n    note            text\n) PARTITION BY LIST (status);"))
    _edit(queue / "verify.sql", ("'],\n    'public.api_call_queue{{ suffix }} has the expected columns",
                                 "', 'note text'],\n    'public.api_call_queue{{ suffix }} has the expected columns"))
    (queue / f"upgrade/{queue_k}-{queue_k + 1}.sql").write_text("ALTER TABLE public.api_call_queue{{ suffix }} ADD COLUMN note text;\n")

    made = cli("revisions", "new", "2", "get_queue_batch", "--upgrade", "redeploy", "--why", "the claim keeps a job's note")
    assert made.exit_code == 0, made.output
    claim = sql / "phase2/get_queue_batch"
    _edit(claim / "deploy.sql",
          ("q.created_at, q.estimated_bytes, q.actual_bytes, q.last_error\n",
           "q.created_at, q.estimated_bytes, q.actual_bytes, q.last_error, q.note\n"),
          ("g.scheduled_for, g.created_at, g.actual_bytes, g.last_error,", "g.scheduled_for, g.created_at, g.actual_bytes, g.last_error, g.note,"),
          ("worker_id, estimated_bytes, actual_bytes, last_error, lease)",
           "worker_id, estimated_bytes, actual_bytes, last_error, lease, note)"),
          ("                       c.last_error, v_lease\n", "                       c.last_error, v_lease, c.note\n"))
    (claim / "upgrade").mkdir(exist_ok=True)
    (claim / f"upgrade/{claim_k}-{claim_k + 1}.sql").write_text(DROP_CLAIM.replace("revision 2", f"revision {claim_k + 1}"))
    (claim / "down").mkdir(exist_ok=True)
    (claim / f"down/{claim_k + 1}-{claim_k}.sql").write_text(DROP_CLAIM.replace("revision 2", f"revision {claim_k}"))

    locked = cli("revisions", "lock")
    assert locked.exit_code == 0, locked.output
    checked = cli("revisions", "check")
    assert checked.exit_code == 0, checked.output
    return {"api_call_queue": (queue_k, queue_k + 1), "get_queue_batch": (claim_k, claim_k + 1)}
