-- The Edge Functions' deployment records (toolkit.edge_deployments).

-- name: records
SELECT slug, phase, step, version, content_hash, verify_jwt, deployed_by, deployed_at, verified_at, verify_ok,
       verify_message
FROM toolkit.edge_deployments
WHERE place = %(place)s
ORDER BY phase, step, slug;

-- name: record
INSERT INTO toolkit.edge_deployments AS d (place, slug, phase, step, version, content_hash, verify_jwt, deployed_by,
                                           toolkit_version)
VALUES (%(place)s, %(slug)s, %(phase)s, %(step)s, %(version)s, %(content_hash)s, %(verify_jwt)s, %(actor)s,
        %(toolkit_version)s)
ON CONFLICT (place, slug) DO UPDATE
SET phase = excluded.phase, step = excluded.step, version = excluded.version, content_hash = excluded.content_hash,
    verify_jwt = excluded.verify_jwt, deployed_by = excluded.deployed_by, deployed_at = now(),
    toolkit_version = excluded.toolkit_version, verified_at = NULL, verify_ok = NULL, verify_message = NULL;

-- name: mark_verified
UPDATE toolkit.edge_deployments
SET verified_at = now(), verify_ok = %(ok)s, verify_message = %(message)s
WHERE place = %(place)s AND slug = %(slug)s;

-- name: forget
DELETE FROM toolkit.edge_deployments WHERE place = %(place)s AND slug = %(slug)s;
