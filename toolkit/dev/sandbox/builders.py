"""The payload builders: for each FMP endpoint, the rows of its JSON body.

Every builder is a `Builder`: it takes the request's subject (a symbol, an exchange code, or
None where the endpoint has none) and its checked optional parameters, so that the endpoint
table calls them all alike.

Field names are FMP's camelCase, chosen so that they map onto the columns of
examples/legacy_app/schema.sql (`changesPercentage` -> changes_percentage, ...).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Callable

from toolkit.dev.sandbox.determinism import AS_OF, rng_for
from toolkit.dev.sandbox.reference import EXCHANGES, Company, Exchange, company, currency_of

Builder = Callable[[str | None, dict], list[dict]]


# ------------------------------------------------------------------------------------------
# Small helpers
# ------------------------------------------------------------------------------------------
def _add_months(d: date, months: int) -> date:
    y, m = divmod(d.month - 1 + months, 12)
    return date(d.year + y, m + 1, 1)


def _month_end(year: int, month: int) -> date:
    return _add_months(date(year, month, 1), 1) - timedelta(days=1)


def _split(total: int, weights: list[float]) -> list[int]:
    """Integers in proportion to `weights` that add up to `total` exactly (the last absorbs rounding)."""
    s = sum(weights)
    parts = [round(total * w / s) for w in weights[:-1]]
    return parts + [total - sum(parts)]


def _today() -> date:
    return AS_OF.date()


# ------------------------------------------------------------------------------------------
# quote, profile
# ------------------------------------------------------------------------------------------
def quote(subject: str | None, params: dict) -> list[dict]:
    c = company(subject)
    r = rng_for("quote", c.symbol)
    prev = round(c.price * (1 + r.uniform(-0.025, 0.025)), 2)
    change = round(c.price - prev, 2)
    low = round(min(c.price, prev) * (1 - r.uniform(0.002, 0.015)), 2)
    high = round(max(c.price, prev) * (1 + r.uniform(0.002, 0.015)), 2)
    avg_volume = round(c.shares * r.uniform(0.002, 0.008))
    return [{
        "symbol": c.symbol, "name": c.name, "price": c.price,
        "changesPercentage": round(change / prev * 100, 4), "change": change,
        "volume": round(avg_volume * r.uniform(0.6, 1.5)), "avgVolume": avg_volume,
        "dayLow": low, "dayHigh": high,
        "yearHigh": round(c.price * r.uniform(1.05, 1.35), 2), "yearLow": round(c.price * r.uniform(0.6, 0.92), 2),
        "marketCap": c.market_cap,
        "priceAvg50": round(c.price * r.uniform(0.94, 1.05), 4), "priceAvg200": round(c.price * r.uniform(0.85, 1.08), 4),
        "exchange": c.exchange, "open": round(prev * (1 + r.uniform(-0.01, 0.01)), 2), "previousClose": prev,
        "eps": c.eps, "pe": round(c.price / c.eps, 2) if c.eps > 0 else None,
        "earningsAnnouncement": _next_earnings(c, r), "sharesOutstanding": c.shares,
        "timestamp": int(AS_OF.timestamp()),
    }]


def _next_earnings(c: Company, r: random.Random) -> str:
    # About a month after a fiscal quarter ends: the last one, unless it is already reported.
    end = _last_quarter_end(c, _today())
    day = end + timedelta(days=r.randint(22, 35))
    if day <= _today():
        day = _month_end(*_ym(_add_months(end, 3))) + timedelta(days=r.randint(22, 35))
    return f"{day.isoformat()}T{r.choice(['12:30', '13:00', '20:30', '21:30'])}:00.000+0000"


def _ym(d: date) -> tuple[int, int]:
    return d.year, d.month


def _last_quarter_end(c: Company, today: date) -> date:
    """The newest end of a fiscal quarter on or before today."""
    month = date(today.year, today.month, 1)
    while (month.month - c.fye_month) % 3 or _month_end(*_ym(month)) > today:
        month = _add_months(month, -1)
    return _month_end(*_ym(month))


_DESCRIPTION_POOL = [
    "The company serves consumers, small and mid-sized businesses, and the education, enterprise and government markets.",
    "It sells its products and services through its own retail and online stores and direct sales force, as well as through third-party distributors, wholesalers, retailers and resellers.",
    "The company invests heavily in research and development, and holds a broad portfolio of patents, trademarks and other intellectual property that protects its offerings.",
    "Its customers include large multinational enterprises, public-sector organizations, original equipment manufacturers and individual consumers in more than 150 countries.",
    "The company also provides financing, maintenance, support and professional services that help customers deploy, operate and upgrade its offerings.",
    "It competes on the basis of price, product quality, innovation, brand recognition, customer service and the breadth of its distribution network.",
    "Management pursues a disciplined capital-allocation strategy that balances organic investment, selective acquisitions and returns to shareholders.",
    "The company operates manufacturing, logistics and data-center facilities across North America, Europe and Asia, and relies on a network of outsourcing partners for certain components.",
    "Its operations are subject to extensive regulation, including rules on data privacy, competition, product safety, environmental protection and international trade.",
    "The company reports its results in several segments that are reviewed separately by its chief operating decision maker to allocate resources and assess performance.",
]


def _description(c: Company) -> str:
    r = rng_for("description", c.symbol)
    verb = r.choice(["designs, manufactures and markets", "develops and sells", "provides", "offers"])
    where = r.choice(["worldwide", "in the United States and internationally", "globally"])
    parts = [
        f"{c.name} {verb} {c.industry.lower()} products and services {where}.",
        f"The company operates through {len(c.segments)} segments: {', '.join(c.segments)}.",
        *r.sample(_DESCRIPTION_POOL, 6),
        f"{c.name} was founded in {c.ipo_date.year - r.randint(2, 40)} and is headquartered in {c.city}, {c.state}.",
    ]
    return " ".join(parts)


_STREETS = ["Main Street", "Park Avenue", "Innovation Way", "Market Street", "Corporate Drive",
            "Commerce Boulevard", "Technology Parkway", "Harbor Road"]


def profile(subject: str | None, params: dict) -> list[dict]:
    c = company(subject)
    r = rng_for("profile", c.symbol)
    q = quote(subject, params)[0]
    full = EXCHANGES[c.exchange]
    return [{
        "symbol": c.symbol, "price": c.price, "marketCap": c.market_cap, "beta": c.beta,
        "lastDividend": round(c.dividend * c.div_per_year, 4), "range": f"{q['yearLow']}-{q['yearHigh']}",
        "change": q["change"], "changesPercentage": q["changesPercentage"], "volume": q["volume"],
        "averageVolume": q["avgVolume"], "companyName": c.name, "currency": c.currency, "cik": c.cik,
        "isin": c.isin, "cusip": c.isin[2:11],
        "exchangeFullName": "NASDAQ Global Select" if c.exchange == "NASDAQ" else full.name,
        "exchange": c.exchange, "industry": c.industry, "website": f"https://www.{c.domain}",
        "description": _description(c), "ceo": c.ceo, "sector": c.sector, "country": c.country,
        "fullTimeEmployees": str(c.employees),  # FMP sends this one as a string
        "phone": f"(+1) {r.randint(201, 989)} {r.randint(200, 999)}-{r.randint(1000, 9999)}",
        "address": f"{r.randint(1, 9999)} {r.choice(_STREETS)}", "city": c.city, "state": c.state,
        "zip": f"{r.randint(10000, 99999)}",
        "image": f"https://images.financialmodelingprep.com/symbol/{c.symbol}.png",
        "ipoDate": c.ipo_date.isoformat(), "defaultImage": False, "isEtf": False,
        "isActivelyTrading": True, "isAdr": False, "isFund": False,
    }]


# ------------------------------------------------------------------------------------------
# Financial statements: one "core" per period shared by the three statements, so that
# net income, D&A and cash agree across income, balance sheet and cash flow.
# ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Period:
    fiscal_year: int
    label: str      # FY, Q1..Q4
    end: date
    filing: date
    accepted: str   # "YYYY-MM-DD HH:MM:SS", as FMP prints it
    share: float    # this period's share of the fiscal year's revenue


def _period(c: Company, fy: int, label: str) -> Period:
    year_end = label in ("FY", "Q4")  # a fourth quarter is reported in the annual report
    r = rng_for("period", c.symbol, fy, "FY" if year_end else label)
    back = {"FY": 0, "Q4": 0, "Q3": 3, "Q2": 6, "Q1": 9}[label]
    end = _month_end(*_ym(_add_months(date(fy, c.fye_month, 1), -back)))
    filing = end + timedelta(days=r.randint(28, 60) if year_end else r.randint(25, 45))
    accepted = f"{filing.isoformat()} {r.randint(6, 20):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}"
    seasonal = rng_for("seasonality", c.symbol)
    weights = [seasonal.uniform(0.8, 1.25) for _ in range(4)]
    share = 1.0 if label == "FY" else weights[int(label[1]) - 1] / sum(weights)
    return Period(fy, label, end, filing, accepted, share)


@lru_cache(maxsize=1024)
def _filed(c: Company, quarterly: bool) -> tuple[Period, ...]:
    """Filed periods, newest first, back to the IPO (at most 30 years)."""
    labels = ["Q4", "Q3", "Q2", "Q1"] if quarterly else ["FY"]
    first = max(c.ipo_date.year + 1, _today().year - 30)
    out: list[Period] = []
    for fy in range(_today().year + 1, first - 1, -1):
        out += [p for p in (_period(c, fy, lb) for lb in labels) if p.filing <= _today()]
    return tuple(out)


def _periods(c: Company, quarterly: bool, wanted: str | None = None) -> list[Period]:
    return [p for p in _filed(c, quarterly) if wanted in (None, p.label)]


def _annual_revenue(c: Company, fy: int) -> float:
    growth = rng_for("growth", c.symbol).uniform(1.02, 1.14)
    annual = _filed(c, False)
    latest = annual[0].fiscal_year if annual else _today().year
    noise = rng_for("revenue", c.symbol, fy).uniform(0.96, 1.04)
    return c.revenue_b * 1e9 * growth ** (fy - latest) * noise


@lru_cache(maxsize=8192)
def _core(c: Company, p: Period) -> dict:
    """The income statement's numbers for a period; the other statements build on them."""
    r = rng_for("core", c.symbol, p.fiscal_year, p.label)
    k = rng_for("margins", c.symbol)
    revenue = round(_annual_revenue(c, p.fiscal_year) * p.share)
    net_margin = max(-0.3, min(0.45, c.eps * c.shares / (c.revenue_b * 1e9))) * r.uniform(0.9, 1.1)
    tax_rate = k.uniform(0.13, 0.24)
    pretax_margin = net_margin / (1 - tax_rate) if net_margin > 0 else net_margin
    other_margin = k.uniform(-0.01, 0.015)
    op_margin = pretax_margin - other_margin
    opex_ratio = k.uniform(0.08, 0.3)
    gross_margin = max(0.05, min(0.93, op_margin + opex_ratio))  # a loss-maker still sells above cost
    opex_ratio = gross_margin - op_margin
    cost = round(revenue * (1 - gross_margin))
    gross = revenue - cost
    rnd = round(revenue * opex_ratio * (k.uniform(0.3, 0.6) if c.sector == "Technology" else k.uniform(0, 0.2)))
    sga = round(revenue * opex_ratio) - rnd
    ga = round(sga * k.uniform(0.25, 0.5))
    opex = rnd + sga
    operating = gross - opex
    interest_income = round(revenue * r.uniform(0.002, 0.012))
    interest_expense = round(revenue * r.uniform(0.001, 0.01))
    pretax = round(revenue * pretax_margin)
    non_operating = pretax - operating - (interest_income - interest_expense)
    tax = round(pretax * tax_rate) if pretax > 0 else 0
    net = pretax - tax
    da = round(revenue * k.uniform(0.02, 0.08))
    shares = round(c.shares * (1 + 0.01 * (_today().year - p.fiscal_year)) * r.uniform(0.998, 1.002))
    return {
        "revenue": revenue, "costOfRevenue": cost, "grossProfit": gross,
        "researchAndDevelopmentExpenses": rnd, "generalAndAdministrativeExpenses": ga,
        "sellingAndMarketingExpenses": sga - ga, "sellingGeneralAndAdministrativeExpenses": sga,
        "otherExpenses": 0, "operatingExpenses": opex, "costAndExpenses": cost + opex,
        "netInterestIncome": interest_income - interest_expense, "interestIncome": interest_income,
        "interestExpense": interest_expense, "depreciationAndAmortization": da,
        "ebitda": operating + da, "ebit": pretax + interest_expense,
        "nonOperatingIncomeExcludingInterest": non_operating, "operatingIncome": operating,
        "totalOtherIncomeExpensesNet": pretax - operating, "incomeBeforeTax": pretax,
        "incomeTaxExpense": tax, "netIncomeFromContinuingOperations": net,
        "netIncomeFromDiscontinuedOperations": 0, "otherAdjustmentsToNetIncome": 0, "netIncome": net,
        "netIncomeDeductions": 0, "bottomLineNetIncome": net, "eps": round(net / shares, 2),
        "epsDiluted": round(net / (shares * 1.006), 2), "weightedAverageShsOut": shares,
        "weightedAverageShsOutDil": round(shares * 1.006),
    }


def _header(c: Company, p: Period) -> dict:
    return {
        "date": p.end.isoformat(), "symbol": c.symbol, "reportedCurrency": c.currency, "cik": c.cik,
        "filingDate": p.filing.isoformat(), "acceptedDate": p.accepted,
        "fiscalYear": str(p.fiscal_year),  # FMP sends this one as a string
        "period": p.label,
    }


def _balance(c: Company, p: Period) -> dict:
    # Q4 and FY close on the same day: one balance sheet.
    r = rng_for("balance", c.symbol, p.fiscal_year, "FY" if p.label == "Q4" else p.label)
    k = rng_for("balance-mix", c.symbol)
    assets = round(_annual_revenue(c, p.fiscal_year) * k.uniform(0.8, 2.2) * r.uniform(0.97, 1.03))
    cash, sti, receivables, inventory, other_ca, ppe, goodwill, intangibles, lti, tax_assets, other_nca = _split(
        assets, [k.uniform(0.04, 0.15), k.uniform(0.0, 0.1), k.uniform(0.05, 0.15), k.uniform(0.0, 0.12),
                 0.03, k.uniform(0.1, 0.35), k.uniform(0.0, 0.2), k.uniform(0.0, 0.08), k.uniform(0.0, 0.2),
                 0.01, 0.05])
    liabilities = round(assets * k.uniform(0.35, 0.85))
    payables, other_pay, accrued, std, lease_c, tax_pay, deferred, other_cl, ltd, lease_nc, deferred_nc, dtl, other_ncl = _split(
        liabilities, [k.uniform(0.08, 0.2), 0.03, 0.05, k.uniform(0.01, 0.06), 0.01, 0.01, k.uniform(0.0, 0.06),
                      0.06, k.uniform(0.15, 0.45), 0.04, 0.01, 0.02, 0.06])
    equity = assets - liabilities
    minority = round(equity * k.uniform(0.0, 0.02))
    stockholders = equity - minority
    common, retained, aoci = round(stockholders * 0.45), round(stockholders * 0.6), -round(stockholders * 0.05)
    current_assets = cash + sti + receivables + inventory + other_ca
    current_liabilities = payables + other_pay + accrued + std + lease_c + tax_pay + deferred + other_cl
    ar = round(receivables * 0.6)
    return {
        "cashAndCashEquivalents": cash, "shortTermInvestments": sti, "cashAndShortTermInvestments": cash + sti,
        "netReceivables": receivables, "accountsReceivables": ar, "otherReceivables": receivables - ar,
        "inventory": inventory, "prepaids": 0, "otherCurrentAssets": other_ca, "totalCurrentAssets": current_assets,
        "propertyPlantEquipmentNet": ppe, "goodwill": goodwill, "intangibleAssets": intangibles,
        "goodwillAndIntangibleAssets": goodwill + intangibles, "longTermInvestments": lti, "taxAssets": tax_assets,
        "otherNonCurrentAssets": other_nca, "totalNonCurrentAssets": assets - current_assets, "otherAssets": 0,
        "totalAssets": assets, "totalPayables": payables + other_pay, "accountPayables": payables,
        "otherPayables": other_pay, "accruedExpenses": accrued, "shortTermDebt": std,
        "capitalLeaseObligationsCurrent": lease_c, "taxPayables": tax_pay, "deferredRevenue": deferred,
        "otherCurrentLiabilities": other_cl, "totalCurrentLiabilities": current_liabilities,
        "longTermDebt": ltd, "capitalLeaseObligationsNonCurrent": lease_nc,
        "deferredRevenueNonCurrent": deferred_nc, "deferredTaxLiabilitiesNonCurrent": dtl,
        "otherNonCurrentLiabilities": other_ncl, "totalNonCurrentLiabilities": liabilities - current_liabilities,
        "otherLiabilities": 0, "capitalLeaseObligations": lease_c + lease_nc, "totalLiabilities": liabilities,
        "treasuryStock": 0, "preferredStock": 0, "commonStock": common, "retainedEarnings": retained,
        "additionalPaidInCapital": 0, "accumulatedOtherComprehensiveIncomeLoss": aoci,
        "otherTotalStockholdersEquity": stockholders - common - retained - aoci,
        "totalStockholdersEquity": stockholders, "totalEquity": equity, "minorityInterest": minority,
        "totalLiabilitiesAndTotalEquity": liabilities + equity, "totalInvestments": sti + lti,
        "totalDebt": std + ltd + lease_c + lease_nc, "netDebt": std + ltd + lease_c + lease_nc - cash,
    }


def _cash_flow(c: Company, p: Period) -> dict:
    r = rng_for("cash-flow", c.symbol, p.fiscal_year, p.label)
    inc = _core(c, p)
    rev, net = inc["revenue"], inc["netIncome"]
    sbc = round(rev * (r.uniform(0.01, 0.05) if c.sector == "Technology" else r.uniform(0.0, 0.01)))
    deferred_tax = round(rev * r.uniform(-0.01, 0.01))
    ar, inv, ap, owc = (round(rev * r.uniform(-0.02, 0.02)) for _ in range(4))
    other_non_cash = round(rev * r.uniform(-0.01, 0.01))
    operating = net + inc["depreciationAndAmortization"] + deferred_tax + sbc + ar + inv + ap + owc + other_non_cash
    capex = -round(rev * r.uniform(0.02, 0.09))
    acquisitions, purchases = -round(rev * r.uniform(0, 0.03)), -round(rev * r.uniform(0.02, 0.12))
    sales, other_inv = round(rev * r.uniform(0.02, 0.12)), round(rev * r.uniform(-0.005, 0.005))
    investing = capex + acquisitions + purchases + sales + other_inv
    lt_debt, st_debt = round(rev * r.uniform(-0.03, 0.03)), round(rev * r.uniform(-0.01, 0.01))
    issued, repurchased = round(rev * r.uniform(0, 0.005)), -round(max(net, 0) * r.uniform(0, 0.8))
    dividends = -round(c.dividend * c.div_per_year * inc["weightedAverageShsOut"] * p.share)
    other_fin = round(rev * r.uniform(-0.01, 0.005))
    financing = lt_debt + st_debt + issued + repurchased + dividends + other_fin
    fx = round(rev * r.uniform(-0.002, 0.002))
    change = operating + investing + financing + fx
    end_cash = _balance(c, p)["cashAndCashEquivalents"]
    return {
        "netIncome": net, "depreciationAndAmortization": inc["depreciationAndAmortization"],
        "deferredIncomeTax": deferred_tax, "stockBasedCompensation": sbc,
        "changeInWorkingCapital": ar + inv + ap + owc, "accountsReceivables": ar, "inventory": inv,
        "accountsPayables": ap, "otherWorkingCapital": owc, "otherNonCashItems": other_non_cash,
        "netCashProvidedByOperatingActivities": operating, "investmentsInPropertyPlantAndEquipment": capex,
        "acquisitionsNet": acquisitions, "purchasesOfInvestments": purchases,
        "salesMaturitiesOfInvestments": sales, "otherInvestingActivities": other_inv,
        "netCashProvidedByInvestingActivities": investing, "netDebtIssuance": lt_debt + st_debt,
        "longTermNetDebtIssuance": lt_debt, "shortTermNetDebtIssuance": st_debt,
        "netStockIssuance": issued + repurchased, "netCommonStockIssuance": issued + repurchased,
        "commonStockIssuance": issued, "commonStockRepurchased": repurchased, "netPreferredStockIssuance": 0,
        "netDividendsPaid": dividends, "commonDividendsPaid": dividends, "preferredDividendsPaid": 0,
        "otherFinancingActivities": other_fin, "netCashProvidedByFinancingActivities": financing,
        "effectOfForexChangesOnCash": fx, "netChangeInCash": change, "cashAtEndOfPeriod": end_cash,
        "cashAtBeginningOfPeriod": end_cash - change, "operatingCashFlow": operating,
        "capitalExpenditure": capex, "freeCashFlow": operating + capex,
        "incomeTaxesPaid": round(inc["incomeTaxExpense"] * r.uniform(0.8, 1.1)),
        "interestPaid": round(inc["interestExpense"] * r.uniform(0.9, 1.05)),
    }


def _statement(body: Callable[[Company, Period], dict]) -> Builder:
    def build(subject: str | None, params: dict) -> list[dict]:
        c = company(subject)
        period = params.get("period") or "annual"
        quarterly = period == "quarter" or period.startswith("Q")
        wanted = period if period in ("FY", "Q1", "Q2", "Q3", "Q4") else None
        rows = _periods(c, quarterly, wanted)[: params.get("limit") or 5]
        return [{**_header(c, p), **body(c, p)} for p in rows]
    return build



income_statement = _statement(_core)
balance_sheet_statement = _statement(_balance)
cash_flow_statement = _statement(_cash_flow)

# ------------------------------------------------------------------------------------------
# ratios-ttm: from the latest fiscal year, so it agrees with the statements
# ------------------------------------------------------------------------------------------
def ratios_ttm(subject: str | None, params: dict) -> list[dict]:
    c = company(subject)
    r = rng_for("ratios-ttm", c.symbol)
    latest = _periods(c, False)[0]
    i, b, f = _core(c, latest), _balance(c, latest), _cash_flow(c, latest)
    rev, shares, equity = i["revenue"], i["weightedAverageShsOut"], b["totalStockholdersEquity"]
    ev = c.market_cap + b["netDebt"]
    per_share = lambda v: round(v / shares, 4)  # noqa: E731
    ratio = lambda a, d: round(a / d, 6) if d else 0  # noqa: E731
    pe = ratio(c.price, i["eps"]) if i["eps"] else 0
    return [{
        "symbol": c.symbol,
        "grossProfitMarginTTM": ratio(i["grossProfit"], rev), "ebitMarginTTM": ratio(i["ebit"], rev),
        "ebitdaMarginTTM": ratio(i["ebitda"], rev), "operatingProfitMarginTTM": ratio(i["operatingIncome"], rev),
        "pretaxProfitMarginTTM": ratio(i["incomeBeforeTax"], rev),
        "continuousOperationsProfitMarginTTM": ratio(i["netIncomeFromContinuingOperations"], rev),
        "netProfitMarginTTM": ratio(i["netIncome"], rev), "bottomLineProfitMarginTTM": ratio(i["bottomLineNetIncome"], rev),
        "receivablesTurnoverTTM": ratio(rev, b["netReceivables"]), "payablesTurnoverTTM": ratio(i["costOfRevenue"], b["accountPayables"]),
        "inventoryTurnoverTTM": ratio(i["costOfRevenue"], b["inventory"]),
        "fixedAssetTurnoverTTM": ratio(rev, b["propertyPlantEquipmentNet"]), "assetTurnoverTTM": ratio(rev, b["totalAssets"]),
        "currentRatioTTM": ratio(b["totalCurrentAssets"], b["totalCurrentLiabilities"]),
        "quickRatioTTM": ratio(b["totalCurrentAssets"] - b["inventory"], b["totalCurrentLiabilities"]),
        "solvencyRatioTTM": ratio(i["netIncome"] + i["depreciationAndAmortization"], b["totalLiabilities"]),
        "cashRatioTTM": ratio(b["cashAndCashEquivalents"], b["totalCurrentLiabilities"]),
        "priceToEarningsRatioTTM": pe, "priceToEarningsGrowthRatioTTM": round(pe / r.uniform(5, 25), 6),
        "forwardPriceToEarningsGrowthRatioTTM": round(pe / r.uniform(5, 25), 6),
        "priceToBookRatioTTM": ratio(c.market_cap, equity), "priceToSalesRatioTTM": ratio(c.market_cap, rev),
        "priceToFreeCashFlowRatioTTM": ratio(c.market_cap, f["freeCashFlow"]),
        "priceToOperatingCashFlowRatioTTM": ratio(c.market_cap, f["operatingCashFlow"]),
        "debtToAssetsRatioTTM": ratio(b["totalDebt"], b["totalAssets"]), "debtToEquityRatioTTM": ratio(b["totalDebt"], equity),
        "debtToCapitalRatioTTM": ratio(b["totalDebt"], b["totalDebt"] + equity),
        "longTermDebtToCapitalRatioTTM": ratio(b["longTermDebt"], b["longTermDebt"] + equity),
        "financialLeverageRatioTTM": ratio(b["totalAssets"], equity),
        "workingCapitalTurnoverRatioTTM": ratio(rev, b["totalCurrentAssets"] - b["totalCurrentLiabilities"]),
        "operatingCashFlowRatioTTM": ratio(f["operatingCashFlow"], b["totalCurrentLiabilities"]),
        "operatingCashFlowSalesRatioTTM": ratio(f["operatingCashFlow"], rev),
        "freeCashFlowOperatingCashFlowRatioTTM": ratio(f["freeCashFlow"], f["operatingCashFlow"]),
        "debtServiceCoverageRatioTTM": ratio(i["operatingIncome"], b["shortTermDebt"] + i["interestExpense"]),
        "interestCoverageRatioTTM": ratio(i["operatingIncome"], i["interestExpense"]),
        "shortTermOperatingCashFlowCoverageRatioTTM": ratio(f["operatingCashFlow"], b["shortTermDebt"]),
        "operatingCashFlowCoverageRatioTTM": ratio(f["operatingCashFlow"], b["totalDebt"]),
        "capitalExpenditureCoverageRatioTTM": ratio(f["operatingCashFlow"], -f["capitalExpenditure"]),
        "dividendPaidAndCapexCoverageRatioTTM": ratio(f["operatingCashFlow"], -f["capitalExpenditure"] - f["commonDividendsPaid"]),
        "dividendPayoutRatioTTM": ratio(-f["commonDividendsPaid"], i["netIncome"]),
        "dividendYieldTTM": round(c.dividend * c.div_per_year / c.price, 6),
        "enterpriseValueTTM": ev, "revenuePerShareTTM": per_share(rev), "netIncomePerShareTTM": per_share(i["netIncome"]),
        "interestDebtPerShareTTM": per_share(b["totalDebt"] + i["interestExpense"]),
        "cashPerShareTTM": per_share(b["cashAndShortTermInvestments"]), "bookValuePerShareTTM": per_share(equity),
        "tangibleBookValuePerShareTTM": per_share(equity - b["goodwillAndIntangibleAssets"]),
        "shareholdersEquityPerShareTTM": per_share(equity),
        "operatingCashFlowPerShareTTM": per_share(f["operatingCashFlow"]),
        "capexPerShareTTM": per_share(f["capitalExpenditure"]), "freeCashFlowPerShareTTM": per_share(f["freeCashFlow"]),
        "netIncomePerEBTTTM": ratio(i["netIncome"], i["incomeBeforeTax"]), "ebtPerEbitTTM": ratio(i["incomeBeforeTax"], i["ebit"]),
        "priceToFairValueTTM": round(r.uniform(0.7, 1.4), 6), "debtToMarketCapTTM": ratio(b["totalDebt"], c.market_cap),
        "effectiveTaxRateTTM": ratio(i["incomeTaxExpense"], i["incomeBeforeTax"]),
        "enterpriseValueMultipleTTM": ratio(ev, i["ebitda"]),
        "dividendPerShareTTM": round(c.dividend * c.div_per_year, 4),
        # Key-metrics fields, for the legacy table's return_on_* columns.
        "returnOnEquityTTM": ratio(i["netIncome"], equity), "returnOnAssetsTTM": ratio(i["netIncome"], b["totalAssets"]),
    }]


# ------------------------------------------------------------------------------------------
# dividends, shares-float, segmentation, grades
# ------------------------------------------------------------------------------------------
_FREQUENCY = {12: "Monthly", 4: "Quarterly", 2: "Semi-Annual", 1: "Annual"}


def dividends(subject: str | None, params: dict) -> list[dict]:
    c = company(subject)
    if not c.div_per_year:
        return []  # non-payers: FMP answers with an empty list
    r = rng_for("dividends", c.symbol)
    step, day = 12 // c.div_per_year, r.randint(5, 24)
    growth, price_growth = r.uniform(1.02, 1.09), r.uniform(1.04, 1.12)
    first = _add_months(date(_today().year, _today().month, 1), r.randint(-step + 1, 0))
    count = min(100, max(1, (_today().year - c.ipo_date.year)) * c.div_per_year)
    rows = []
    for n in range(count):
        ex = _add_months(first, -n * step).replace(day=day)
        years_back = n // c.div_per_year
        amount = round(c.dividend / growth ** years_back, 4 if c.dividend < 1 else 3)
        price = c.price / price_growth ** (n / c.div_per_year)
        rows.append({
            "symbol": c.symbol, "date": ex.isoformat(), "recordDate": (ex + timedelta(days=1)).isoformat(),
            "paymentDate": (ex + timedelta(days=14)).isoformat(),
            "declarationDate": (ex - timedelta(days=30)).isoformat(), "adjDividend": amount, "dividend": amount,
            "yield": round(amount * c.div_per_year / price * 100, 4), "frequency": _FREQUENCY[c.div_per_year],
        })
    return rows[: params.get("limit") or 100]


def shares_float(subject: str | None, params: dict) -> list[dict]:
    c = company(subject)
    r = rng_for("shares-float", c.symbol)
    free = round(r.uniform(0.85, 0.999) * 100, 4)
    stamp = AS_OF - timedelta(hours=r.randint(1, 20), minutes=r.randint(0, 59), seconds=r.randint(0, 59))
    return [{
        "symbol": c.symbol, "date": stamp.strftime("%Y-%m-%d %H:%M:%S"), "freeFloat": free,
        "floatShares": round(c.shares * free / 100), "outstandingShares": c.shares,
    }]


def revenue_segmentation(subject: str | None, params: dict) -> list[dict]:
    c = company(subject)
    quarterly = params.get("period") == "quarter"
    weights = [rng_for("segment", c.symbol, s).uniform(1, 4) for s in c.segments]
    rows = []
    for p in _periods(c, quarterly)[: 40 if quarterly else 10]:
        noise = rng_for("segment-mix", c.symbol, p.fiscal_year, p.label)
        mix = [w * noise.uniform(0.9, 1.1) for w in weights]
        values = _split(_core(c, p)["revenue"], mix)
        rows.append({
            "symbol": c.symbol, "fiscalYear": p.fiscal_year, "period": p.label, "reportedCurrency": None,
            "date": p.end.isoformat(), "data": dict(zip(c.segments, values)),
        })
    return rows


def grades_historical(subject: str | None, params: dict) -> list[dict]:
    c = company(subject)
    r = rng_for("grades-historical", c.symbol)
    analysts = max(3, min(60, round(math.log10(max(c.market_cap, 1e8)) * 9 - 70)))
    consensus = r.uniform(0.2, 0.9)
    months = min(120, (_today().year - c.ipo_date.year) * 12 + _today().month - c.ipo_date.month)
    rows = []
    for n in range(max(1, months)):
        f = max(0.0, min(1.0, consensus + r.uniform(-0.08, 0.08)))
        strong_buy, buy, hold, sell, strong_sell = _split(
            analysts + r.randint(-2, 2), [0.05 + 0.35 * f, 0.15 + 0.35 * f, 0.15 + 0.45 * (1 - f),
                                          0.02 + 0.12 * (1 - f), 0.01 + 0.05 * (1 - f)])
        rows.append({
            "symbol": c.symbol, "date": _add_months(date(_today().year, _today().month, 1), -n).isoformat(),
            "analystRatingsStrongBuy": strong_buy, "analystRatingsBuy": buy, "analystRatingsHold": hold,
            "analystRatingsSell": sell, "analystRatingsStrongSell": max(0, strong_sell),
        })
    return rows[: params.get("limit") or 100]


# ------------------------------------------------------------------------------------------
# exchange variants, available exchanges, market hours
# ------------------------------------------------------------------------------------------
# The legacy seed's listings (.DE, .NE), and two that some symbols also have.
_VARIANTS = [(".DE", "XETRA", 0.92, True), (".NE", "NEO", 0.069, True), (".F", "FSX", 0.92, False),
             (".MX", "MEX", 18.6, False)]


def exchange_variants(subject: str | None, params: dict) -> list[dict]:
    c = company(subject)
    r = rng_for("search-exchange-variants", c.symbol)
    listings = [(c.symbol, EXCHANGES[c.exchange], 1.0)]
    if c.country == "US":
        listings += [(c.symbol + sfx, EXCHANGES[code], fx) for sfx, code, fx, always in _VARIANTS
                     if always or r.random() < 0.5]
    q = quote(subject, params)[0]
    return [_variant(c, symbol, ex, fx, q, r) for symbol, ex, fx in listings]


def _variant(c: Company, symbol: str, ex: Exchange, fx: float, q: dict, r: random.Random) -> dict:
    price = round(c.price * fx, 2)
    return {
        "symbol": symbol, "price": price, "beta": c.beta, "averageVolume": round(q["avgVolume"] * (1 if fx == 1 else r.uniform(0.0005, 0.01))),
        "marketCap": c.market_cap, "lastDividend": round(c.dividend * c.div_per_year * fx, 4),
        "range": f"{round(q['yearLow'] * fx, 2)}-{round(q['yearHigh'] * fx, 2)}",
        "change": round(q["change"] * fx, 2), "changesPercentage": q["changesPercentage"],
        "companyName": c.name, "currency": c.currency if fx == 1 else currency_of(ex),
        "cik": c.cik, "isin": c.isin, "cusip": c.isin[2:11], "exchange": ex.name, "exchangeShortName": ex.code,
        "industry": c.industry, "website": f"https://www.{c.domain}", "ceo": c.ceo, "sector": c.sector,
        "country": c.country, "fullTimeEmployees": str(c.employees),
        "image": f"https://images.financialmodelingprep.com/symbol/{symbol}.png",
        "ipoDate": c.ipo_date.isoformat(), "isEtf": False, "isActivelyTrading": True, "isAdr": False, "isFund": False,
    }


def available_exchanges(subject: str | None, params: dict) -> list[dict]:
    return [{"exchange": e.code, "name": e.name, "countryName": e.country, "countryCode": e.country_code,
             "symbolSuffix": e.suffix, "delay": e.delay} for e in EXCHANGES.values()]


def _is_open(exchange: Exchange, at: datetime) -> bool:
    """Whether the exchange is open at `at`, from the offsets in its hours (weekdays only)."""
    def minutes(hhmm_ampm: str) -> int:
        t = datetime.strptime(hhmm_ampm[:8], "%I:%M %p")
        return t.hour * 60 + t.minute
    sign = 1 if exchange.opening[9] == "+" else -1
    offset = sign * (int(exchange.opening[10:12]) * 60 + int(exchange.opening[13:15]))
    local = at + timedelta(minutes=offset)
    now = local.hour * 60 + local.minute
    return local.weekday() < 5 and minutes(exchange.opening) <= now < minutes(exchange.closing)


def market_hours(subject: str | None, params: dict) -> list[dict]:
    e = EXCHANGES.get(subject)
    if e is None:
        return []  # FMP answers unknown exchanges with an empty list
    return [{"exchange": e.code, "name": e.name, "openingHour": e.opening, "closingHour": e.closing,
             "timezone": e.timezone, "isMarketOpen": _is_open(e, AS_OF)}]
