//! The README's metric reference table is generated from the code's metric
//! list; this keeps them identical. Regenerate with
//! `CLOCKWATCH_UPDATE_README=1 cargo test -p clockwatch --test readme_metrics`.

const BEGIN: &str = "<!-- metrics:begin -->\n";
const END: &str = "<!-- metrics:end -->";

#[test]
fn readme_table_matches_the_code() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    let readme = std::fs::read_to_string(&path).expect("README.md");
    let start = readme
        .find(BEGIN)
        .expect("README has the metrics:begin marker")
        + BEGIN.len();
    let end = readme[start..]
        .find(END)
        .expect("README has the metrics:end marker")
        + start;
    let table = clockwatch_vocab::reference_table();
    if std::env::var_os("CLOCKWATCH_UPDATE_README").is_some() {
        let updated = format!("{}{}{}", &readme[..start], table, &readme[end..]);
        std::fs::write(&path, updated).expect("write README");
        return;
    }
    assert_eq!(
        &readme[start..end],
        table,
        "README metric table is out of date: rerun with CLOCKWATCH_UPDATE_README=1"
    );
}

#[test]
fn deploy_contract_names_only_real_metrics() {
    // deploy/tests/metrics.txt lists what rules and dashboards may use.
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/tests/metrics.txt");
    let text = std::fs::read_to_string(&path).expect("deploy/tests/metrics.txt");
    for name in text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        // A histogram is used through its _bucket, _sum and _count series.
        let exported = clockwatch_vocab::ALL.iter().any(|m| {
            m.name == name
                || (m.kind == clockwatch_vocab::Kind::Histogram
                    && ["_bucket", "_sum", "_count"]
                        .iter()
                        .any(|suffix| name.strip_suffix(suffix) == Some(m.name)))
        });
        assert!(
            exported || name == "up",
            "deploy uses {name}, which clockwatch does not export"
        );
    }
}
