-- Revision 3: quota_window_bytes has a fixed search_path (plpgsql, whose prepared statement keeps
-- the claim as cheap as the inlined SQL function was). Replaced in place: same signature, same
-- result, its grants kept.
{% include 'phase2/api_data_usage/r3/phase2/api_data_usage/functions.sql' %}
