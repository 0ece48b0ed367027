-- keytrail: the monthly review's aggregation over the KMS usage table (Athena engine).
--
-- The rows are the log processor's per-file summaries, flattened
-- (shared/src/detect/usage_rows.rs); this query merges a month of them the way the
-- summary engine merges the summaries themselves, so both build the same report.
--
-- Placeholders, filled in by shared/src/review/usage_table.rs:
--   {table}                 the Glue table (database.table)
--   {from}, {to}            the datehour partitions (yyyy/MM/dd/HH, Firehose's arrival
--                           time) that can hold the month's files: from the month's
--                           start to a week past its end, for late processing
--   {first_day}, {last_day} the month (YYYY-MM-DD), as the log keys date their files
--   {max_ips}               distinct source IPs kept per principal
--   {max_context_keys}      distinct encryption-context keys kept per key
--
-- Written in the SQL that Trino (Athena engine v3) and DuckDB both accept: the tests
-- run it with DuckDB and parse it as Trino with sqlglot.
WITH month_rows AS (
    SELECT *
    FROM {table}
    WHERE datehour BETWEEN '{from}' AND '{to}'
      AND file_date BETWEEN '{first_day}' AND '{last_day}'
),
-- Firehose and the processor's retries deliver at least once: count each log file
-- once, through its earliest delivery whose every part arrived.
deliveries AS (
    SELECT file, delivery, max(parts) AS parts, count(DISTINCT part) AS seen
    FROM month_rows
    GROUP BY file, delivery
),
chosen AS (
    SELECT file, min(delivery) AS delivery
    FROM deliveries
    WHERE seen = parts
    GROUP BY file
),
r AS (
    SELECT m.*
    FROM month_rows m
    JOIN chosen c ON m.file = c.file AND m.delivery = c.delivery
),
-- Capped sets keep their smallest values, as the summaries' do.
ips AS (
    SELECT principal, ip,
           row_number() OVER (PARTITION BY principal ORDER BY ip) AS rn,
           count(*) OVER (PARTITION BY principal) AS total
    FROM (SELECT DISTINCT principal, ip FROM r WHERE kind = 'ip' AND ip IS NOT NULL) d
),
contexts AS (
    SELECT key, context_key,
           row_number() OVER (PARTITION BY key ORDER BY context_key) AS rn,
           count(*) OVER (PARTITION BY key) AS total
    FROM (SELECT DISTINCT key, context_key FROM r WHERE kind = 'context' AND context_key IS NOT NULL) d
),
-- A cross-account call is logged for the caller and for the key owner: where both
-- copies are in the month, the owner's is taken out.
owners AS (
    SELECT DISTINCT event_id, keys, principal, operation, error_class, service_originated, day, rules
    FROM r
    WHERE kind = 'shared_owner'
),
callers AS (
    SELECT DISTINCT event_id FROM r WHERE kind = 'shared_caller'
)
SELECT CAST('files' AS VARCHAR) AS section,
       CAST(NULL AS VARCHAR) AS account, CAST(NULL AS VARCHAR) AS region,
       CAST(NULL AS VARCHAR) AS key, CAST(NULL AS VARCHAR) AS principal,
       CAST(NULL AS VARCHAR) AS operation, CAST(NULL AS VARCHAR) AS error_class,
       CAST(NULL AS BOOLEAN) AS service_originated, CAST(NULL AS VARCHAR) AS day,
       CAST(NULL AS VARCHAR) AS rule, CAST(NULL AS VARCHAR) AS label,
       CAST(NULL AS VARCHAR) AS value,
       CAST(count(*) AS BIGINT) AS n, CAST(NULL AS BIGINT) AS failures,
       CAST(min(first_event) AS BIGINT) AS first_seen, CAST(max(last_event) AS BIGINT) AS last_seen,
       CAST(NULL AS BOOLEAN) AS truncated,
       CAST(NULL AS VARCHAR) AS keys, CAST(NULL AS VARCHAR) AS rules,
       CAST(sum(records) AS BIGINT) AS records, CAST(sum(kms_records) AS BIGINT) AS kms_records,
       CAST(sum(bad_records) AS BIGINT) AS bad_records,
       CAST(sum(keys_beyond_cap) AS BIGINT) AS keys_beyond_cap,
       CAST(sum(untracked) AS BIGINT) AS untracked
FROM r WHERE kind = 'file'
UNION ALL
SELECT 'scope', account, region, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
       count(*), NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
FROM r WHERE kind = 'file' GROUP BY account, region
UNION ALL
SELECT 'delivered', NULL, NULL, NULL, NULL, NULL, NULL, NULL, substr(delivered, 1, 13), NULL, NULL, NULL,
       count(*), NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
FROM r WHERE kind = 'file' GROUP BY substr(delivered, 1, 13)
UNION ALL
SELECT 'usage', NULL, NULL, key, principal, operation, error_class, service_originated, NULL, NULL, NULL, NULL,
       sum(n), NULL, min(first_seen), max(last_seen), NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
FROM r WHERE kind = 'usage' GROUP BY key, principal, operation, error_class, service_originated
UNION ALL
SELECT 'ip', NULL, NULL, NULL, principal, NULL, NULL, NULL, NULL, NULL, NULL, ip,
       NULL, NULL, NULL, NULL, total > {max_ips}, NULL, NULL, NULL, NULL, NULL, NULL, NULL
FROM ips WHERE rn <= {max_ips}
UNION ALL
SELECT 'ip', NULL, NULL, NULL, principal, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
       NULL, NULL, NULL, NULL, true, NULL, NULL, NULL, NULL, NULL, NULL, NULL
FROM r WHERE kind = 'ip' AND truncated = true GROUP BY principal
UNION ALL
SELECT 'context', NULL, NULL, key, NULL, NULL, NULL, NULL, NULL, NULL, NULL, context_key,
       NULL, NULL, NULL, NULL, total > {max_context_keys}, NULL, NULL, NULL, NULL, NULL, NULL, NULL
FROM contexts WHERE rn <= {max_context_keys}
UNION ALL
SELECT 'context', NULL, NULL, key, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
       NULL, NULL, NULL, NULL, true, NULL, NULL, NULL, NULL, NULL, NULL, NULL
FROM r WHERE kind = 'context' AND truncated = true GROUP BY key
UNION ALL
SELECT 'day', NULL, NULL, NULL, NULL, NULL, NULL, NULL, day, NULL, NULL, NULL,
       sum(n), sum(failures), NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
FROM r WHERE kind = 'day' GROUP BY day
UNION ALL
SELECT 'day_key', NULL, NULL, key, NULL, NULL, NULL, NULL, day, NULL, NULL, NULL,
       sum(n), NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
FROM r WHERE kind = 'day_key' GROUP BY day, key
UNION ALL
SELECT 'day_rule', NULL, NULL, NULL, NULL, NULL, NULL, NULL, day, rule, NULL, NULL,
       sum(n), NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
FROM r WHERE kind = 'day_rule' GROUP BY day, rule
UNION ALL
SELECT 'active_hour', NULL, NULL, NULL, principal, NULL, NULL, NULL, NULL, NULL, NULL, CAST(hour AS VARCHAR),
       NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
FROM r WHERE kind = 'active_hour' GROUP BY principal, hour
UNION ALL
SELECT 'active_day', NULL, NULL, NULL, principal, NULL, NULL, NULL, NULL, NULL, NULL, CAST(day_number AS VARCHAR),
       NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
FROM r WHERE kind = 'active_day' GROUP BY principal, day_number
UNION ALL
SELECT 'active_calls', NULL, NULL, NULL, principal, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
       sum(n), NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
FROM r WHERE kind = 'active_calls' GROUP BY principal
UNION ALL
SELECT 'suppressed', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, rule, label, NULL,
       sum(n), NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
FROM r WHERE kind = 'suppressed' GROUP BY rule, label
UNION ALL
SELECT 'shared_duplicate', NULL, NULL, NULL, o.principal, o.operation, o.error_class, o.service_originated, o.day, NULL, NULL, NULL,
       count(*), NULL, NULL, NULL, NULL, o.keys, o.rules, NULL, NULL, NULL, NULL, NULL
FROM owners o JOIN callers c ON o.event_id = c.event_id
GROUP BY o.keys, o.principal, o.operation, o.error_class, o.service_originated, o.day, o.rules
