#!/usr/bin/env python3
"""Run keytrail's usage-table SQL the way Athena would, with DuckDB, for the tests
and the benchmarks (moto's Athena does not execute SQL).

    usage-sql.py ROWS_DIR [--table DB.TABLE] [--moto URL --account ID --region R] < query.sql > result.json

ROWS_DIR holds what Firehose delivered under keytrail/usage/: JSON rows (one per
line) in objects under yyyy/MM/dd/HH/ folders (the table's `datehour` partition,
taken from each object's path as Athena's partition projection does). The query
names the table `--table` (default `kms_usage`; `database.table` too).

With --moto, the result is also queued in that moto server's Athena (its
/moto-api/static/athena/query-results), so that the next query started there in
that account and Region returns it: what the tests' Lambda reads.

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


def inject(url, account, region, names, rows):
    """Queues the result in moto's Athena, header row first (as Athena sends it)."""
    import urllib.request

    def datum(v):
        return {} if v is None else {"VarCharValue": v}

    body = {
        "account_id": account,
        "region": region,
        "results": [
            {
                "rows": [{"Data": [datum(n) for n in names]}]
                + [{"Data": [datum(v) for v in r]} for r in rows],
                "column_info": [
                    {"CatalogName": "hive", "SchemaName": "", "TableName": "", "Name": n,
                     "Label": n, "Type": "varchar", "Precision": 0, "Scale": 0,
                     "Nullable": "UNKNOWN", "CaseSensitive": True}
                    for n in names
                ],
            }
        ],
    }
    req = urllib.request.Request(
        url.rstrip("/") + "/moto-api/static/athena/query-results",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req) as r:
        if r.status // 100 != 2:
            sys.exit(f"usage-sql: moto refused the result: HTTP {r.status}")


def main():
    import argparse

    ap = argparse.ArgumentParser(description="Run usage-table SQL with DuckDB.")
    ap.add_argument("rows_dir")
    ap.add_argument("--table", default="kms_usage")
    ap.add_argument("--moto")
    ap.add_argument("--account", default="123456789012")
    ap.add_argument("--region", default="us-east-1")
    args = ap.parse_args()
    rows_dir = args.rows_dir
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
    table = args.table
    if "." in table:
        con.execute(f"CREATE SCHEMA {table.split('.')[0]}")
    if files:
        columns = ", ".join(f"'{k}': '{v}'" for k, v in COLUMNS.items())
        listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
        con.execute(
            f"""CREATE VIEW {table} AS
                SELECT * EXCLUDE (filename),
                       regexp_extract(filename, '(\\d{{4}}/\\d{{2}}/\\d{{2}}/\\d{{2}})/[^/]*$', 1) AS datehour
                FROM read_json([{listed}], format = 'newline_delimited',
                               columns = {{{columns}}}, filename = true)"""
        )
    else:
        typed = ", ".join(f"CAST(NULL AS {v}) AS {k}" for k, v in COLUMNS.items())
        con.execute(
            f"CREATE VIEW {table} AS SELECT {typed}, CAST(NULL AS VARCHAR) AS datehour WHERE false"
        )
    cur = con.execute(sql)
    names = [d[0] for d in cur.description]
    rows = [[cell(v) for v in r] for r in cur.fetchall()]
    size = sum(os.path.getsize(f) for f in files)
    if args.moto:
        inject(args.moto, args.account, args.region, names, rows)
    json.dump({"columns": names, "rows": rows, "bytes": size}, sys.stdout)


if __name__ == "__main__":
    main()
