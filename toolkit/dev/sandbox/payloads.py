"""The sandbox's FMP endpoints: which there are, the query parameters each accepts (checked as
FMP checks them), and the JSON body of a request, built by `builders` from `reference` data.
Tickers starting with ZZ are unknown: FMP answers them with `[]`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache

from toolkit.dev.sandbox import builders
from toolkit.rules import is_valid_symbol

UNKNOWN = re.compile(r"^ZZ")
MAX_LIMIT = 1000


class BadRequest(ValueError):
    """The request's parameters are not what FMP accepts: answered 400."""


# ------------------------------------------------------------------------------------------
# The endpoint table and the entry point
# ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Endpoint:
    key: str | None                 # the query parameter naming the subject: symbol, exchange or none
    build: builders.Builder
    params: tuple[str, ...] = ()    # optional parameters FMP accepts: limit, period
    periods: tuple[str, ...] = ()


_STATEMENT_PERIODS = ("annual", "quarter", "FY", "Q1", "Q2", "Q3", "Q4")

ENDPOINTS: dict[str, Endpoint] = {
    "quote": Endpoint("symbol", builders.quote),
    "profile": Endpoint("symbol", builders.profile),
    "income-statement": Endpoint("symbol", builders.income_statement, ("limit", "period"), _STATEMENT_PERIODS),
    "balance-sheet-statement": Endpoint("symbol", builders.balance_sheet_statement, ("limit", "period"), _STATEMENT_PERIODS),
    "cash-flow-statement": Endpoint("symbol", builders.cash_flow_statement, ("limit", "period"), _STATEMENT_PERIODS),
    "ratios-ttm": Endpoint("symbol", builders.ratios_ttm),
    "dividends": Endpoint("symbol", builders.dividends, ("limit",)),
    "shares-float": Endpoint("symbol", builders.shares_float),
    "revenue-product-segmentation": Endpoint("symbol", builders.revenue_segmentation, ("period",), ("annual", "quarter")),
    "grades-historical": Endpoint("symbol", builders.grades_historical, ("limit",)),
    "search-exchange-variants": Endpoint("symbol", builders.exchange_variants),
    "available-exchanges": Endpoint(None, builders.available_exchanges),
    "exchange-market-hours": Endpoint("exchange", builders.market_hours),
}


def parse_params(endpoint: str, query: dict[str, str]) -> tuple[str | None, dict]:
    """The subject (symbol or exchange) and the optional parameters, validated as FMP does."""
    spec = ENDPOINTS[endpoint]
    subject = None
    if spec.key:
        subject = query.get(spec.key, "")
        if not is_valid_symbol(subject):  # the queue's own rule: nothing else reaches the provider
            raise BadRequest(f"Invalid or missing query parameter: {spec.key}={subject!r}")
    params: dict = {}
    if "limit" in spec.params and query.get("limit"):
        if not query["limit"].isdigit() or int(query["limit"]) < 1:
            raise BadRequest(f"Invalid query parameter: limit={query['limit']!r} (a positive integer)")
        params["limit"] = min(int(query["limit"]), MAX_LIMIT)
    if "period" in spec.params and query.get("period"):
        if query["period"] not in spec.periods:
            raise BadRequest(f"Invalid query parameter: period={query['period']!r} (one of {', '.join(spec.periods)})")
        params["period"] = query["period"]
    return subject, params


@lru_cache(maxsize=256)  # bounded: a body can be hundreds of kB
def _render(endpoint: str, subject: str | None, frozen: tuple) -> bytes:
    params = dict(frozen)
    unknown = subject is not None and UNKNOWN.match(subject)
    rows = [] if unknown else ENDPOINTS[endpoint].build(subject, params)
    # Pretty-printed with two spaces, as FMP sends it: byte counts stay close to the real API's.
    return json.dumps(rows, indent=2, ensure_ascii=False).encode()


def payload(endpoint: str, query: dict[str, str]) -> bytes:
    """The JSON body FMP would send for `GET /stable/<endpoint>?<query>`; BadRequest for a 400."""
    subject, params = parse_params(endpoint, query)
    return _render(endpoint, subject, tuple(sorted(params.items())))
