//! The docs' rule table is the catalog's: `docs/catalog.md` holds, between its
//! `rules:begin` and `rules:end` markers, exactly what `rules_table_markdown` makes of
//! `RULES`. After changing a rule, run it with `KEYTRAIL_UPDATE_DOCS=1` to write the
//! table in, and review the diff.

use std::path::Path;

use keytrail::{health_table_markdown, rules_table_markdown};

#[test]
fn docs_rule_table_is_generated_from_the_catalog() {
    generated_table("rules", rules_table_markdown());
}

#[test]
fn docs_health_table_is_generated_from_the_health_alarms() {
    generated_table("health", health_table_markdown());
}

/// `docs/catalog.md` holds `want` between its `<!-- NAME:begin -->` and
/// `<!-- NAME:end -->` markers.
fn generated_table(name: &str, want: String) {
    // The tests share one file; in update mode each rewrites it whole.
    static FILE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = FILE.lock().unwrap_or_else(|e| e.into_inner());
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/catalog.md");
    let doc = std::fs::read_to_string(&path).expect("docs/catalog.md");
    let begin = format!("<!-- {name}:begin -->\n");
    let end = format!("<!-- {name}:end -->");
    let start = doc.find(&begin).expect("begin marker") + begin.len();
    let stop = doc[start..].find(&end).expect("end marker") + start;
    if std::env::var_os("KEYTRAIL_UPDATE_DOCS").is_some() {
        let updated = format!("{}{want}{}", &doc[..start], &doc[stop..]);
        std::fs::write(&path, updated).expect("write docs/catalog.md");
        return;
    }
    assert!(
        doc[start..stop] == want,
        "the {name} table in {} differs from the code; it should be:\n{want}",
        path.display()
    );
}
