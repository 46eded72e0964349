"""The sandbox's reference data: the exchanges it lists and the companies it knows.

The twenty companies of the legacy app's seed keep their seed facts (price, shares, EPS,
revenue, dividend, segments), so sandbox data agrees with the example tables; any other
plausible ticker gets a synthetic company, drawn from the name pools below.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from toolkit.dev.sandbox.determinism import rng_for


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
