//! The optimised reader must not change a single result: `keytrail scan --json` on
//! the reference month W2 (1,440 deliveries, 720 digests, from `keytrail generate`)
//! is byte-for-byte the report the pre-optimisation reader produced, kept in
//! tests/data/w2-scan-before.json.gz (written by commit "keytrail generate ...",
//! before the fast path existed). The report has since gained its schema name and
//! version (the first two keys), which the golden predates: exactly those two lines
//! are checked and removed before the comparison.

use std::io::Read;
use std::process::Command;

#[test]
fn scan_json_on_w2_is_unchanged_by_the_fast_reader() {
    let bin = env!("CARGO_BIN_EXE_keytrail");
    let dir = tempfile::tempdir().expect("tempdir");
    let generated = Command::new(bin)
        .args(["generate", "w2", "--out"])
        .arg(dir.path())
        .output()
        .expect("run keytrail generate");
    assert!(
        generated.status.success(),
        "{}",
        String::from_utf8_lossy(&generated.stderr)
    );
    let written: serde_json::Value =
        serde_json::from_slice(&generated.stdout).expect("generate prints JSON");
    assert_eq!(written["files"], 1440);
    assert_eq!(written["digest_files"], 720);
    assert_eq!(written["records"], 86_400);

    // Relative paths, as when the golden report was made (`cd DIR && keytrail scan AWSLogs`).
    let out = Command::new(bin)
        .current_dir(dir.path())
        .args(["scan", "AWSLogs", "--json"])
        .output()
        .expect("run keytrail scan");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let golden = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/w2-scan-before.json.gz"
    ))
    .expect("golden report");
    let mut expected = String::new();
    flate2::read::GzDecoder::new(&golden[..])
        .read_to_string(&mut expected)
        .expect("gunzip golden report");
    let full = String::from_utf8(out.stdout).expect("UTF-8 report");
    let header = "{\n  \"schema\": \"keytrail.scan\",\n  \"version\": 1,\n";
    let rest = full.strip_prefix(header).unwrap_or_else(|| {
        panic!(
            "scan --json must start with {header:?}: {:?}",
            full.chars().take(80).collect::<String>()
        )
    });
    let got = format!("{{\n{rest}");
    if got != expected {
        let line = got
            .lines()
            .zip(expected.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| got.lines().count().min(expected.lines().count()));
        panic!(
            "scan --json on W2 changed at line {}:\n  now:    {:?}\n  before: {:?}",
            line + 1,
            got.lines().nth(line),
            expected.lines().nth(line)
        );
    }
    let report: serde_json::Value = serde_json::from_str(&full).expect("report is JSON");
    assert_eq!(report["schema"], "keytrail.scan");
    assert_eq!(report["version"], 1);
    assert_eq!(report["records"], 86_400);
    assert!(report["kms_records"].as_u64().is_some_and(|n| n > 20_000));
}
