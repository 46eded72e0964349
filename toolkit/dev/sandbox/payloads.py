"""Deterministic stand-ins for Financial Modeling Prep "stable" payloads.

Every value comes from a `random.Random` seeded with a SHA-256 of what identifies it (never
`hash()`, which changes between processes), and dates are measured from the fixed AS_OF
instant rather than the clock, so the same request gives the same bytes in every process,
on every day. Field names are FMP's camelCase, chosen so that they map onto the columns of
examples/legacy_app/schema.sql (`changesPercentage` -> changes_percentage, ...).

The twenty companies of the legacy app's seed keep their seed facts (price, shares, EPS,
revenue, dividend, segments), so sandbox data agrees with the example tables; any other
plausible ticker gets a synthetic company; tickers starting with ZZ are unknown (`[]`).
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from typing import Callable

# The sandbox's "now": late 2026, where the legacy seed data lives.
AS_OF = datetime(2026, 11, 13, 19, 0, tzinfo=timezone.utc)

TICKER = re.compile(r"^[A-Z0-9.\-^]{1,12}$")
UNKNOWN = re.compile(r"^ZZ")
MAX_LIMIT = 1000


class BadRequest(ValueError):
    """The request's parameters are not what FMP accepts: answered 400."""


def rng_for(*parts: object) -> random.Random:
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


# ------------------------------------------------------------------------------------------
# Exchanges: code, name, country, country code, symbol suffix, delay, open, close, time zone.
# Offsets are those of mid-November (northern winter time).
# ------------------------------------------------------------------------------------------
_EXCHANGE_ROWS = """
NASDAQ|NASDAQ|United States of America|US|N/A|Real-time|09:30 AM -05:00|04:00 PM -05:00|America/New_York
NYSE|New York Stock Exchange|United States of America|US|N/A|Real-time|09:30 AM -05:00|04:00 PM -05:00|America/New_York
AMEX|New York Stock Exchange American|United States of America|US|N/A|Real-time|09:30 AM -05:00|04:00 PM -05:00|America/New_York
OTC|Other OTC|United States of America|US|N/A|15 min|09:30 AM -05:00|04:00 PM -05:00|America/New_York
CBOE|Cboe BZX Exchange|United States of America|US|N/A|Real-time|09:30 AM -05:00|04:00 PM -05:00|America/New_York
TSX|Toronto Stock Exchange|Canada|CA|.TO|Real-time|09:30 AM -05:00|04:00 PM -05:00|America/Toronto
TSXV|TSX Venture Exchange|Canada|CA|.V|Real-time|09:30 AM -05:00|04:00 PM -05:00|America/Toronto
CNQ|Canadian Securities Exchange|Canada|CA|.CN|15 min|09:30 AM -05:00|04:00 PM -05:00|America/Toronto
NEO|Cboe Canada|Canada|CA|.NE|15 min|09:30 AM -05:00|04:00 PM -05:00|America/Toronto
MEX|Bolsa Mexicana de Valores|Mexico|MX|.MX|20 min|08:30 AM -06:00|03:00 PM -06:00|America/Mexico_City
SAO|B3 Brasil Bolsa Balcao|Brazil|BR|.SA|15 min|10:00 AM -03:00|05:00 PM -03:00|America/Sao_Paulo
BUE|Bolsa de Comercio de Buenos Aires|Argentina|AR|.BA|20 min|11:00 AM -03:00|05:00 PM -03:00|America/Argentina/Buenos_Aires
SGO|Bolsa de Santiago|Chile|CL|.SN|20 min|09:30 AM -03:00|04:00 PM -03:00|America/Santiago
LSE|London Stock Exchange|United Kingdom|GB|.L|15 min|08:00 AM +00:00|04:30 PM +00:00|Europe/London
AQS|Aquis Exchange|United Kingdom|GB|.AQ|15 min|08:00 AM +00:00|04:30 PM +00:00|Europe/London
XETRA|Deutsche Boerse Xetra|Germany|DE|.DE|15 min|09:00 AM +01:00|05:30 PM +01:00|Europe/Berlin
FSX|Frankfurt Stock Exchange|Germany|DE|.F|15 min|08:00 AM +01:00|10:00 PM +01:00|Europe/Berlin
STU|Stuttgart Stock Exchange|Germany|DE|.SG|15 min|08:00 AM +01:00|10:00 PM +01:00|Europe/Berlin
MUN|Munich Stock Exchange|Germany|DE|.MU|15 min|08:00 AM +01:00|10:00 PM +01:00|Europe/Berlin
HAM|Hamburg Stock Exchange|Germany|DE|.HM|15 min|08:00 AM +01:00|10:00 PM +01:00|Europe/Berlin
DUS|Dusseldorf Stock Exchange|Germany|DE|.DU|15 min|08:00 AM +01:00|10:00 PM +01:00|Europe/Berlin
BER|Berlin Stock Exchange|Germany|DE|.BE|15 min|08:00 AM +01:00|10:00 PM +01:00|Europe/Berlin
EURONEXT|Euronext Paris|France|FR|.PA|15 min|09:00 AM +01:00|05:30 PM +01:00|Europe/Paris
AMS|Euronext Amsterdam|Netherlands|NL|.AS|15 min|09:00 AM +01:00|05:30 PM +01:00|Europe/Amsterdam
BRU|Euronext Brussels|Belgium|BE|.BR|15 min|09:00 AM +01:00|05:30 PM +01:00|Europe/Brussels
LIS|Euronext Lisbon|Portugal|PT|.LS|15 min|08:00 AM +00:00|04:30 PM +00:00|Europe/Lisbon
MIL|Euronext Milan|Italy|IT|.MI|15 min|09:00 AM +01:00|05:30 PM +01:00|Europe/Rome
BME|Bolsa de Madrid|Spain|ES|.MC|15 min|09:00 AM +01:00|05:30 PM +01:00|Europe/Madrid
SIX|SIX Swiss Exchange|Switzerland|CH|.SW|15 min|09:00 AM +01:00|05:30 PM +01:00|Europe/Zurich
VIE|Wiener Boerse|Austria|AT|.VI|15 min|09:00 AM +01:00|05:30 PM +01:00|Europe/Vienna
OSL|Oslo Stock Exchange|Norway|NO|.OL|15 min|09:00 AM +01:00|04:20 PM +01:00|Europe/Oslo
STO|Nasdaq Stockholm|Sweden|SE|.ST|15 min|09:00 AM +01:00|05:30 PM +01:00|Europe/Stockholm
CPH|Nasdaq Copenhagen|Denmark|DK|.CO|15 min|09:00 AM +01:00|05:00 PM +01:00|Europe/Copenhagen
HEL|Nasdaq Helsinki|Finland|FI|.HE|15 min|10:00 AM +02:00|06:30 PM +02:00|Europe/Helsinki
ICE|Nasdaq Iceland|Iceland|IS|.IC|15 min|09:30 AM +00:00|03:30 PM +00:00|Atlantic/Reykjavik
RIS|Nasdaq Riga|Latvia|LV|.RG|15 min|10:00 AM +02:00|04:00 PM +02:00|Europe/Riga
TAL|Nasdaq Tallinn|Estonia|EE|.TL|15 min|10:00 AM +02:00|04:00 PM +02:00|Europe/Tallinn
WSE|Warsaw Stock Exchange|Poland|PL|.WA|15 min|09:00 AM +01:00|05:00 PM +01:00|Europe/Warsaw
PRA|Prague Stock Exchange|Czech Republic|CZ|.PR|15 min|09:00 AM +01:00|04:25 PM +01:00|Europe/Prague
BUD|Budapest Stock Exchange|Hungary|HU|.BD|15 min|09:00 AM +01:00|05:00 PM +01:00|Europe/Budapest
ATH|Athens Stock Exchange|Greece|GR|.AT|15 min|10:00 AM +02:00|05:20 PM +02:00|Europe/Athens
IST|Borsa Istanbul|Turkey|TR|.IS|15 min|10:00 AM +03:00|06:00 PM +03:00|Europe/Istanbul
TLV|Tel Aviv Stock Exchange|Israel|IL|.TA|20 min|09:59 AM +02:00|05:14 PM +02:00|Asia/Jerusalem
SAU|Saudi Exchange|Saudi Arabia|SA|.SR|15 min|10:00 AM +03:00|03:00 PM +03:00|Asia/Riyadh
DFM|Dubai Financial Market|United Arab Emirates|AE|.AE|15 min|10:00 AM +04:00|03:00 PM +04:00|Asia/Dubai
DOH|Qatar Stock Exchange|Qatar|QA|.QA|15 min|09:30 AM +03:00|01:15 PM +03:00|Asia/Qatar
KUW|Boursa Kuwait|Kuwait|KW|.KW|15 min|09:00 AM +03:00|12:40 PM +03:00|Asia/Kuwait
JNB|Johannesburg Stock Exchange|South Africa|ZA|.JO|15 min|09:00 AM +02:00|05:00 PM +02:00|Africa/Johannesburg
CAI|Egyptian Exchange|Egypt|EG|.CA|15 min|10:00 AM +02:00|02:30 PM +02:00|Africa/Cairo
NSE|National Stock Exchange of India|India|IN|.NS|Real-time|09:15 AM +05:30|03:30 PM +05:30|Asia/Kolkata
BSE|Bombay Stock Exchange|India|IN|.BO|Real-time|09:15 AM +05:30|03:30 PM +05:30|Asia/Kolkata
JPX|Japan Exchange Group|Japan|JP|.T|20 min|09:00 AM +09:00|03:30 PM +09:00|Asia/Tokyo
HKSE|Hong Kong Stock Exchange|Hong Kong|HK|.HK|15 min|09:30 AM +08:00|04:00 PM +08:00|Asia/Hong_Kong
SHH|Shanghai Stock Exchange|China|CN|.SS|15 min|09:30 AM +08:00|03:00 PM +08:00|Asia/Shanghai
SHZ|Shenzhen Stock Exchange|China|CN|.SZ|15 min|09:30 AM +08:00|03:00 PM +08:00|Asia/Shanghai
KSC|Korea Exchange|South Korea|KR|.KS|20 min|09:00 AM +09:00|03:30 PM +09:00|Asia/Seoul
KOE|KOSDAQ|South Korea|KR|.KQ|20 min|09:00 AM +09:00|03:30 PM +09:00|Asia/Seoul
TAI|Taiwan Stock Exchange|Taiwan|TW|.TW|20 min|09:00 AM +08:00|01:30 PM +08:00|Asia/Taipei
TWO|Taipei Exchange|Taiwan|TW|.TWO|20 min|09:00 AM +08:00|01:30 PM +08:00|Asia/Taipei
SES|Singapore Exchange|Singapore|SG|.SI|15 min|09:00 AM +08:00|05:00 PM +08:00|Asia/Singapore
SET|Stock Exchange of Thailand|Thailand|TH|.BK|15 min|10:00 AM +07:00|04:30 PM +07:00|Asia/Bangkok
KLS|Bursa Malaysia|Malaysia|MY|.KL|15 min|09:00 AM +08:00|05:00 PM +08:00|Asia/Kuala_Lumpur
JKT|Indonesia Stock Exchange|Indonesia|ID|.JK|15 min|09:00 AM +07:00|04:00 PM +07:00|Asia/Jakarta
PHS|Philippine Stock Exchange|Philippines|PH|.PS|15 min|09:30 AM +08:00|03:00 PM +08:00|Asia/Manila
ASX|Australian Securities Exchange|Australia|AU|.AX|20 min|10:00 AM +11:00|04:00 PM +11:00|Australia/Sydney
NZE|New Zealand Exchange|New Zealand|NZ|.NZ|20 min|10:00 AM +13:00|04:45 PM +13:00|Pacific/Auckland
"""


@dataclass(frozen=True)
class Exchange:
    code: str
    name: str
    country: str
    country_code: str
    suffix: str
    delay: str
    opening: str
    closing: str
    timezone: str


EXCHANGES: dict[str, Exchange] = {
    row.split("|")[0]: Exchange(*row.split("|")) for row in _EXCHANGE_ROWS.strip().splitlines()
}
_BY_SUFFIX = {e.suffix: e for e in EXCHANGES.values() if e.suffix != "N/A"}
_CURRENCY = {"US": "USD", "CA": "CAD", "MX": "MXN", "BR": "BRL", "AR": "ARS", "CL": "CLP", "GB": "GBp",
             "CH": "CHF", "NO": "NOK", "SE": "SEK", "DK": "DKK", "IS": "ISK", "PL": "PLN", "CZ": "CZK",
             "HU": "HUF", "TR": "TRY", "IL": "ILA", "SA": "SAR", "AE": "AED", "QA": "QAR", "KW": "KWF",
             "ZA": "ZAc", "EG": "EGP", "IN": "INR", "JP": "JPY", "HK": "HKD", "CN": "CNY", "KR": "KRW",
             "TW": "TWD", "SG": "SGD", "TH": "THB", "MY": "MYR", "ID": "IDR", "PH": "PHP", "AU": "AUD",
             "NZ": "NZD"}


def currency_of(exchange: Exchange) -> str:
    return _CURRENCY.get(exchange.country_code, "EUR")  # the rest of the catalog is the euro area


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


# ------------------------------------------------------------------------------------------
# Companies
# ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Company:
    symbol: str
    name: str
    exchange: str           # a code of EXCHANGES
    sector: str
    industry: str
    ceo: str
    employees: int
    price: float
    shares_m: float
    beta: float
    eps: float
    revenue_b: float        # latest fiscal year
    dividend: float         # per payment
    div_per_year: int
    city: str
    state: str
    ipo_date: date
    cik: str
    isin: str
    domain: str
    segments: tuple[str, ...]
    fye_month: int          # the month the fiscal year ends in
    country: str = "US"
    currency: str = "USD"

    @property
    def shares(self) -> int:
        return round(self.shares_m * 1e6)

    @property
    def market_cap(self) -> int:
        return round(self.price * self.shares)


# The legacy seed's facts (examples/legacy_app/schema.sql), plus each fiscal year's last month.
_SEED = """
AAPL|Apple Inc.|NASDAQ|Technology|Consumer Electronics|Timothy D. Cook|164000|229.00|15022|1.24|6.08|391.0|0.25|4|Cupertino|CA|1980-12-12|0000320193|US0378331005|apple.com|iPhone;Mac;iPad;Wearables, Home and Accessories;Services|9
MSFT|Microsoft Corporation|NASDAQ|Technology|Software - Infrastructure|Satya Nadella|228000|430.00|7434|0.90|12.41|245.1|0.83|4|Redmond|WA|1986-03-13|0000789019|US5949181045|microsoft.com|Productivity and Business Processes;Intelligent Cloud;More Personal Computing|6
GOOGL|Alphabet Inc.|NASDAQ|Communication Services|Internet Content & Information|Sundar Pichai|183323|175.00|12211|1.00|8.04|350.0|0.20|4|Mountain View|CA|2004-08-19|0001652044|US02079K3059|abc.xyz|Google Services;Google Cloud;Other Bets|12
AMZN|Amazon.com, Inc.|NASDAQ|Consumer Cyclical|Specialty Retail|Andrew R. Jassy|1556000|200.00|10500|1.15|5.53|638.0|0|0|Seattle|WA|1997-05-15|0001018724|US0231351067|amazon.com|North America;International;AWS|12
NVDA|NVIDIA Corporation|NASDAQ|Technology|Semiconductors|Jen-Hsun Huang|36000|135.00|24490|1.66|2.94|130.5|0.01|4|Santa Clara|CA|1999-01-22|0001045810|US67066G1040|nvidia.com|Data Center;Gaming;Professional Visualization;Automotive|1
META|Meta Platforms, Inc.|NASDAQ|Communication Services|Internet Content & Information|Mark Elliot Zuckerberg|72404|590.00|2523|1.21|23.86|164.5|0.50|4|Menlo Park|CA|2012-05-18|0001326801|US30303M1027|meta.com|Family of Apps;Reality Labs|12
TSLA|Tesla, Inc.|NASDAQ|Consumer Cyclical|Auto - Manufacturers|Elon R. Musk|125665|250.00|3216|2.30|2.23|97.7|0|0|Austin|TX|2010-06-29|0001318605|US88160R1014|tesla.com|Automotive;Energy Generation and Storage;Services and Other|12
JPM|JPMorgan Chase & Co.|NYSE|Financial Services|Banks - Diversified|James Dimon|317233|240.00|2800|1.09|19.75|270.0|1.25|4|New York|NY|1980-03-17|0000019617|US46625H1005|jpmorganchase.com|Consumer & Community Banking;Commercial & Investment Bank;Asset & Wealth Management|12
V|Visa Inc.|NYSE|Financial Services|Financial - Credit Services|Ryan M. McInerney|31600|310.00|1950|0.95|9.73|35.9|0.59|4|San Francisco|CA|2008-03-19|0001403161|US92826C8394|visa.com|Service Revenues;Data Processing Revenues;International Transaction Revenues|9
JNJ|Johnson & Johnson|NYSE|Healthcare|Drug Manufacturers - General|Joaquin Duato|138100|155.00|2407|0.52|5.79|88.8|1.24|4|New Brunswick|NJ|1944-09-25|0000200406|US4781601046|jnj.com|Innovative Medicine;MedTech|12
WMT|Walmart Inc.|NYSE|Consumer Defensive|Discount Stores|C. Douglas McMillon|2100000|90.00|8030|0.51|2.41|681.0|0.21|4|Bentonville|AR|1972-08-25|0000104169|US9311421039|walmart.com|Walmart U.S.;Walmart International;Sam's Club|1
PG|The Procter & Gamble Company|NYSE|Consumer Defensive|Household & Personal Products|Jon R. Moeller|108000|170.00|2350|0.42|6.02|84.0|1.01|4|Cincinnati|OH|1950-03-22|0000080424|US7427181091|pg.com|Fabric & Home Care;Baby, Feminine & Family Care;Beauty;Health Care;Grooming|6
XOM|Exxon Mobil Corporation|NYSE|Energy|Oil & Gas Integrated|Darren W. Woods|61000|115.00|4390|0.88|7.84|339.2|0.99|4|Spring|TX|1978-01-13|0000034088|US30231G1022|exxonmobil.com|Upstream;Energy Products;Chemical Products;Specialty Products|12
UNH|UnitedHealth Group Incorporated|NYSE|Healthcare|Medical - Healthcare Plans|Stephen J. Hemsley|400000|520.00|920|0.60|15.51|400.3|2.10|4|Eden Prairie|MN|1984-10-17|0000731766|US91324P1021|unitedhealthgroup.com|UnitedHealthcare;Optum|12
MA|Mastercard Incorporated|NYSE|Financial Services|Financial - Credit Services|Michael Miebach|33400|520.00|917|1.05|13.89|28.2|0.76|4|Purchase|NY|2006-05-25|0001141391|US57636Q1040|mastercard.com|Payment Network;Value-Added Services and Solutions|12
HD|The Home Depot, Inc.|NYSE|Consumer Cyclical|Home Improvement|Edward P. Decker|470100|400.00|993|1.00|14.91|159.5|2.25|4|Atlanta|GA|1981-09-22|0000354950|US4370761029|homedepot.com|Building Materials;Decor;Hardlines|1
KO|The Coca-Cola Company|NYSE|Consumer Defensive|Beverages - Non-Alcoholic|James Robert B. Quincey|69700|68.00|4308|0.61|2.47|47.1|0.51|4|Atlanta|GA|1919-09-05|0000021344|US1912161007|coca-colacompany.com|Concentrate Operations;Finished Products Operations|12
PEP|PepsiCo, Inc.|NASDAQ|Consumer Defensive|Beverages - Non-Alcoholic|Ramon Luis Laguarta|319000|150.00|1372|0.53|6.95|91.9|1.36|4|Purchase|NY|1972-06-01|0000077476|US7134481081|pepsico.com|Frito-Lay North America;PepsiCo Beverages North America;Latin America;Europe;Asia Pacific|12
DIS|The Walt Disney Company|NYSE|Communication Services|Entertainment|Robert A. Iger|233000|110.00|1810|1.40|2.72|91.4|0.50|2|Burbank|CA|1957-11-12|0001744489|US2546871060|thewaltdisneycompany.com|Entertainment;Sports;Experiences|9
NFLX|Netflix, Inc.|NASDAQ|Communication Services|Entertainment|Theodore A. Sarandos|14000|900.00|428|1.27|19.83|39.0|0|0|Los Gatos|CA|2002-05-23|0001065280|US64110L1061|netflix.com|United States and Canada;Europe, Middle East, and Africa;Latin America;Asia-Pacific|12
"""


def _seed_company(row: str) -> Company:
    f = row.split("|")
    return Company(
        symbol=f[0], name=f[1], exchange=f[2], sector=f[3], industry=f[4], ceo=f[5],
        employees=int(f[6]), price=float(f[7]), shares_m=float(f[8]), beta=float(f[9]),
        eps=float(f[10]), revenue_b=float(f[11]), dividend=float(f[12]), div_per_year=int(f[13]),
        city=f[14], state=f[15], ipo_date=date.fromisoformat(f[16]), cik=f[17], isin=f[18],
        domain=f[19], segments=tuple(f[20].split(";")), fye_month=int(f[21]),
    )


KNOWN: dict[str, Company] = {c.symbol: c for c in map(_seed_company, _SEED.strip().splitlines())}

_SECTORS = [
    ("Technology", "Software - Application"), ("Technology", "Semiconductors"),
    ("Industrials", "Specialty Industrial Machinery"), ("Healthcare", "Biotechnology"),
    ("Healthcare", "Medical Devices"), ("Financial Services", "Asset Management"),
    ("Consumer Cyclical", "Restaurants"), ("Consumer Defensive", "Packaged Foods"),
    ("Energy", "Oil & Gas E&P"), ("Utilities", "Utilities - Regulated Electric"),
    ("Real Estate", "REIT - Industrial"), ("Basic Materials", "Specialty Chemicals"),
    ("Communication Services", "Telecom Services"),
]
_SUFFIXES = ["Inc.", "Corporation", "Holdings, Inc.", "Group, Inc.", "Technologies Inc.", "Co.", "plc"]
_FIRST = ["Mary", "James", "Linda", "Robert", "Susan", "David", "Karen", "Michael", "Laura", "Daniel",
          "Priya", "Wei", "Carlos", "Ingrid", "Kenji", "Amara"]
_LAST = ["Anderson", "Baker", "Chen", "Diaz", "Evans", "Fischer", "Garcia", "Hughes", "Iyer", "Jensen",
         "Kowalski", "Lambert", "Moreau", "Nakamura", "Okafor", "Patel"]
_CITIES = [("Austin", "TX"), ("Boston", "MA"), ("Chicago", "IL"), ("Denver", "CO"), ("Houston", "TX"),
           ("Minneapolis", "MN"), ("New York", "NY"), ("Phoenix", "AZ"), ("San Diego", "CA"),
           ("Seattle", "WA"), ("Atlanta", "GA"), ("Charlotte", "NC"), ("Columbus", "OH")]
_SEGMENTS = ["Products", "Services", "Software", "Hardware", "Licensing", "Subscriptions",
             "North America", "International", "Commercial", "Consumer", "Industrial", "Other"]
_STREETS = ["Main Street", "Park Avenue", "Innovation Way", "Market Street", "Corporate Drive",
            "Commerce Boulevard", "Technology Parkway", "Harbor Road"]


def _isin_check(body: str) -> str:
    """The ISIN check digit: Luhn over the body with letters as 10..35."""
    total = 0
    for i, ch in enumerate(reversed("".join(str(int(c, 36)) for c in body))):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str((10 - total % 10) % 10)


def _synthetic(symbol: str) -> Company:
    r = rng_for("company", symbol)
    sector, industry = r.choice(_SECTORS)
    base = re.sub(r"[^A-Za-z0-9]", "", symbol.split(".")[0]) or symbol
    exchange = _exchange_for(symbol, r)
    price = round(math.exp(r.uniform(math.log(4), math.log(600))), 2)
    shares_m = round(math.exp(r.uniform(math.log(30), math.log(4000))), 1)
    pays = r.random() < 0.55
    div_per_year = r.choice([4, 4, 4, 2, 12, 1]) if pays else 0
    city, state = r.choice(_CITIES)
    cusip = "".join(r.choice("0123456789") for _ in range(6)) + "10" + str(r.randint(0, 9))
    isin = EXCHANGES[exchange].country_code + cusip
    return Company(
        symbol=symbol, name=f"{base.title()} {r.choice(_SUFFIXES)}", exchange=exchange,
        sector=sector, industry=industry, ceo=f"{r.choice(_FIRST)} {r.choice(_LAST)}",
        employees=r.randint(300, 90000), price=price, shares_m=shares_m, beta=round(r.uniform(0.4, 2.2), 2),
        eps=round(price / r.uniform(8, 45), 2),
        revenue_b=round(price * shares_m / 1000 / r.uniform(0.8, 8), 3),
        dividend=round(price * r.uniform(0.006, 0.045) / div_per_year, 4) if pays else 0.0,
        div_per_year=div_per_year, city=city, state=state,
        ipo_date=date(r.randint(1972, 2021), r.randint(1, 12), r.randint(1, 28)),
        cik=f"{r.randint(10000, 1999999):010d}", isin=isin + _isin_check(isin),
        domain=f"{base.lower()}.com", segments=tuple(r.sample(_SEGMENTS, r.randint(2, 5))),
        fye_month=r.choice([12, 12, 12, 6, 9, 3]), country=EXCHANGES[exchange].country_code,
        currency=currency_of(EXCHANGES[exchange]),
    )


def _exchange_for(symbol: str, r: random.Random) -> str:
    if "." in symbol:
        listed = _BY_SUFFIX.get("." + symbol.rsplit(".", 1)[1])
        if listed:
            return listed.code
    return r.choice(["NASDAQ", "NASDAQ", "NYSE", "NYSE", "AMEX"])


@lru_cache(maxsize=4096)
def company(symbol: str) -> Company:
    return KNOWN.get(symbol) or _synthetic(symbol)


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
def quote(c: Company, params: dict) -> list[dict]:
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


def profile(c: Company, params: dict) -> list[dict]:
    r = rng_for("profile", c.symbol)
    q = quote(c, params)[0]
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


def _statement(body: Callable[[Company, Period], dict]) -> Callable[[Company, dict], list[dict]]:
    def build(c: Company, params: dict) -> list[dict]:
        period = params.get("period") or "annual"
        quarterly = period == "quarter" or period.startswith("Q")
        wanted = period if period in ("FY", "Q1", "Q2", "Q3", "Q4") else None
        rows = _periods(c, quarterly, wanted)[: params.get("limit") or 5]
        return [{**_header(c, p), **body(c, p)} for p in rows]
    return build


# ------------------------------------------------------------------------------------------
# ratios-ttm: from the latest fiscal year, so it agrees with the statements
# ------------------------------------------------------------------------------------------
def ratios_ttm(c: Company, params: dict) -> list[dict]:
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


def dividends(c: Company, params: dict) -> list[dict]:
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


def shares_float(c: Company, params: dict) -> list[dict]:
    r = rng_for("shares-float", c.symbol)
    free = round(r.uniform(0.85, 0.999) * 100, 4)
    stamp = AS_OF - timedelta(hours=r.randint(1, 20), minutes=r.randint(0, 59), seconds=r.randint(0, 59))
    return [{
        "symbol": c.symbol, "date": stamp.strftime("%Y-%m-%d %H:%M:%S"), "freeFloat": free,
        "floatShares": round(c.shares * free / 100), "outstandingShares": c.shares,
    }]


def revenue_segmentation(c: Company, params: dict) -> list[dict]:
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


def grades_historical(c: Company, params: dict) -> list[dict]:
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


def exchange_variants(c: Company, params: dict) -> list[dict]:
    r = rng_for("search-exchange-variants", c.symbol)
    listings = [(c.symbol, EXCHANGES[c.exchange], 1.0)]
    if c.country == "US":
        listings += [(c.symbol + sfx, EXCHANGES[code], fx) for sfx, code, fx, always in _VARIANTS
                     if always or r.random() < 0.5]
    q = quote(c, params)[0]
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


def available_exchanges(params: dict) -> list[dict]:
    return [{"exchange": e.code, "name": e.name, "countryName": e.country, "countryCode": e.country_code,
             "symbolSuffix": e.suffix, "delay": e.delay} for e in EXCHANGES.values()]


def market_hours(exchange: str, params: dict) -> list[dict]:
    e = EXCHANGES.get(exchange)
    if e is None:
        return []  # FMP answers unknown exchanges with an empty list
    return [{"exchange": e.code, "name": e.name, "openingHour": e.opening, "closingHour": e.closing,
             "timezone": e.timezone, "isMarketOpen": _is_open(e, AS_OF)}]


# ------------------------------------------------------------------------------------------
# The endpoint table and the entry point
# ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Endpoint:
    key: str | None                 # the query parameter naming the subject: symbol, exchange or none
    build: Callable
    params: tuple[str, ...] = ()    # optional parameters FMP accepts: limit, period
    periods: tuple[str, ...] = ()


_STATEMENT_PERIODS = ("annual", "quarter", "FY", "Q1", "Q2", "Q3", "Q4")

ENDPOINTS: dict[str, Endpoint] = {
    "quote": Endpoint("symbol", quote),
    "profile": Endpoint("symbol", profile),
    "income-statement": Endpoint("symbol", _statement(_core), ("limit", "period"), _STATEMENT_PERIODS),
    "balance-sheet-statement": Endpoint("symbol", _statement(_balance), ("limit", "period"), _STATEMENT_PERIODS),
    "cash-flow-statement": Endpoint("symbol", _statement(_cash_flow), ("limit", "period"), _STATEMENT_PERIODS),
    "ratios-ttm": Endpoint("symbol", ratios_ttm),
    "dividends": Endpoint("symbol", dividends, ("limit",)),
    "shares-float": Endpoint("symbol", shares_float),
    "revenue-product-segmentation": Endpoint("symbol", revenue_segmentation, ("period",), ("annual", "quarter")),
    "grades-historical": Endpoint("symbol", grades_historical, ("limit",)),
    "search-exchange-variants": Endpoint("symbol", exchange_variants),
    "available-exchanges": Endpoint(None, lambda _subject, params: available_exchanges(params)),
    "exchange-market-hours": Endpoint("exchange", market_hours),
}


def parse_params(endpoint: str, query: dict[str, str]) -> tuple[str | None, dict]:
    """The subject (symbol or exchange) and the optional parameters, validated as FMP does."""
    spec = ENDPOINTS[endpoint]
    subject = None
    if spec.key:
        subject = query.get(spec.key, "")
        if not TICKER.match(subject):
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
    if subject is not None and UNKNOWN.match(subject):
        rows: list = []
    elif endpoint == "exchange-market-hours":
        rows = market_hours(subject, params)
    elif subject is None:
        rows = ENDPOINTS[endpoint].build(None, params)
    else:
        rows = ENDPOINTS[endpoint].build(company(subject), params)
    # Pretty-printed with two spaces, as FMP sends it: byte counts stay close to the real API's.
    return json.dumps(rows, indent=2, ensure_ascii=False).encode()


def payload(endpoint: str, query: dict[str, str]) -> bytes:
    """The JSON body FMP would send for `GET /stable/<endpoint>?<query>`; BadRequest for a 400."""
    subject, params = parse_params(endpoint, query)
    return _render(endpoint, subject, tuple(sorted(params.items())))
