-- The legacy app's pg_cron jobs: one per data type, each refreshing its whole table.
-- Schedules follow how fast the data goes stale (quotes every minute, market status
-- every five minutes, fundamentals daily, statements and segments weekly).
--
-- Needs pg_cron >= 1.4 (CREATE EXTENSION pg_cron comes first) and schema.sql loaded.
-- Safe to run again: cron.schedule() with an existing job name updates that job in
-- place instead of adding a second one. Cron syntax only, no interval schedules, so
-- the file also works on pg_cron versions without "N seconds" support.

SELECT cron.schedule('refresh-stock-quotes',           '* * * * *',   $$SELECT legacy.refresh_data_type('quote')$$);
SELECT cron.schedule('refresh-company-profiles',       '0 3 * * *',   $$SELECT legacy.refresh_data_type('profile')$$);
SELECT cron.schedule('refresh-financial-statements',   '0 4 * * 0',   $$SELECT legacy.refresh_data_type('financial-statements')$$);
SELECT cron.schedule('refresh-ratios-ttm',             '30 4 * * *',  $$SELECT legacy.refresh_data_type('ratios-ttm')$$);
SELECT cron.schedule('refresh-dividend-history',       '0 5 * * *',   $$SELECT legacy.refresh_data_type('dividend-history')$$);
SELECT cron.schedule('refresh-shares-float',           '15 5 * * *',  $$SELECT legacy.refresh_data_type('shares-float')$$);
SELECT cron.schedule('refresh-revenue-segmentation',   '0 6 * * 1',   $$SELECT legacy.refresh_data_type('revenue-segmentation')$$);
SELECT cron.schedule('refresh-grades-historical',      '30 6 * * *',  $$SELECT legacy.refresh_data_type('grades-historical')$$);
SELECT cron.schedule('refresh-exchange-variants',      '0 7 * * 1',   $$SELECT legacy.refresh_data_type('exchange-variants')$$);
SELECT cron.schedule('refresh-available-exchanges',    '0 8 1 * *',   $$SELECT legacy.refresh_data_type('available-exchanges')$$);
SELECT cron.schedule('refresh-exchange-market-status', '*/5 * * * *', $$SELECT legacy.refresh_data_type('exchange-market-status')$$);
