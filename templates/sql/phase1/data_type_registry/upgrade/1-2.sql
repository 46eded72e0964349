-- Revision 2: configuration and runtime state apart. Revision 1 corrected estimated_bytes in
-- place; from now on the correction lives in learned_bytes and estimated_bytes stays what
-- phases.yaml says. A type whose estimate traffic had moved keeps what it learned (in
-- learned_bytes) and gets its configured estimate back, so that verify compares like with like.
ALTER TABLE public.data_type_registry{{ suffix }}
    ADD COLUMN learned_bytes bigint
        CONSTRAINT data_type_registry{{ suffix }}_learned_bytes_nonnegative CHECK (learned_bytes >= 0),
    ADD COLUMN learned_at timestamptz;

UPDATE public.data_type_registry{{ suffix }} AS r
SET learned_bytes = r.estimated_bytes, learned_at = r.updated_at, estimated_bytes = d.estimated_bytes
FROM jsonb_to_recordset(coalesce(toolkit.param('data_types'), '[]'::jsonb)) AS d(name text, estimated_bytes bigint)
WHERE r.data_type = d.name AND r.estimated_bytes IS DISTINCT FROM d.estimated_bytes;
