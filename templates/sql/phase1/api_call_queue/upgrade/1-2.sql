-- Revision 2: the claim's lease. A new nullable column (no table rewrite) and its sequence.
-- Jobs that are in processing while this runs have no lease: their worker, running the
-- processor of revision 1, cannot acknowledge them any more (the functions it calls change in
-- phase 2's upgrade), and recover_stuck_jobs puts them back after the stuck timeout.
ALTER TABLE public.api_call_queue{{ suffix }} ADD COLUMN lease bigint;
CREATE SEQUENCE public.api_call_queue{{ suffix }}_lease_seq AS bigint
    OWNED BY public.api_call_queue{{ suffix }}.lease;
REVOKE ALL ON SEQUENCE public.api_call_queue{{ suffix }}_lease_seq FROM PUBLIC, anon, authenticated, service_role;
