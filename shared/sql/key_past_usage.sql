WITH deliveries AS (
    SELECT file, delivery, max(parts) AS parts, count(DISTINCT part) AS seen
    FROM {table}
    WHERE datehour BETWEEN '{from}' AND '{to}'
    GROUP BY file, delivery
),
chosen AS (
    SELECT file, min(delivery) AS delivery
    FROM deliveries
    WHERE seen = parts
    GROUP BY file
)
SELECT u.account,
       u.region,
       u.principal,
       u.operation,
       u.error_class,
       sum(u.n) AS calls,
       count(DISTINCT u.file) AS log_files,
       min(u.first_seen) AS first_seen_epoch,
       max(u.last_seen) AS last_seen_epoch
FROM {table} u
JOIN chosen c ON u.file = c.file AND u.delivery = c.delivery
WHERE u.datehour BETWEEN '{from}' AND '{to}'
  AND u.kind = 'usage'
  AND u.key = '{key}'
GROUP BY u.account, u.region, u.principal, u.operation, u.error_class
ORDER BY calls DESC, u.account, u.region, u.principal, u.operation, u.error_class;
