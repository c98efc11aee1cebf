//! The function lists as data: DuckDB functions refused outright (and why), the DuckDB
//! allowlist, and the BigQuery denylist. The rules that apply them are in `rules`.

/// Why a DuckDB function is refused outright, rather than merely not allowlisted.
#[derive(Clone, Copy)]
pub(super) struct Danger {
    pub(super) what: &'static str,
    pub(super) hint: &'static str,
}

const READS_FILES: Danger = Danger {
    what: "reads files or URLs",
    hint: "Read only the plan's aliases and extracts, by name.",
};
const RUNS_SQL: Danger = Danger {
    what: "runs SQL built from strings, which the validator cannot see",
    hint: "Write the query directly.",
};
const METADATA: Danger = Danger {
    what: "exposes database metadata, settings, variables or secrets",
    hint: "Query the plan's aliases and extracts only.",
};
const SIDE_EFFECTS: Danger = Danger {
    what: "has side effects (writes files or logs, changes configuration or sequences)",
    hint: "Plans may only read; remove the call.",
};
const SLEEPS: Danger = Danger {
    what: "blocks for a long time, beyond the query timeout",
    hint: "Remove the call.",
};
const REMOTE: Danger = Danger {
    what: "queries an external database",
    hint: "Declare the data as a BigQuery alias or an extract instead.",
};

pub(super) fn duckdb_danger(lower: &str) -> Option<Danger> {
    let exact = match lower {
        "glob" | "sniff_csv" | "csv_scan" | "json_scan" | "arrow_scan" | "seq_scan"
        | "pandas_scan" | "list_files" | "write_csv" | "write_parquet" | "copy_database"
        | "import_database" | "export_database" => Some(READS_FILES),
        "getenv" | "current_setting" | "getvariable" | "which_secret" | "in_search_path" => {
            Some(METADATA)
        }
        "query"
        | "query_table"
        | "json_serialize_sql"
        | "json_deserialize_sql"
        | "json_serialize_plan"
        | "from_substrait"
        | "from_substrait_json"
        | "get_substrait"
        | "get_substrait_json" => Some(RUNS_SQL),
        "sleep_ms" | "pg_sleep" => Some(SLEEPS),
        "write_log"
        | "checkpoint"
        | "force_checkpoint"
        | "truncate_duckdb_logs"
        | "nextval"
        | "setval"
        | "currval"
        | "setseed"
        | "start_ui"
        | "start_ui_server"
        | "stop_ui_server"
        | "load_aws_credentials"
        | "add_parquet_key"
        | "register_external_resource"
        | "create_external_resource"
        | "destroy_external_resource"
        | "deregister_external_resource"
        | "add_grammar_extension"
        | "remove_grammar_extension" => Some(SIDE_EFFECTS),
        _ => None,
    };
    if exact.is_some() {
        return exact;
    }
    const PREFIXES: &[(&str, Danger)] = &[
        ("read_", READS_FILES),
        ("parquet_", READS_FILES),
        ("st_read", READS_FILES),
        ("iceberg_", READS_FILES),
        ("delta_", READS_FILES),
        ("http_", READS_FILES),
        ("json_execute", RUNS_SQL),
        ("duckdb_", METADATA),
        ("pragma_", METADATA),
        ("pg_", METADATA),
        ("enable_", SIDE_EFFECTS),
        ("disable_", SIDE_EFFECTS),
        ("bigquery_", REMOTE),
        ("postgres_", REMOTE),
        ("mysql_", REMOTE),
        ("sqlite_", REMOTE),
    ];
    PREFIXES
        .iter()
        .find(|(prefix, _)| lower.starts_with(prefix))
        .map(|(_, danger)| *danger)
}

pub(super) fn duckdb_function_allowed(lower: &str) -> bool {
    DUCKDB_FUNCTIONS
        .iter()
        .any(|group| group.split_ascii_whitespace().any(|name| name == lower))
}

/// DuckDB functions an analyst may call, lower-cased, grouped by kind. Built from
/// `duckdb_functions()` of DuckDB 2.0 (core, json and icu), minus everything that touches
/// files, settings, catalogs, sequences or the session, plus names the parser treats
/// specially (`coalesce`, `columns`, `grouping`, `current_timestamp`, …). Unknown functions
/// are refused, so a harmless missing one only costs an addition here.
const DUCKDB_FUNCTIONS: &[&str] = &[
    // aggregate and window
    "any_value approx_count_distinct approx_quantile approx_top_k arbitrary arg_max \
     arg_max_null arg_max_nulls_last arg_min arg_min_null arg_min_nulls_last argmax argmin \
     array_agg avg bit_and bit_or bit_xor bitstring_agg bool_and bool_or corr count count_if \
     countif covar_pop covar_samp cume_dist dense_rank entropy favg fill first first_value fsum \
     geomean geometric_mean group_concat grouping grouping_id histogram histogram_exact \
     kahan_sum kurtosis kurtosis_pop lag last last_value lead list listagg lttb mad max max_by \
     mean median min min_by mode nth_value ntile percent_rank percentile_cont percentile_disc \
     product quantile quantile_cont quantile_disc rank rank_dense regr_avgx regr_avgy \
     regr_count regr_intercept regr_r2 regr_slope regr_sxx regr_sxy regr_syy \
     reservoir_quantile row_number sem skewness stddev stddev_pop stddev_samp string_agg sum \
     sumkahan var_pop var_samp variance variant_group_object wavg weighted_avg",
    // list and array
    "aggregate apply array array_aggr array_aggregate array_append array_apply array_cat \
     array_concat array_contains array_cosine_distance array_cosine_similarity \
     array_cross_product array_distance array_distinct array_dot_product array_extract \
     array_filter array_grade_up array_has array_has_all array_has_any array_indexof \
     array_inner_product array_intersect array_length array_negative_dot_product \
     array_negative_inner_product array_pop_back array_pop_front array_position array_prepend \
     array_push_back array_push_front array_reduce array_resize array_reverse \
     array_reverse_sort array_select array_slice array_sort array_to_json array_to_string \
     array_to_string_comma_default array_transform array_unique array_value array_where \
     array_zip cardinality element_at filter flatten generate_series generate_subscripts \
     grade_up len list_aggr list_aggregate list_any_value list_append list_apply \
     list_approx_count_distinct list_avg list_bit_and list_bit_or list_bit_xor list_bool_and \
     list_bool_or list_cat list_concat list_contains list_cosine_distance \
     list_cosine_similarity list_count list_distance list_distinct list_dot_product \
     list_element list_entropy list_extract list_filter list_first list_grade_up list_has \
     list_has_all list_has_any list_histogram list_indexof list_inner_product list_intersect \
     list_kurtosis list_kurtosis_pop list_last list_mad list_max list_median list_min \
     list_mode list_negative_dot_product list_negative_inner_product list_pack list_position \
     list_prepend list_product list_reduce list_resize list_reverse list_reverse_sort \
     list_select list_sem list_skewness list_slice list_sort list_stddev_pop list_stddev_samp \
     list_string_agg list_sum list_transform list_unique list_value list_var_pop \
     list_var_samp list_where list_zip range reduce unnest",
    // struct, map, union and variant
    "map map_concat map_contains map_contains_entry map_contains_value map_entries \
     map_extract map_extract_value map_from_entries map_keys map_values remap_struct row \
     struct struct_concat struct_contains struct_extract struct_extract_at struct_has \
     struct_indexof struct_insert struct_keys struct_pack struct_position struct_update \
     struct_values union_extract union_tag union_value variant_array_length \
     variant_comparator variant_contains variant_exists variant_extract \
     variant_extract_string variant_group_array variant_keys variant_normalize variant_type \
     variant_typeof",
    // json
    "from_json from_json_strict json json_array json_array_length json_contains \
     json_deep_merge json_exists json_extract json_extract_path json_extract_path_text \
     json_extract_string json_group_array json_group_object json_group_structure json_insert \
     json_keys json_merge_patch json_merge_patch_diff json_normalize json_object json_pretty \
     json_quote json_remove json_replace json_set json_strip_nulls json_structure \
     json_transform json_transform_strict json_type json_valid json_value row_to_json to_json",
    // date and time
    "age ago century current_date current_localtime current_localtimestamp current_time \
     current_timestamp date_add date_diff date_part date_sub date_trunc datediff datepart \
     datesub datetrunc day dayname dayofmonth dayofweek dayofyear days_in_month decade epoch \
     epoch_ms epoch_ns epoch_us era get_current_time get_current_timestamp hour isodow \
     isoyear julian last_day localtime localtimestamp make_date make_time make_timestamp \
     make_timestamp_ms make_timestamp_ns make_timestamptz microsecond millennium millisecond \
     minute month monthname nanosecond normalized_interval now quarter second strftime \
     strptime time_bucket timezone timezone_hour timezone_minute to_centuries to_days \
     to_decades to_hours to_microseconds to_millennia to_milliseconds to_minutes to_months \
     to_quarters to_seconds to_timestamp to_weeks to_years today transaction_timestamp \
     try_strptime week weekday weekofyear year yearweek",
    // string and regular expressions
    "ascii bar char_length character_length chr concat concat_ws contains \
     damerau_levenshtein editdist3 ends_with format format_bytes formatreadabledecimalsize \
     formatreadablesize hamming ilike_escape instr jaccard jaro_similarity \
     jaro_winkler_similarity lcase left left_grapheme length length_grapheme levenshtein \
     like_escape lower lpad ltrim mismatches nfc_normalize not_ilike_escape not_like_escape \
     octet_length ord overlay parse_dirname parse_dirpath parse_filename parse_formatted_bytes \
     parse_path path_join position prefix printf regexp_escape regexp_extract \
     regexp_extract_all regexp_full_match regexp_matches regexp_replace regexp_split_to_array \
     regexp_split_to_table repeat replace reverse right right_grapheme rpad rtrim split \
     split_part starts_with str_split str_split_regex string_split string_split_regex \
     string_to_array strip_accents strlen strpos substr substring substring_grapheme suffix \
     translate trim ucase unicode upper url_decode url_encode",
    // math and bits
    "abs acos acosh add asin asinh atan atan2 atanh bit_count bit_length bit_position \
     bitstring cbrt ceil ceiling cos cosh cot degrees divide even exp factorial fdiv floor fmod \
     gamma gcd get_bit greatest greatest_common_divisor isfinite isinf isnan lcm least \
     least_common_multiple lgamma ln log log10 log2 mod multiply nextafter pi pow power radians \
     random round round_even roundbankers set_bit sign signbit sin sinh sqrt subtract tan tanh \
     trunc xor",
    // conditionals, conversion, hashing, enums and ids
    "base64 bin binom coalesce columns decode encode enum_code enum_first enum_last enum_range \
     enum_range_boundary equi_width_bins from_base64 from_binary from_hex gen_random_uuid hash \
     hex if ifnull is_histogram_other_bin md5 md5_number md5_number_lower md5_number_upper \
     nullif sha1 sha256 switch to_base to_base64 to_binary to_hex typeof unbin unhex uuid \
     uuid_extract_timestamp uuid_extract_version uuidv4 uuidv7",
];

/// BigQuery functions refused by name. BigQuery has too many built-ins (and adds them too
/// often) for an allowlist to stay usable, and its dangerous reads live in a few places:
/// federated queries, identity, ML/AI, keys, and UDFs or remote functions — the last three
/// are qualified names, which the multi-part rule refuses. IAM and dry runs back this up.
pub(super) fn bigquery_danger(lower: &str) -> Option<&'static str> {
    match lower {
        "external_query" => Some("runs SQL in an external database through a stored connection"),
        "session_user" => Some("discloses the identity the query runs as"),
        "vector_search"
        | "external_object_transform"
        | "appends"
        | "changes"
        | "gap_fill"
        | "range_sessionize" => Some("is a table-valued function over objects outside the query"),
        "deterministic_encrypt"
        | "deterministic_decrypt_bytes"
        | "deterministic_decrypt_string" => Some("uses encryption keysets"),
        _ => None,
    }
}

/// Why functions in a BigQuery namespace (`ML.x`, `AEAD.x`, …) are refused, if it is one of
/// the known dangerous ones; other namespaces are refused as user-defined functions.
pub(super) fn bigquery_namespace_danger(lower: &str) -> Option<&'static str> {
    match lower {
        "ml" | "ai" => {
            Some("calls machine-learning or generative models (cost, data leaves the warehouse)")
        }
        "aead" | "keys" => Some("uses encryption keysets"),
        "obj" | "vector" => Some("reads objects or indexes outside plain tables"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowlist_is_consistent() {
        let mut seen = std::collections::HashSet::new();
        for name in DUCKDB_FUNCTIONS
            .iter()
            .flat_map(|g| g.split_ascii_whitespace())
        {
            assert!(seen.insert(name), "`{name}` listed twice");
            assert_eq!(name, name.to_lowercase(), "`{name}` must be lower-case");
            assert!(
                duckdb_danger(name).is_none(),
                "`{name}` is both allowed and dangerous"
            );
        }
        assert!(seen.len() > 500, "{}", seen.len());
        for name in [
            "date_trunc",
            "strftime",
            "regexp_extract",
            "list_transform",
            "coalesce",
            "round",
            "sum",
            "row_number",
            "approx_count_distinct",
            "string_agg",
            "split_part",
            "starts_with",
            "epoch_ms",
            "make_date",
            "struct_pack",
        ] {
            assert!(duckdb_function_allowed(name), "{name}");
        }
    }
}
