//! The docs' rule table is the catalog's: `docs/catalog.md` holds, between its
//! `rules:begin` and `rules:end` markers, exactly what `rules_table_markdown` makes of
//! `RULES`. After changing a rule, run it with `KEYTRAIL_UPDATE_DOCS=1` to write the
//! table in, and review the diff.

use std::path::Path;

use keytrail::rules_table_markdown;

#[test]
fn docs_rule_table_is_generated_from_the_catalog() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/catalog.md");
    let doc = std::fs::read_to_string(&path).expect("docs/catalog.md");
    let begin = "<!-- rules:begin -->\n";
    let end = "<!-- rules:end -->";
    let start = doc.find(begin).expect("rules:begin marker") + begin.len();
    let stop = doc[start..].find(end).expect("rules:end marker") + start;
    let want = rules_table_markdown();
    if std::env::var_os("KEYTRAIL_UPDATE_DOCS").is_some() {
        let updated = format!("{}{want}{}", &doc[..start], &doc[stop..]);
        std::fs::write(&path, updated).expect("write docs/catalog.md");
        return;
    }
    assert!(
        doc[start..stop] == want,
        "the rule table in {} differs from the catalog; it should be:\n{want}",
        path.display()
    );
}
