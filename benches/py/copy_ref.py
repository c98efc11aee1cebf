"""The DuckDB reference of benches/run.sh P3: DuckDB's own `COPY (query) TO` with the
settings da's final step uses (threads, memory_limit) and da's output settings where DuckDB
has them (Parquet: ZSTD level 3, format version 2, row groups of 122,880 rows; CSV: header).
Usage: copy_ref.py SQL_FILE OUT parquet|csv THREADS MEMORY_LIMIT
"""
import sys

import duckdb

sql_file, out, fmt, threads, memory = sys.argv[1:6]
sql = open(sql_file).read()
con = duckdb.connect()
con.execute(f"SET threads = {int(threads)}")
con.execute(f"SET memory_limit = '{memory}'")
options = {
    "parquet": "FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 3, PARQUET_VERSION V2, ROW_GROUP_SIZE 122880",
    "csv": "FORMAT csv, HEADER true",
}[fmt]
# COPY answers with the number of rows it wrote.
written = con.execute(f"COPY ({sql}) TO '{out}' ({options})").fetchone()[0]
print(f"rows {written}")
