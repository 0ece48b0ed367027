//! Real-world CloudTrail records: the project's own KMS fixtures (always), and every
//! file of the shared public corpus when it is present next to the repository.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use keytrail::KmsEvent;
use keytrail::principal_of;
use keytrail::resolve_keys;
use keytrail::{AnalysisOptions, analyse};
use keytrail::{Item, read_records};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/corpus")
}

#[test]
fn kms_fixture_records_all_read_and_resolve() {
    let path = fixtures().join("kms-records.jsonl");
    let data = std::fs::read(&path).expect("fixture");
    let lines = data
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .count();
    assert_eq!(lines, 114, "see ATTRIBUTION.md");
    let mut records = Vec::new();
    let summary = read_records("kms-records.jsonl", &data[..], |item| match item {
        Item::Record(r) => records.push(*r),
        Item::Bad { index, reason } => panic!("record {index} rejected: {reason}"),
    });
    assert!(summary.error.is_none(), "{:?}", summary.error);
    // Two AWS doc pages publish the same example event; dedup by eventID drops the copies.
    assert_eq!(records.len() as u64 + summary.duplicates, 114);
    assert!(records.iter().all(|r| r.is_kms()));

    let mut decrypt_by_resources = 0;
    let mut with_time = 0;
    for r in &records {
        let p = principal_of(r);
        assert!(!p.id.is_empty());
        let keys = resolve_keys(r);
        if r.name() == "Decrypt"
            && r.request_str("keyId").is_none()
            && keys.keys.iter().any(|k| k.is_key_arn())
        {
            decrypt_by_resources += 1;
        }
        if KmsEvent::analyse(r).is_some() {
            with_time += 1;
        }
    }
    // Most Decrypts name no key in requestParameters: the seed's Athena query misses them.
    assert!(
        decrypt_by_resources >= 14,
        "only {decrypt_by_resources} Decrypts resolved from resources[]"
    );
    assert!(
        with_time >= records.len() - 3,
        "{with_time} of {} have a usable eventTime",
        records.len()
    );
}

#[test]
fn kms_fixture_real_shapes() {
    let data = std::fs::read(fixtures().join("kms-records.jsonl")).expect("fixture");
    let mut by_name: BTreeMap<String, usize> = BTreeMap::new();
    read_records("kms-records.jsonl", &data[..], |item| {
        if let Item::Record(r) = item {
            *by_name.entry(r.name().to_owned()).or_default() += 1;
            // Every CreateKey that succeeded names its new key.
            if r.name() == "CreateKey" && !r.failed() && r.response_elements.is_some() {
                assert!(
                    resolve_keys(&r).keys.iter().any(|k| k.is_key_arn()),
                    "{r:?}"
                );
            }
        }
    });
    assert!(by_name.len() >= 40, "{by_name:?}");
}

/// The shared corpus: `KEYTRAIL_CORPUS_DIR`, or `../shared/corpus` beside this checkout.
/// The project's own tests never need it.
fn corpus_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("KEYTRAIL_CORPUS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus"));
    dir.join("PROVENANCE.md").exists().then_some(dir)
}

#[test]
fn every_corpus_file_reads_without_panic_and_matches_provenance() {
    let Some(dir) = corpus_dir() else {
        eprintln!("shared corpus not present; skipping the corpus-wide check");
        return;
    };
    let expected: serde_json::Value = serde_json::from_slice(
        &std::fs::read(fixtures().join("expected.json")).expect("expected.json"),
    )
    .expect("json");
    let expected = expected.as_object().expect("object");
    let mut mismatches = Vec::new();
    let (mut total, mut total_kms) = (0u64, 0u64);
    for (rel, want) in expected {
        let path = dir.join(rel);
        let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let a = analyse(rel, &data[..], &AnalysisOptions::default());
        if want["digest"].as_bool() == Some(true) {
            if a.not_a_log.is_none() {
                mismatches.push(format!("{rel}: digest not recognised"));
            }
            continue;
        }
        if let Some(e) = &a.error {
            mismatches.push(format!("{rel}: {e}"));
        }
        let records = a.records + a.duplicates;
        let kms = a.kms_records;
        total += records;
        total_kms += kms;
        if records != want["records"].as_u64().unwrap_or(0) {
            mismatches.push(format!(
                "{rel}: {records} records, PROVENANCE says {}",
                want["records"]
            ));
        }
        // Duplicated KMS records within a file are dropped by eventID; count them back.
        let kms_want = want["kms"].as_u64().unwrap_or(0);
        if kms > kms_want || kms + a.duplicates < kms_want {
            mismatches.push(format!(
                "{rel}: {kms} KMS records, PROVENANCE says {kms_want}"
            ));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
    assert_eq!(
        total, 1414,
        "records in the corpus folder (PROVENANCE tables)"
    );
    assert_eq!(
        total_kms, 114,
        "KMS records in the corpus folder (PROVENANCE tables)"
    );
}
