"""The Python reference stack of benches/run.sh P1: google-cloud-bigquery → Arrow → DuckDB →
Parquet, against the loopback test server, as a user of those libraries would write it.
Usage: bq_ref.py rest|storage REST_HOST GRPC_HOST SQL OUT.parquet
  rest:    query_and_wait(SQL).to_arrow(create_bqstorage_client=False)  (REST pages of JSON)
  storage: query_and_wait(SQL).to_arrow(bqstorage_client=BigQueryReadClient(...))  (Arrow
           over gRPC, on an insecure channel to the test server's Read API port)
then duckdb: register the table, COPY it to Parquet (ZSTD, as da writes). Prints the rows.
"""
import sys

import duckdb
import grpc
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery

mode, host, grpc_host, sql, out = sys.argv[1:6]
client = bigquery.Client(project="bench", credentials=AnonymousCredentials(),
                         client_options={"api_endpoint": f"http://{host}"})
if mode == "rest":
    table = client.query_and_wait(sql).to_arrow(create_bqstorage_client=False)
else:
    from google.cloud.bigquery_storage_v1 import BigQueryReadClient
    from google.cloud.bigquery_storage_v1.services.big_query_read.transports import (
        BigQueryReadGrpcTransport,
    )
    # The message size options are the ones the library sets on the channels it makes.
    channel = grpc.insecure_channel(grpc_host, options=[
        ("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)])
    read = BigQueryReadClient(transport=BigQueryReadGrpcTransport(channel=channel))
    table = client.query_and_wait(sql).to_arrow(bqstorage_client=read)
con = duckdb.connect()
con.register("wide", table)
con.execute(f"COPY (SELECT * FROM wide) TO '{out}' (FORMAT parquet, COMPRESSION zstd)")
print(f"rows {table.num_rows}")
