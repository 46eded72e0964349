-- The work queue. Partitioned by status so the hot partitions (pending, processing) stay
-- small and their indexes stay in memory however much history completed/failed hold, and
-- retention can drop or detach old history cheaply. A status change moves the row between
-- partitions. The hot moves (claim, completion) are a DELETE from one partition and an INSERT
-- into the other; the rare ones an UPDATE of status.
--
-- No primary key on the parent: it would have to include the partition key, (id, status), and
-- so give completed history an index that every completion pays for and nothing reads
-- (history is read by finished_at). Each partition gets the indexes its readers use instead;
-- the id is unique where jobs are looked up by it (pending, processing, failed). Should the
-- queue ever be added to a publication (Realtime, replication), give its partitions REPLICA
-- IDENTITY FULL first: without a key PostgreSQL refuses to publish their deletes.
--
-- Two consequences for the functions that use this table (PostgreSQL 15):
-- * a new job is inserted through the parent: partitions do not inherit the identity, so a
--   row inserted into a partition directly has no id unless the move carries it over;
-- * the one-live-job rule lives in the pending partition's unique index (and the dedup
--   function, across partitions), which an ON CONFLICT (symbol, data_type) on the parent
--   cannot name; enqueue with INSERT INTO parent ... ON CONFLICT DO NOTHING (no conflict
--   target), which it does serve.

CREATE TABLE public.api_call_queue{{ suffix }} (
    id              bigint      GENERATED ALWAYS AS IDENTITY,
    symbol          text        NOT NULL,
    data_type       text        NOT NULL,
    priority        integer     NOT NULL DEFAULT 0,
    -- No CHECK on the value: the four partitions are the only places a row can be, so any
    -- other status is refused already (no partition for it), and a CHECK would only be
    -- compiled again in every statement that writes a row (each claim and completion).
    status          text        NOT NULL DEFAULT 'pending',
    attempts        integer     NOT NULL DEFAULT 0
                                CONSTRAINT api_call_queue{{ suffix }}_attempts_nonnegative
                                CHECK (attempts >= 0),
    max_attempts    integer     NOT NULL DEFAULT 5
                                CONSTRAINT api_call_queue{{ suffix }}_max_attempts_positive
                                CHECK (max_attempts > 0),
    scheduled_for   timestamptz NOT NULL DEFAULT now(),
    created_at      timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,
    finished_at     timestamptz,
    worker_id       text,
    estimated_bytes bigint,
    actual_bytes    bigint,
    last_error      text
) PARTITION BY LIST (status);

-- fillfactor 70: every job is updated in place several times (attempts, started_at,
-- worker_id) before it moves on; free space on the page keeps those updates HOT.
CREATE TABLE public.api_call_queue{{ suffix }}_pending
    PARTITION OF public.api_call_queue{{ suffix }} FOR VALUES IN ('pending')
    WITH (fillfactor = 70);
CREATE TABLE public.api_call_queue{{ suffix }}_processing
    PARTITION OF public.api_call_queue{{ suffix }} FOR VALUES IN ('processing')
    WITH (fillfactor = 70);
CREATE TABLE public.api_call_queue{{ suffix }}_completed
    PARTITION OF public.api_call_queue{{ suffix }} FOR VALUES IN ('completed')
    WITH (fillfactor = 70);
CREATE TABLE public.api_call_queue{{ suffix }}_failed
    PARTITION OF public.api_call_queue{{ suffix }} FOR VALUES IN ('failed')
    WITH (fillfactor = 70);

-- The claim query: ORDER BY priority DESC, scheduled_for, id ... FOR UPDATE SKIP LOCKED.
CREATE INDEX api_call_queue{{ suffix }}_pending_claim_idx
    ON public.api_call_queue{{ suffix }}_pending (priority DESC, scheduled_for, id);
-- One live job per symbol and data type: enqueueing is idempotent per partition.
CREATE UNIQUE INDEX api_call_queue{{ suffix }}_pending_live_key
    ON public.api_call_queue{{ suffix }}_pending (symbol, data_type);
CREATE UNIQUE INDEX api_call_queue{{ suffix }}_pending_id_key
    ON public.api_call_queue{{ suffix }}_pending (id);
-- Processing keeps only its id: every claimed job is inserted there and every finished one
-- deleted, so each further index is paid twice per job, while the partition holds only the
-- jobs in flight, small enough to scan (stuck-job recovery, the dedup's look at running
-- jobs). The dedup function keeps one live job per pair across both partitions.
CREATE UNIQUE INDEX api_call_queue{{ suffix }}_processing_id_key
    ON public.api_call_queue{{ suffix }}_processing (id);
-- History is read and retired by age; completed is not looked up by id (a key on it would
-- cost every completion an index entry), failed is (retry).
CREATE INDEX api_call_queue{{ suffix }}_completed_finished_idx
    ON public.api_call_queue{{ suffix }}_completed (finished_at);
CREATE INDEX api_call_queue{{ suffix }}_failed_finished_idx
    ON public.api_call_queue{{ suffix }}_failed (finished_at);
CREATE UNIQUE INDEX api_call_queue{{ suffix }}_failed_id_key
    ON public.api_call_queue{{ suffix }}_failed (id);

-- RLS and privileges are per relation: a partition queried directly uses its own, and
-- Supabase's default privileges granted each partition ALL to the API roles.
-- No policies and no client privileges: only the service role and SECURITY DEFINER
-- functions touch the queue.
ALTER TABLE public.api_call_queue{{ suffix }} ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.api_call_queue{{ suffix }}_pending ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.api_call_queue{{ suffix }}_processing ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.api_call_queue{{ suffix }}_completed ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.api_call_queue{{ suffix }}_failed ENABLE ROW LEVEL SECURITY;

REVOKE ALL ON TABLE public.api_call_queue{{ suffix }},
                    public.api_call_queue{{ suffix }}_pending,
                    public.api_call_queue{{ suffix }}_processing,
                    public.api_call_queue{{ suffix }}_completed,
                    public.api_call_queue{{ suffix }}_failed
    FROM PUBLIC, anon, authenticated, service_role;
GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE public.api_call_queue{{ suffix }},
                                            public.api_call_queue{{ suffix }}_pending,
                                            public.api_call_queue{{ suffix }}_processing,
                                            public.api_call_queue{{ suffix }}_completed,
                                            public.api_call_queue{{ suffix }}_failed
    TO service_role;
REVOKE ALL ON SEQUENCE public.api_call_queue{{ suffix }}_id_seq FROM PUBLIC, anon, authenticated;
