//! The demo warehouse builds where it is asked to, so the README's commands work in any
//! clone, whichever clone compiled the example first.

use crate::common::{code, da_in, root, stderr};

#[test]
fn the_readme_example_runs_in_a_fresh_clone() {
    // Guards against a demo written to a folder fixed at compile time: with the shared
    // target directory, a second clone got its demo written into the first one and the
    // README command then failed there with "not in the local warehouse".
    let clone = tempfile::tempdir().unwrap();
    for rel in ["examples/traffic.yaml", "config/instance.yaml"] {
        let to = clone.path().join(rel);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(root().join(rel), &to).unwrap();
    }
    // What `cargo run --example make_warehouse` does when run from the clone root.
    let folder = da::demo::folder(Vec::new(), clone.path());
    assert_eq!(folder, clone.path().join("examples"));
    da::demo::make_in(&folder).unwrap();
    let out = da_in(
        clone.path(),
        &[
            "plan",
            "run",
            "examples/traffic.yaml",
            "--config",
            "config/instance.yaml",
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(clone.path().join("examples/out/traffic.csv").is_file());
}

#[test]
fn the_demo_folder_can_be_given_as_an_argument() {
    let cwd = tempfile::tempdir().unwrap();
    let folder = da::demo::folder(vec!["elsewhere/demo".to_owned()], cwd.path());
    assert_eq!(folder, cwd.path().join("elsewhere/demo"));
    da::demo::make_in(&folder).unwrap();
    assert!(folder.join("analytics.duckdb").is_file());
    assert!(folder.join("warehouse/analytics/web.parquet").is_file());
}
