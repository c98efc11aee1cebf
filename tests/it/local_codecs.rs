//! The local backend reads the Parquet people have: every common codec, as DuckDB writes it.

use da::source::local::LocalWarehouse;

#[test]
fn parquet_of_every_common_codec_reads_through_the_local_backend() {
    // Guards the parquet crate's codec features: without them a Snappy file (DuckDB's and
    // Spark's default) failed with "Disabled feature at compile time: snap".
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("shop");
    std::fs::create_dir_all(&data).unwrap();
    let writer = duckdb::Connection::open_in_memory().unwrap();
    let codecs = ["snappy", "gzip", "lz4", "zstd", "brotli", "uncompressed"];
    for codec in codecs {
        writer
            .execute_batch(&format!(
                "COPY (SELECT range AS id, 'item ' || range AS name FROM range(1000))
                 TO '{}/orders_{codec}.parquet' (FORMAT parquet, COMPRESSION {codec})",
                data.display()
            ))
            .unwrap();
    }
    let warehouse = LocalWarehouse::new(dir.path());
    for codec in codecs {
        let result = warehouse
            .run_sql(
                "orders",
                &format!(
                    "SELECT SUM(id) AS total, MAX(name) AS last FROM `acme.shop.orders_{codec}`"
                ),
                &[],
            )
            .unwrap_or_else(|e| panic!("{codec}: {e}"));
        let batch = &result.batches[0];
        let value = |i: usize| arrow::util::display::array_value_to_string(batch.column(i), 0);
        assert_eq!(value(0).unwrap(), "499500", "{codec}");
        assert_eq!(value(1).unwrap(), "item 999", "{codec}");
    }
}
