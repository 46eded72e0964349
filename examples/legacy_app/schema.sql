-- The "legacy app": a stock-analytics app as it exists BEFORE the toolkit rollout.
-- Eleven tables cached from the Financial Modeling Prep API, readable by everyone and
-- written only by service_role, kept fresh by one pg_cron job per data type that calls
-- legacy.refresh_data_type() (see cron_jobs.sql). The rollout replaces those jobs.
--
-- Safe to run again: CREATE ... IF NOT EXISTS, policies created only when missing,
-- seed rows ON CONFLICT DO NOTHING (so a re-run keeps the original freshness spread).

-- =====================================================================================
-- Data tables. updated_at is the freshness signal every refresh strategy relies on.
-- =====================================================================================
CREATE TABLE IF NOT EXISTS public.stock_quotes (
    symbol text PRIMARY KEY,
    price numeric, change numeric, changes_percentage numeric,
    day_low numeric, day_high numeric, year_low numeric, year_high numeric,
    market_cap bigint, price_avg_50 numeric, price_avg_200 numeric, exchange text,
    volume bigint, avg_volume bigint, open numeric, previous_close numeric,
    eps numeric, pe numeric, earnings_announcement timestamptz,
    shares_outstanding bigint, quote_timestamp timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.company_profiles (
    symbol text PRIMARY KEY,
    company_name text, currency text, cik text, isin text, cusip text,
    exchange text, exchange_full_name text, industry text, sector text, country text,
    website text, description text, ceo text, full_time_employees integer,
    phone text, address text, city text, state text, zip text, image text,
    ipo_date date, is_etf boolean NOT NULL DEFAULT false,
    is_actively_trading boolean NOT NULL DEFAULT true,
    beta numeric, market_cap bigint, last_dividend numeric, range text,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Statements vary too much per company for fixed columns: the raw API payload is kept.
CREATE TABLE IF NOT EXISTS public.financial_statements (
    symbol            text    NOT NULL,
    statement_type    text    NOT NULL CHECK (statement_type IN ('income', 'balance-sheet', 'cash-flow')),
    period            text    NOT NULL CHECK (period IN ('FY', 'Q1', 'Q2', 'Q3', 'Q4')),
    fiscal_year       integer NOT NULL,
    date              date,
    reported_currency text,
    filing_date       date,
    accepted_date     timestamptz,
    data              jsonb   NOT NULL,
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (symbol, statement_type, period, fiscal_year)
);
CREATE INDEX IF NOT EXISTS financial_statements_symbol_updated_at_idx
    ON public.financial_statements (symbol, updated_at);

CREATE TABLE IF NOT EXISTS public.ratios_ttm (
    symbol text PRIMARY KEY,
    gross_profit_margin_ttm numeric, operating_profit_margin_ttm numeric,
    net_profit_margin_ttm numeric, current_ratio_ttm numeric, quick_ratio_ttm numeric,
    debt_to_equity_ratio_ttm numeric, price_to_earnings_ratio_ttm numeric,
    price_to_book_ratio_ttm numeric, price_to_sales_ratio_ttm numeric,
    dividend_yield_ttm numeric, return_on_equity_ttm numeric, return_on_assets_ttm numeric,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.dividend_history (
    symbol text NOT NULL,
    ex_date date NOT NULL,
    record_date date, payment_date date, declaration_date date,
    adj_dividend numeric, dividend numeric, yield numeric, frequency text,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (symbol, ex_date)
);
CREATE INDEX IF NOT EXISTS dividend_history_symbol_updated_at_idx
    ON public.dividend_history (symbol, updated_at);

CREATE TABLE IF NOT EXISTS public.shares_float (
    symbol text PRIMARY KEY,
    free_float numeric, float_shares bigint, outstanding_shares bigint, source_date date,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.revenue_segmentation (
    symbol text NOT NULL,
    fiscal_year integer NOT NULL,
    period text NOT NULL,
    reported_currency text,
    date date,
    data jsonb NOT NULL,   -- segment name -> revenue
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (symbol, fiscal_year, period)
);

CREATE TABLE IF NOT EXISTS public.grades_historical (
    symbol text NOT NULL,
    date date NOT NULL,
    analyst_ratings_strong_buy integer, analyst_ratings_buy integer,
    analyst_ratings_hold integer, analyst_ratings_sell integer,
    analyst_ratings_strong_sell integer,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (symbol, date)
);

CREATE TABLE IF NOT EXISTS public.exchange_variants (
    symbol text NOT NULL,
    variant_symbol text NOT NULL,
    company_name text, exchange text, exchange_short_name text, currency text,
    price numeric, is_actively_trading boolean NOT NULL DEFAULT true,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (symbol, variant_symbol)
);

CREATE TABLE IF NOT EXISTS public.available_exchanges (
    exchange text PRIMARY KEY,
    name text, country_name text, country_code text, symbol_suffix text, delay text,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.exchange_market_status (
    exchange text PRIMARY KEY,
    name text, opening_hour text, closing_hour text, timezone text,
    is_market_open boolean,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- =====================================================================================
-- Access: everyone reads, only service_role writes. Supabase's default privileges
-- grant anon and authenticated ALL on new public tables, so the writes are revoked
-- explicitly; RLS alone would still let TRUNCATE (not subject to RLS) through.
-- =====================================================================================
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY[
        'stock_quotes', 'company_profiles', 'financial_statements', 'ratios_ttm',
        'dividend_history', 'shares_float', 'revenue_segmentation', 'grades_historical',
        'exchange_variants', 'available_exchanges', 'exchange_market_status'
    ] LOOP
        EXECUTE format('ALTER TABLE public.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER '
                       'ON public.%I FROM anon, authenticated', t);
        EXECUTE format('GRANT SELECT ON public.%I TO anon, authenticated', t);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON public.%I TO service_role', t);
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_policies
                       WHERE schemaname = 'public' AND tablename = t
                         AND policyname = 'Public read access') THEN
            EXECUTE format('CREATE POLICY %I ON public.%I FOR SELECT TO anon, authenticated '
                           'USING (true)', 'Public read access', t);
        END IF;
    END LOOP;
END
$$;

-- =====================================================================================
-- The old system's refresh code. Private: no API role may call it.
-- =====================================================================================
CREATE SCHEMA IF NOT EXISTS legacy;
REVOKE ALL ON SCHEMA legacy FROM PUBLIC;

CREATE TABLE IF NOT EXISTS legacy.refresh_log (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    data_type    text        NOT NULL,
    started_at   timestamptz NOT NULL,
    finished_at  timestamptz,
    rows_touched bigint
);

-- Stands in for "call the FMP API and upsert": every row of the type's table counts as
-- refetched. Quote prices move by a deterministic +/-0.1% per symbol and minute so
-- repeated runs visibly change data without random().
CREATE OR REPLACE FUNCTION legacy.refresh_data_type(p_data_type text)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = ''
AS $$
DECLARE
    v_started timestamptz := pg_catalog.clock_timestamp();
    v_table   text;
    v_rows    bigint;
BEGIN
    v_table := CASE p_data_type
        WHEN 'quote'                  THEN 'stock_quotes'
        WHEN 'profile'                THEN 'company_profiles'
        WHEN 'financial-statements'   THEN 'financial_statements'
        WHEN 'ratios-ttm'             THEN 'ratios_ttm'
        WHEN 'dividend-history'       THEN 'dividend_history'
        WHEN 'shares-float'           THEN 'shares_float'
        WHEN 'revenue-segmentation'   THEN 'revenue_segmentation'
        WHEN 'grades-historical'      THEN 'grades_historical'
        WHEN 'exchange-variants'      THEN 'exchange_variants'
        WHEN 'available-exchanges'    THEN 'available_exchanges'
        WHEN 'exchange-market-status' THEN 'exchange_market_status'
    END;
    IF v_table IS NULL THEN
        RAISE EXCEPTION 'legacy.refresh_data_type: unknown data type %', p_data_type
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    IF p_data_type = 'quote' THEN
        WITH moved AS (
            SELECT q.symbol,
                   round(q.price * (1 + (h.bucket - 100) / 100000.0), 2) AS p
            FROM public.stock_quotes AS q,
                 LATERAL (SELECT ('x' || left(md5(q.symbol || to_char(now(), 'YYYYMMDDHH24MI')), 7))
                                     ::bit(28)::integer % 201 AS bucket) AS h
        )
        UPDATE public.stock_quotes AS q
        SET price              = m.p,
            change             = round(m.p - q.previous_close, 2),
            changes_percentage = round((m.p - q.previous_close) / nullif(q.previous_close, 0) * 100, 4),
            day_low            = least(q.day_low, m.p),
            day_high           = greatest(q.day_high, m.p),
            market_cap         = round(m.p * q.shares_outstanding)::bigint,
            quote_timestamp    = now(),
            updated_at         = now()
        FROM moved AS m
        WHERE q.symbol = m.symbol;
    ELSE
        EXECUTE format('UPDATE public.%I SET updated_at = now()', v_table);
    END IF;
    GET DIAGNOSTICS v_rows = ROW_COUNT;

    INSERT INTO legacy.refresh_log (data_type, started_at, finished_at, rows_touched)
    VALUES (p_data_type, v_started, pg_catalog.clock_timestamp(), v_rows);
    RETURN v_rows;
END
$$;
REVOKE EXECUTE ON FUNCTION legacy.refresh_data_type(text) FROM PUBLIC, anon, authenticated;

-- =====================================================================================
-- Seed data. Business values are fixed; updated_at is now() minus a deterministic age
-- of up to ~3 refresh intervals (from an md5 of symbol and type), so at load time some
-- rows are fresh and some stale for every data type.
-- =====================================================================================
CREATE OR REPLACE FUNCTION pg_temp.seed_frac(p_key text) RETURNS numeric
LANGUAGE sql IMMUTABLE AS
$$ SELECT (('x' || left(md5(p_key), 7))::bit(28)::integer / 268435456.0)::numeric $$;

CREATE OR REPLACE FUNCTION pg_temp.seed_at(p_key text, p_max_age interval) RETURNS timestamptz
LANGUAGE sql STABLE AS
$$ SELECT now() - p_max_age * pg_temp.seed_frac(p_key) $$;

DROP TABLE IF EXISTS pg_temp.seed_company;
CREATE TEMP TABLE seed_company (
    symbol text PRIMARY KEY, name text, exchange text, sector text, industry text,
    ceo text, employees integer, price numeric, shares_m numeric, beta numeric, eps numeric,
    revenue_b numeric, dividend numeric, div_per_year integer, city text, state text,
    ipo_date date, cik text, isin text, domain text, segments text[]
);
INSERT INTO pg_temp.seed_company VALUES
('AAPL', 'Apple Inc.', 'NASDAQ', 'Technology', 'Consumer Electronics', 'Timothy D. Cook', 164000, 229.00, 15022, 1.24, 6.08, 391.0, 0.25, 4, 'Cupertino', 'CA', '1980-12-12', '0000320193', 'US0378331005', 'apple.com', '{iPhone,Mac,iPad,"Wearables, Home and Accessories",Services}'),
('MSFT', 'Microsoft Corporation', 'NASDAQ', 'Technology', 'Software - Infrastructure', 'Satya Nadella', 228000, 430.00, 7434, 0.90, 12.41, 245.1, 0.83, 4, 'Redmond', 'WA', '1986-03-13', '0000789019', 'US5949181045', 'microsoft.com', '{"Productivity and Business Processes","Intelligent Cloud","More Personal Computing"}'),
('GOOGL', 'Alphabet Inc.', 'NASDAQ', 'Communication Services', 'Internet Content & Information', 'Sundar Pichai', 183323, 175.00, 12211, 1.00, 8.04, 350.0, 0.20, 4, 'Mountain View', 'CA', '2004-08-19', '0001652044', 'US02079K3059', 'abc.xyz', '{"Google Services","Google Cloud","Other Bets"}'),
('AMZN', 'Amazon.com, Inc.', 'NASDAQ', 'Consumer Cyclical', 'Specialty Retail', 'Andrew R. Jassy', 1556000, 200.00, 10500, 1.15, 5.53, 638.0, 0, 0, 'Seattle', 'WA', '1997-05-15', '0001018724', 'US0231351067', 'amazon.com', '{"North America",International,AWS}'),
('NVDA', 'NVIDIA Corporation', 'NASDAQ', 'Technology', 'Semiconductors', 'Jen-Hsun Huang', 36000, 135.00, 24490, 1.66, 2.94, 130.5, 0.01, 4, 'Santa Clara', 'CA', '1999-01-22', '0001045810', 'US67066G1040', 'nvidia.com', '{"Data Center",Gaming,"Professional Visualization",Automotive}'),
('META', 'Meta Platforms, Inc.', 'NASDAQ', 'Communication Services', 'Internet Content & Information', 'Mark Elliot Zuckerberg', 72404, 590.00, 2523, 1.21, 23.86, 164.5, 0.50, 4, 'Menlo Park', 'CA', '2012-05-18', '0001326801', 'US30303M1027', 'meta.com', '{"Family of Apps","Reality Labs"}'),
('TSLA', 'Tesla, Inc.', 'NASDAQ', 'Consumer Cyclical', 'Auto - Manufacturers', 'Elon R. Musk', 125665, 250.00, 3216, 2.30, 2.23, 97.7, 0, 0, 'Austin', 'TX', '2010-06-29', '0001318605', 'US88160R1014', 'tesla.com', '{Automotive,"Energy Generation and Storage","Services and Other"}'),
('JPM', 'JPMorgan Chase & Co.', 'NYSE', 'Financial Services', 'Banks - Diversified', 'James Dimon', 317233, 240.00, 2800, 1.09, 19.75, 270.0, 1.25, 4, 'New York', 'NY', '1980-03-17', '0000019617', 'US46625H1005', 'jpmorganchase.com', '{"Consumer & Community Banking","Commercial & Investment Bank","Asset & Wealth Management"}'),
('V', 'Visa Inc.', 'NYSE', 'Financial Services', 'Financial - Credit Services', 'Ryan M. McInerney', 31600, 310.00, 1950, 0.95, 9.73, 35.9, 0.59, 4, 'San Francisco', 'CA', '2008-03-19', '0001403161', 'US92826C8394', 'visa.com', '{"Service Revenues","Data Processing Revenues","International Transaction Revenues"}'),
('JNJ', 'Johnson & Johnson', 'NYSE', 'Healthcare', 'Drug Manufacturers - General', 'Joaquin Duato', 138100, 155.00, 2407, 0.52, 5.79, 88.8, 1.24, 4, 'New Brunswick', 'NJ', '1944-09-25', '0000200406', 'US4781601046', 'jnj.com', '{"Innovative Medicine",MedTech}'),
('WMT', 'Walmart Inc.', 'NYSE', 'Consumer Defensive', 'Discount Stores', 'C. Douglas McMillon', 2100000, 90.00, 8030, 0.51, 2.41, 681.0, 0.21, 4, 'Bentonville', 'AR', '1972-08-25', '0000104169', 'US9311421039', 'walmart.com', '{"Walmart U.S.","Walmart International","Sam''s Club"}'),
('PG', 'The Procter & Gamble Company', 'NYSE', 'Consumer Defensive', 'Household & Personal Products', 'Jon R. Moeller', 108000, 170.00, 2350, 0.42, 6.02, 84.0, 1.01, 4, 'Cincinnati', 'OH', '1950-03-22', '0000080424', 'US7427181091', 'pg.com', '{"Fabric & Home Care","Baby, Feminine & Family Care",Beauty,"Health Care",Grooming}'),
('XOM', 'Exxon Mobil Corporation', 'NYSE', 'Energy', 'Oil & Gas Integrated', 'Darren W. Woods', 61000, 115.00, 4390, 0.88, 7.84, 339.2, 0.99, 4, 'Spring', 'TX', '1978-01-13', '0000034088', 'US30231G1022', 'exxonmobil.com', '{Upstream,"Energy Products","Chemical Products","Specialty Products"}'),
('UNH', 'UnitedHealth Group Incorporated', 'NYSE', 'Healthcare', 'Medical - Healthcare Plans', 'Stephen J. Hemsley', 400000, 520.00, 920, 0.60, 15.51, 400.3, 2.10, 4, 'Eden Prairie', 'MN', '1984-10-17', '0000731766', 'US91324P1021', 'unitedhealthgroup.com', '{UnitedHealthcare,Optum}'),
('MA', 'Mastercard Incorporated', 'NYSE', 'Financial Services', 'Financial - Credit Services', 'Michael Miebach', 33400, 520.00, 917, 1.05, 13.89, 28.2, 0.76, 4, 'Purchase', 'NY', '2006-05-25', '0001141391', 'US57636Q1040', 'mastercard.com', '{"Payment Network","Value-Added Services and Solutions"}'),
('HD', 'The Home Depot, Inc.', 'NYSE', 'Consumer Cyclical', 'Home Improvement', 'Edward P. Decker', 470100, 400.00, 993, 1.00, 14.91, 159.5, 2.25, 4, 'Atlanta', 'GA', '1981-09-22', '0000354950', 'US4370761029', 'homedepot.com', '{"Building Materials",Decor,Hardlines}'),
('KO', 'The Coca-Cola Company', 'NYSE', 'Consumer Defensive', 'Beverages - Non-Alcoholic', 'James Robert B. Quincey', 69700, 68.00, 4308, 0.61, 2.47, 47.1, 0.51, 4, 'Atlanta', 'GA', '1919-09-05', '0000021344', 'US1912161007', 'coca-colacompany.com', '{"Concentrate Operations","Finished Products Operations"}'),
('PEP', 'PepsiCo, Inc.', 'NASDAQ', 'Consumer Defensive', 'Beverages - Non-Alcoholic', 'Ramon Luis Laguarta', 319000, 150.00, 1372, 0.53, 6.95, 91.9, 1.36, 4, 'Purchase', 'NY', '1972-06-01', '0000077476', 'US7134481081', 'pepsico.com', '{"Frito-Lay North America","PepsiCo Beverages North America","Latin America",Europe,"Asia Pacific"}'),
('DIS', 'The Walt Disney Company', 'NYSE', 'Communication Services', 'Entertainment', 'Robert A. Iger', 233000, 110.00, 1810, 1.40, 2.72, 91.4, 0.50, 2, 'Burbank', 'CA', '1957-11-12', '0001744489', 'US2546871060', 'thewaltdisneycompany.com', '{Entertainment,Sports,Experiences}'),
('NFLX', 'Netflix, Inc.', 'NASDAQ', 'Communication Services', 'Entertainment', 'Theodore A. Sarandos', 14000, 900.00, 428, 1.27, 19.83, 39.0, 0, 0, 'Los Gatos', 'CA', '2002-05-23', '0001065280', 'US64110L1061', 'netflix.com', '{"United States and Canada","Europe, Middle East, and Africa","Latin America",Asia-Pacific}');

INSERT INTO public.stock_quotes
SELECT c.symbol, c.price, round(c.price - pc, 2), round((c.price - pc) / pc * 100, 4),
       round(least(c.price, pc) * 0.99, 2), round(greatest(c.price, pc) * 1.01, 2),
       round(c.price * 0.72, 2), round(c.price * 1.14, 2), round(c.price * c.shares_m * 1e6)::bigint,
       round(c.price * 0.98, 2), round(c.price * 0.93, 2), c.exchange,
       round(c.shares_m * 1e6 * (0.002 + 0.006 * f))::bigint, round(c.shares_m * 1e6 * 0.005)::bigint,
       round(pc * 1.002, 2), pc, c.eps, round(c.price / c.eps, 2),
       timestamptz '2027-01-28 21:30:00+00' + round(f * 20) * interval '1 day',
       round(c.shares_m * 1e6)::bigint, at, at
FROM pg_temp.seed_company AS c,
     LATERAL (SELECT pg_temp.seed_frac(c.symbol) AS f,
                     pg_temp.seed_at(c.symbol || ':quote', interval '3 minutes') AS at) AS s,
     LATERAL (SELECT round(c.price * (1 - (f - 0.5) / 25), 2) AS pc) AS p
ON CONFLICT DO NOTHING;

INSERT INTO public.company_profiles
SELECT c.symbol, c.name, 'USD', c.cik, c.isin, substr(c.isin, 3, 9), c.exchange,
       CASE c.exchange WHEN 'NASDAQ' THEN 'NASDAQ Global Select' ELSE 'New York Stock Exchange' END,
       c.industry, c.sector, 'US', 'https://www.' || c.domain,
       c.name || ' operates in the ' || lower(c.industry) || ' industry.', c.ceo, c.employees,
       NULL, NULL, c.city, c.state, NULL,
       'https://images.financialmodelingprep.com/symbol/' || c.symbol || '.png',
       c.ipo_date, false, true, c.beta, round(c.price * c.shares_m * 1e6)::bigint,
       c.dividend * c.div_per_year, round(c.price * 0.72, 2) || '-' || round(c.price * 1.14, 2),
       pg_temp.seed_at(c.symbol || ':profile', interval '3 days')
FROM pg_temp.seed_company AS c
ON CONFLICT DO NOTHING;

INSERT INTO public.financial_statements
SELECT c.symbol, t.statement_type, per.period, per.fiscal_year, per.end_date, 'USD',
       per.end_date + 35, (per.end_date + 35) + time '20:30',
       CASE t.statement_type
           WHEN 'income' THEN jsonb_build_object(
               'revenue', rev, 'costOfRevenue', round(rev * 0.55), 'grossProfit', round(rev * 0.45),
               'operatingIncome', round(rev * 0.25), 'netIncome', round(rev * 0.2),
               'eps', round(rev * 0.2 / (c.shares_m * 1e6), 2), 'weightedAverageShsOut', c.shares_m * 1e6)
           WHEN 'balance-sheet' THEN jsonb_build_object(
               'cashAndCashEquivalents', round(rev * 0.15), 'totalAssets', round(rev * 1.6),
               'totalLiabilities', round(rev * 1.0), 'totalStockholdersEquity', round(rev * 0.6),
               'totalDebt', round(rev * 0.4))
           ELSE jsonb_build_object(
               'operatingCashFlow', round(rev * 0.28), 'capitalExpenditure', -round(rev * 0.06),
               'freeCashFlow', round(rev * 0.22), 'commonDividendsPaid', -round(c.dividend * c.div_per_year * c.shares_m * 1e6))
       END,
       pg_temp.seed_at(c.symbol || ':financial-statements', interval '21 days')
FROM pg_temp.seed_company AS c
CROSS JOIN (VALUES ('income'), ('balance-sheet'), ('cash-flow')) AS t(statement_type)
CROSS JOIN (VALUES ('FY', 2023, date '2023-12-31', 1.0), ('FY', 2024, '2024-12-31', 1.0),
                   ('FY', 2025, '2025-12-31', 1.0), ('Q1', 2025, '2025-03-31', 0.24),
                   ('Q2', 2025, '2025-06-30', 0.25), ('Q3', 2025, '2025-09-30', 0.25),
                   ('Q4', 2025, '2025-12-31', 0.26)) AS per(period, fiscal_year, end_date, share),
     LATERAL (SELECT round(c.revenue_b * 1e9 * per.share * (1 - 0.07 * (2025 - per.fiscal_year))) AS rev) AS r
ON CONFLICT DO NOTHING;

INSERT INTO public.ratios_ttm
SELECT c.symbol, round(0.3 + 0.4 * f, 4), round(0.1 + 0.3 * f, 4), round(0.08 + 0.25 * f, 4),
       round(0.8 + f, 4), round(0.6 + 0.9 * f, 4), round(0.2 + 2 * (1 - f), 4),
       round(c.price / c.eps, 2), round(3 + 40 * f, 2),
       round(c.price * c.shares_m / (c.revenue_b * 1000), 2),
       round(c.dividend * c.div_per_year / c.price, 5), round(0.1 + 0.9 * f, 4), round(0.03 + 0.2 * f, 4),
       pg_temp.seed_at(c.symbol || ':ratios-ttm', interval '3 days')
FROM pg_temp.seed_company AS c, LATERAL (SELECT pg_temp.seed_frac(c.symbol || ':ratios') AS f) AS s
ON CONFLICT DO NOTHING;

-- The last eight payments of each payer, quarterly or semi-annual, on fixed dates.
INSERT INTO public.dividend_history
SELECT c.symbol, ex, ex + 1, ex + 14, ex - 30, c.dividend, c.dividend,
       round(c.dividend * c.div_per_year / c.price * 100, 4),
       CASE c.div_per_year WHEN 4 THEN 'Quarterly' ELSE 'Semi-Annual' END,
       pg_temp.seed_at(c.symbol || ':dividend-history', interval '3 days')
FROM pg_temp.seed_company AS c
CROSS JOIN generate_series(0, 7) AS n,
     LATERAL (SELECT (date '2026-08-01' - n * (12 / c.div_per_year) * interval '1 month')::date
                     + (pg_temp.seed_frac(c.symbol) * 20)::integer AS ex) AS d
WHERE c.div_per_year > 0
ON CONFLICT DO NOTHING;

INSERT INTO public.shares_float
SELECT c.symbol, round((0.85 + 0.149 * f) * 100, 4), round(c.shares_m * 1e6 * (0.85 + 0.149 * f))::bigint,
       round(c.shares_m * 1e6)::bigint, date '2026-10-15',
       pg_temp.seed_at(c.symbol || ':shares-float', interval '3 days')
FROM pg_temp.seed_company AS c, LATERAL (SELECT pg_temp.seed_frac(c.symbol || ':float') AS f) AS s
ON CONFLICT DO NOTHING;

-- Segment weights come from md5 too, normalised so the segments add up to revenue.
INSERT INTO public.revenue_segmentation
SELECT w.symbol, y.fiscal_year, 'FY', 'USD', make_date(y.fiscal_year, 12, 31),
       jsonb_object_agg(w.segment, round(w.revenue_b * 1e9 * (1 - 0.07 * (2025 - y.fiscal_year)) * w.weight / w.total)),
       pg_temp.seed_at(w.symbol || ':revenue-segmentation', interval '21 days')
FROM (SELECT c.symbol, c.revenue_b, seg.segment, 1 + 3 * pg_temp.seed_frac(c.symbol || seg.segment) AS weight,
             sum(1 + 3 * pg_temp.seed_frac(c.symbol || seg.segment)) OVER (PARTITION BY c.symbol) AS total
      FROM pg_temp.seed_company AS c, unnest(c.segments) AS seg(segment)) AS w
CROSS JOIN generate_series(2023, 2025) AS y(fiscal_year)
GROUP BY w.symbol, y.fiscal_year
ON CONFLICT DO NOTHING;

INSERT INTO public.grades_historical
SELECT c.symbol, m::date,
       (4 + 12 * f)::integer, (10 + 20 * f)::integer, (5 + 10 * (1 - f))::integer,
       (3 * (1 - f))::integer, (1.5 * (1 - f))::integer,
       pg_temp.seed_at(c.symbol || ':grades-historical', interval '3 days')
FROM pg_temp.seed_company AS c
CROSS JOIN generate_series(date '2026-01-01', date '2026-11-01', interval '1 month') AS m,
     -- Mostly a per-symbol consensus, drifting a little from month to month.
     LATERAL (SELECT 0.8 * pg_temp.seed_frac(c.symbol) + 0.2 * pg_temp.seed_frac(c.symbol || m::text) AS f) AS s
ON CONFLICT DO NOTHING;

-- The primary listing plus Xetra and Cboe Canada (CDR) variants.
INSERT INTO public.exchange_variants
SELECT c.symbol, c.symbol || v.suffix, c.name, coalesce(v.exchange, c.exchange),
       coalesce(v.short_name, c.exchange), v.currency, round(c.price * v.fx, 2), true,
       pg_temp.seed_at(c.symbol || ':exchange-variants', interval '21 days')
FROM pg_temp.seed_company AS c
CROSS JOIN (VALUES ('', NULL, NULL, 'USD', 1.0), ('.DE', 'Deutsche Boerse Xetra', 'XETRA', 'EUR', 0.92),
                   ('.NE', 'Cboe Canada', 'NEO', 'CAD', 0.069)) AS v(suffix, exchange, short_name, currency, fx)
ON CONFLICT DO NOTHING;

DROP TABLE IF EXISTS pg_temp.seed_exchange;
CREATE TEMP TABLE seed_exchange (
    exchange text PRIMARY KEY, name text, country_name text, country_code text,
    symbol_suffix text, delay text, opening_hour text, closing_hour text, timezone text
);
INSERT INTO pg_temp.seed_exchange VALUES
('NASDAQ', 'NASDAQ', 'United States of America', 'US', '', 'Real-time', '09:30 AM -05:00', '04:00 PM -05:00', 'America/New_York'),
('NYSE', 'New York Stock Exchange', 'United States of America', 'US', '', 'Real-time', '09:30 AM -05:00', '04:00 PM -05:00', 'America/New_York'),
('AMEX', 'New York Stock Exchange American', 'United States of America', 'US', '', 'Real-time', '09:30 AM -05:00', '04:00 PM -05:00', 'America/New_York'),
('LSE', 'London Stock Exchange', 'United Kingdom', 'GB', '.L', '15 min', '08:00 AM +00:00', '04:30 PM +00:00', 'Europe/London'),
('XETRA', 'Deutsche Boerse Xetra', 'Germany', 'DE', '.DE', '15 min', '09:00 AM +01:00', '05:30 PM +01:00', 'Europe/Berlin'),
('TSX', 'Toronto Stock Exchange', 'Canada', 'CA', '.TO', 'Real-time', '09:30 AM -05:00', '04:00 PM -05:00', 'America/Toronto'),
('ASX', 'Australian Securities Exchange', 'Australia', 'AU', '.AX', '20 min', '10:00 AM +11:00', '04:00 PM +11:00', 'Australia/Sydney'),
('HKSE', 'Hong Kong Stock Exchange', 'Hong Kong', 'HK', '.HK', '15 min', '09:30 AM +08:00', '04:00 PM +08:00', 'Asia/Hong_Kong'),
('JPX', 'Japan Exchange Group', 'Japan', 'JP', '.T', '20 min', '09:00 AM +09:00', '03:30 PM +09:00', 'Asia/Tokyo'),
('EURONEXT', 'Euronext Paris', 'France', 'FR', '.PA', '15 min', '09:00 AM +01:00', '05:30 PM +01:00', 'Europe/Paris');

INSERT INTO public.available_exchanges
SELECT e.exchange, e.name, e.country_name, e.country_code, e.symbol_suffix, e.delay,
       pg_temp.seed_at(e.exchange || ':available-exchanges', interval '90 days')
FROM pg_temp.seed_exchange AS e
ON CONFLICT DO NOTHING;

-- Open/closed as of load time, in the exchange's own time zone (weekdays only).
INSERT INTO public.exchange_market_status
SELECT e.exchange, e.name, e.opening_hour, e.closing_hour, e.timezone,
       extract(isodow FROM now() AT TIME ZONE e.timezone) < 6
           AND (now() AT TIME ZONE e.timezone)::time
               BETWEEN left(e.opening_hour, 8)::time AND left(e.closing_hour, 8)::time,
       pg_temp.seed_at(e.exchange || ':exchange-market-status', interval '15 minutes')
FROM pg_temp.seed_exchange AS e
ON CONFLICT DO NOTHING;

DROP TABLE pg_temp.seed_company, pg_temp.seed_exchange;
DROP FUNCTION pg_temp.seed_at(text, interval), pg_temp.seed_frac(text);
