#!/usr/bin/env python3
"""Run keytrail's usage-table SQL the way Athena would, with DuckDB, for the tests
and the benchmarks (moto's Athena does not execute SQL).

    usage-sql.py ROWS_DIR < query.sql > result.json

ROWS_DIR holds what Firehose delivered under keytrail/usage/: JSON rows (one per
line) in objects under yyyy/MM/dd/HH/ folders (the table's `datehour` partition,
taken from each object's path as Athena's partition projection does). The query
names the table `kms_usage`.

The query text is first parsed as Trino (Athena engine v3) with sqlglot: a query
DuckDB accepts but Trino would not fails here. The result is printed as JSON,
{"columns": [...], "rows": [[...]], "bytes": N}, every value a string or null as
Athena's GetQueryResults gives them (booleans `true`/`false`); `bytes` is the size
of the rows read (Athena bills for the Parquet bytes it scans, which are fewer).
"""

import json
import os
import sys

import duckdb
import sqlglot

# The Glue table's columns (template.yaml, UsageTable), in order.
COLUMNS = {
    "file": "VARCHAR",
    "delivery": "VARCHAR",
    "part": "INTEGER",
    "parts": "INTEGER",
    "account": "VARCHAR",
    "region": "VARCHAR",
    "file_date": "VARCHAR",
    "delivered": "VARCHAR",
    "kind": "VARCHAR",
    "key": "VARCHAR",
    "principal": "VARCHAR",
    "operation": "VARCHAR",
    "error_class": "VARCHAR",
    "service_originated": "BOOLEAN",
    "n": "BIGINT",
    "first_seen": "BIGINT",
    "last_seen": "BIGINT",
    "day": "VARCHAR",
    "rule": "VARCHAR",
    "label": "VARCHAR",
    "ip": "VARCHAR",
    "context_key": "VARCHAR",
    "truncated": "BOOLEAN",
    "hour": "INTEGER",
    "day_number": "INTEGER",
    "failures": "BIGINT",
    "event_id": "VARCHAR",
    "keys": "VARCHAR",
    "rules": "VARCHAR",
    "records": "BIGINT",
    "kms_records": "BIGINT",
    "bad_records": "BIGINT",
    "keys_beyond_cap": "BIGINT",
    "untracked": "BIGINT",
    "first_event": "BIGINT",
    "last_event": "BIGINT",
}


def cell(v):
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    rows_dir = sys.argv[1]
    sql = sys.stdin.read()
    try:
        sqlglot.parse_one(sql, read="trino")
    except sqlglot.errors.ParseError as e:
        sys.exit(f"usage-sql: the query is not valid Trino SQL: {e}")
    files = sorted(
        os.path.join(d, f)
        for d, _, names in os.walk(rows_dir)
        for f in names
        if not f.startswith(".")
    )
    con = duckdb.connect()
    if files:
        columns = ", ".join(f"'{k}': '{v}'" for k, v in COLUMNS.items())
        listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
        con.execute(
            f"""CREATE VIEW kms_usage AS
                SELECT * EXCLUDE (filename),
                       regexp_extract(filename, '(\\d{{4}}/\\d{{2}}/\\d{{2}}/\\d{{2}})/[^/]*$', 1) AS datehour
                FROM read_json([{listed}], format = 'newline_delimited',
                               columns = {{{columns}}}, filename = true)"""
        )
    else:
        typed = ", ".join(f"CAST(NULL AS {v}) AS {k}" for k, v in COLUMNS.items())
        con.execute(
            f"CREATE VIEW kms_usage AS SELECT {typed}, CAST(NULL AS VARCHAR) AS datehour WHERE false"
        )
    cur = con.execute(sql)
    names = [d[0] for d in cur.description]
    rows = [[cell(v) for v in r] for r in cur.fetchall()]
    size = sum(os.path.getsize(f) for f in files)
    json.dump({"columns": names, "rows": rows, "bytes": size}, sys.stdout)


if __name__ == "__main__":
    main()
