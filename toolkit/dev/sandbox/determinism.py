"""What makes the sandbox deterministic: a fixed "now" and random streams seeded by content.

Every value comes from a `random.Random` seeded with a SHA-256 of what identifies it (never
`hash()`, which changes between processes), and dates are measured from the fixed AS_OF
instant rather than the clock, so the same request gives the same bytes in every process,
on every day.
"""

from __future__ import annotations

import hashlib
import random
from datetime import datetime, timezone

# The sandbox's "now": late 2026, where the legacy seed data lives.
AS_OF = datetime(2026, 11, 13, 19, 0, tzinfo=timezone.utc)


def rng_for(*parts: object) -> random.Random:
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))
