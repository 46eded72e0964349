"""Input rules that every entry point shares: the ticker-symbol rule, the priority bounds and
the boosts that order the queue's callers.

The SQL templates receive these through the render context (`rules`): the deployed
`public.is_valid_symbol()` and the subscriptions' CHECK are rendered from SYMBOL_PATTERN, and
every SQL entry point calls that function. The Edge Functions hold the same pattern
(`_shared/subscription.ts`); tests hold Python, SQL and TypeScript to one table of cases.
"""

from __future__ import annotations

import re

from toolkit.errors import ToolkitError

# Ticker shapes of the market data: AAPL, BRK.B, BF-B, 0700.HK; at most 12 characters. Index
# symbols (^GSPC) are not refreshed through the queue: the first character is a letter or digit.
SYMBOL_PATTERN = r"^[A-Z0-9][A-Z0-9.^-]{0,11}$"
SYMBOL_RULE = "1 to 12 of A-Z, 0-9, dot, dash and caret, starting with a letter or a digit"
# Priorities enter through the enqueue functions and the registry; bounded so that a
# registry priority plus a caller's boost never leaves integer range.
PRIORITY_MIN, PRIORITY_MAX = -1_000_000, 1_000_000
# Who goes first when the call budget is short, on top of the type's registry priority: what a
# page asks for itself through track_subscription (someone waits on that answer) above the
# presence check's refreshes for viewers already watching, which get one more per viewer beyond
# the first, up to WATCHERS_BOOST_MAX.
WATCHERS_BOOST_MAX = 9
PAGE_OPEN_BOOST = WATCHERS_BOOST_MAX + 1

_SYMBOL = re.compile(SYMBOL_PATTERN)


def symbol_message(symbol: str) -> str:
    """Quoted as SQL quotes it (public.symbol_error gives the same text)."""
    shown = symbol if len(symbol) <= 40 else symbol[:40] + "..."
    return "'" + shown.replace("'", "''") + f"' is not a ticker symbol ({SYMBOL_RULE})"


def is_valid_symbol(symbol: str) -> bool:
    return bool(_SYMBOL.fullmatch(symbol))


def check_symbol(symbol: str) -> str:
    """The symbol normalised (trimmed, upper case), or a ToolkitError saying the rule."""
    normal = symbol.strip().upper()
    if not is_valid_symbol(normal):
        raise ToolkitError(symbol_message(symbol))
    return normal


def check_priority(priority: int) -> int:
    if not PRIORITY_MIN <= priority <= PRIORITY_MAX:
        raise ToolkitError(f"priority {priority} is out of range ({PRIORITY_MIN} to {PRIORITY_MAX})")
    return priority


def context() -> dict:
    """What the SQL templates see as `rules`."""
    return {"symbol_pattern": SYMBOL_PATTERN, "symbol_rule": SYMBOL_RULE,
            "priority_min": PRIORITY_MIN, "priority_max": PRIORITY_MAX,
            "watchers_boost_max": WATCHERS_BOOST_MAX, "page_open_boost": PAGE_OPEN_BOOST}
