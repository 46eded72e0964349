"""Object names: the one place that turns the plan's suffix into table, partition, function,
view, cron-job and Edge Function names, for the Python modules and (rendered into
`_shared/names.ts`) for the Edge Functions. The SQL templates apply the same suffix through
`{{ suffix }}`; tests run the main flows with another suffix to hold the three together.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from typing import Iterable

# Every object the plan creates under a suffixed name (the base names).
TABLES = ("data_type_registry", "active_subscriptions", "api_call_queue", "api_data_usage", "queue_config",
          "api_quota_state", "processor_state", "processor_runs", "staleness_config", "staleness_state",
          "presence_analytics", "subscription_rate_limits")
PARTITIONS = ("pending", "processing", "completed", "failed")
VIEWS = ("queue_metrics", "queue_depth")
# Phase 0's tables, which carry no suffix: the flags, their audit and the ops event log.
PLAIN_TABLES = ("feature_flags", "feature_flag_audit", "ops_events")
FUNCTIONS = ("is_data_stale", "is_profile_stale", "is_quota_exceeded", "get_queue_batch", "take_call_permits",
             "complete_queue_jobs", "fail_queue_job", "reset_job_immediate", "recover_stuck_jobs", "queue_refresh_if_not_exists",
             "queue_refreshes", "retry_failed_jobs", "purge_queue_history", "get_quota_status",
             "invoke_processor_loop", "record_processor_result", "maintain_queue_partitions",
             "check_and_queue_stale_batch", "check_and_queue_stale_data_from_presence",
             "check_processor_responses", "refresh_analytics_from_presence", "queue_scheduled_refreshes",
             "track_subscription", "untrack_subscription")
CRON_JOBS = ("queue-presence-check", "queue-presence-analytics", "queue-scheduled-refresh", "queue-recover-stuck",
             "queue-maintenance", "queue-processor")
# Edge Functions whose slug carries the suffix (as a dash: queue-processor-v2); the health
# check is the project's, not a version's.
EDGE_FUNCTIONS = {"queue-processor": True, "track-subscription": True, "untrack-subscription": True,
                  "health-check": False}
# The master switch of the queue system (seeded by phase 0; read by the SQL, the CLI and the
# browser module).
SYSTEM_FLAG = "use_queue_system"


@dataclass(frozen=True)
class Names:
    suffix: str

    def __getitem__(self, base: str) -> str:
        """The suffixed name of a table, view or function of the plan."""
        if base not in TABLES and base not in VIEWS and base not in FUNCTIONS:
            raise KeyError(f"{base!r} is not an object the plan names")
        return base + self.suffix

    def partition(self, status: str) -> str:
        if status not in PARTITIONS:
            raise KeyError(f"{status!r} is not a queue partition")
        return f"api_call_queue{self.suffix}_{status}"

    def cron_job(self, base: str) -> str:
        if base not in CRON_JOBS:
            raise KeyError(f"{base!r} is not a cron job of the plan")
        return base + self.suffix

    def slug(self, function: str) -> str:
        """An Edge Function's deployed name (its folder under templates/edge is the base name)."""
        if function not in EDGE_FUNCTIONS:
            raise KeyError(f"{function!r} is not an Edge Function of the plan")
        return function + self.suffix.replace("_", "-") if EDGE_FUNCTIONS[function] else function

    @cached_property
    def own_relations(self) -> frozenset[str]:
        """Every table, partition and view the rollout creates, under these names and under its
        base names (what Phase 6 renames them to): none of them is a data type's table."""
        relations = (*TABLES, *VIEWS, *(f"api_call_queue_{p}" for p in PARTITIONS))
        return frozenset((*PLAIN_TABLES, *relations, *(self.objects[r] for r in relations)))

    @cached_property
    def objects(self) -> dict[str, str]:
        """Every suffixed object, base -> name (what the Edge Functions receive)."""
        found = {b: self[b] for b in (*TABLES, *VIEWS, *FUNCTIONS)}
        found.update({f"api_call_queue_{p}": self.partition(p) for p in PARTITIONS})
        return found

    def typescript(self) -> str:
        """`_shared/names.ts` for this suffix."""
        names = json.dumps(self.objects, indent=2, sort_keys=True)
        slugs = json.dumps({f: self.slug(f) for f in EDGE_FUNCTIONS}, indent=2, sort_keys=True)
        return (
            "// Object names of the plan, rendered by the toolkit from phases.yaml (settings.suffix).\n"
            "// The copy under templates/ holds the default suffix, so that the functions run as they are\n"
            "// in unit tests; a test keeps it equal to what the toolkit renders for the default plan.\n"
            f"export const SUFFIX = {json.dumps(self.suffix)};\n\n"
            f"export const SYSTEM_FLAG = {json.dumps(SYSTEM_FLAG)};\n\n"
            f"export const NAMES = {names} as const;\n\n"
            f"export const SLUGS = {slugs} as const;\n\n"
            "/** A schema-qualified name for postgres.js's identifier helper: sql(qualified(\"x\")). */\n"
            "export function qualified(base: keyof typeof NAMES): string {\n"
            "  return `public.${NAMES[base]}`;\n"
            "}\n"
        )


def effective(suffix: str, renamed: bool) -> Names:
    """The names the plan's objects have on a target: the plan's suffix, until Phase 6's
    remove_suffix renamed them to their base names (toolkit.final.Deployed says which)."""
    return Names("" if renamed else suffix)


def moved_slugs(before: Names, after: Names) -> dict[str, str]:
    """Edge Function slugs that a change of names moves: old slug -> new slug."""
    return {before.slug(f): after.slug(f) for f in EDGE_FUNCTIONS if before.slug(f) != after.slug(f)}


def renamed_objects(before: Names, found: Iterable[str] = ()) -> dict[str, str]:
    """What Phase 6 renames: every object name carrying `before.suffix` -> its base name. The
    objects this module lists, plus `found` (names the templates use that carry the suffix), so
    that an object a template adds is renamed without being listed here."""
    after = Names("")
    mapping = {before.objects[b]: after.objects[b] for b in before.objects}
    for name in found:
        base = unsuffixed(name, before.suffix)
        if base is not None:
            mapping.setdefault(name, base)
    return {old: new for old, new in sorted(mapping.items()) if old != new}


def renamed_cron_jobs(before: Names) -> dict[str, str]:
    """The plan's pg_cron jobs under `before` -> their names once Phase 6 renamed them."""
    return {before.cron_job(j): j for j in CRON_JOBS if before.cron_job(j) != j}


def unsuffixed(name: str, suffix: str) -> str | None:
    """`name` with the suffix taken out where it ends a word (api_call_queue_v2_pending ->
    api_call_queue_pending); None when the name does not carry it."""
    if not suffix:
        return None
    i = name.find(suffix)
    while i >= 0:
        end = i + len(suffix)
        if end == len(name) or name[end] in "_-":
            return name[:i] + name[end:]
        i = name.find(suffix, i + 1)
    return None
