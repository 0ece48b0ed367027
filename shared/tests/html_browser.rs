//! The HTML review report in a real browser: headless Chromium parses the page
//! (tables and the three SVG charts must be in the DOM, no script element) and
//! takes a screenshot that must not be blank.
//!
//! Chromium is required: `scripts/install-test-deps.sh` installs it and
//! `scripts/test.sh` exports `KEYTRAIL_CHROMIUM`. Without it this test fails.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use keytrail::Report;
use keytrail::render_html;

const TIMEOUT: Duration = Duration::from_secs(90);

fn chromium() -> PathBuf {
    if let Some(p) = std::env::var_os("KEYTRAIL_CHROMIUM").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        assert!(
            p.is_file(),
            "KEYTRAIL_CHROMIUM={} does not exist; run scripts/install-test-deps.sh (scripts/test.sh does it and exports KEYTRAIL_CHROMIUM)",
            p.display()
        );
        return p;
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in ["chromium", "chromium-browser"] {
        for dir in std::env::split_paths(&path) {
            let cand = dir.join(name);
            if cand.is_file() {
                return cand;
            }
        }
    }
    panic!(
        "headless Chromium is required for the HTML report test but neither KEYTRAIL_CHROMIUM \
         nor chromium/chromium-browser on PATH was found. Run scripts/test.sh (or \
         scripts/install-test-deps.sh, which installs it with apt-get install -y chromium, \
         then export KEYTRAIL_CHROMIUM=/usr/bin/chromium)."
    );
}

/// A fresh temporary directory (removed on drop).
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let dir = std::env::temp_dir().join(format!(
            "keytrail-html-browser-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn report() -> Report {
    // The insta snapshot of the library's report fixture: a `---` header, then the JSON.
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/review/report.json.snap");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let json = text
        .splitn(3, "---\n")
        .nth(2)
        .unwrap_or_else(|| panic!("{}: no insta header", path.display()));
    serde_json::from_str(json).expect("report.json.snap holds a keytrail.review report")
}

/// Runs Chromium headless with the isolation flags plus `extra`; returns stdout.
fn run_chromium(browser: &Path, profile: &Path, extra: &[String]) -> String {
    let out_path = profile.with_extension("stdout");
    let err_path = profile.with_extension("stderr");
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-extensions",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-sync",
            "--hide-scrollbars",
            "--mute-audio",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).expect("stdout file"))
        .stderr(std::fs::File::create(&err_path).expect("stderr file"))
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", browser.display()));
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait for chromium") {
            break s;
        }
        if start.elapsed() > TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "chromium did not finish within {TIMEOUT:?}; stderr:\n{}",
                std::fs::read_to_string(&err_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
    assert!(
        status.success(),
        "chromium {extra:?} failed ({status}); stderr:\n{}",
        std::fs::read_to_string(&err_path).unwrap_or_default()
    );
    stdout
}

#[test]
fn html_report_renders_in_chromium() {
    let browser = chromium();
    let tmp = TempDir::new();
    let page = render_html(&report());
    let file = tmp.0.join("review.html");
    std::fs::write(&file, &page).expect("write html");
    let url = format!("file://{}", file.display());

    // 1. The DOM as Chromium parsed it.
    let dom = run_chromium(
        &browser,
        &tmp.0.join("profile-dom"),
        &["--dump-dom".into(), url.clone()],
    );
    for needle in [
        "id=\"access-inventory\"",
        "id=\"trail-checks\"",
        "id=\"keys\"",
        "id=\"pending-deletion\"",
        "id=\"unused-keys\"",
    ] {
        assert!(dom.contains(needle), "{needle} missing from the DOM");
    }
    for chart in [
        "chart-calls-per-key",
        "chart-failures-per-day",
        "chart-operations-per-principal",
    ] {
        let open = dom
            .find(&format!("<svg id=\"{chart}\""))
            .unwrap_or_else(|| panic!("<svg id=\"{chart}\"> missing from the DOM"));
        let body = &dom[open..];
        let end = body.find("</svg>").expect("svg closed");
        let svg = &body[..end];
        assert!(
            svg.contains("<rect") && svg.contains("<text") && svg.contains("<title"),
            "{chart} has no shapes, labels or tooltips"
        );
    }
    assert!(
        dom.contains("<polyline"),
        "the calls-per-key chart has no lines"
    );
    // The hostile strings in the report stay text.
    assert!(
        !dom.to_ascii_lowercase().contains("<script"),
        "a script element reached the DOM"
    );
    assert!(dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    // Every table row is in place: the access inventory has one per row.
    let access = &dom[dom.find("id=\"access-inventory\"").expect("table")..];
    let access = &access[..access.find("</table>").expect("end")];
    assert_eq!(
        access.matches("<tr>").count(),
        1 + report().access_inventory.len(),
        "access inventory rows"
    );

    // 2. A screenshot that shows something.
    let shot = tmp.0.join("shot.png");
    run_chromium(
        &browser,
        &tmp.0.join("profile-shot"),
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1280,2000".into(),
            url,
        ],
    );
    // KEYTRAIL_KEEP_HTML=<dir> keeps the page and the screenshot for a look.
    if let Some(dir) = std::env::var_os("KEYTRAIL_KEEP_HTML").filter(|d| !d.is_empty()) {
        let dir = PathBuf::from(dir);
        std::fs::create_dir_all(&dir).expect("KEYTRAIL_KEEP_HTML dir");
        std::fs::copy(&file, dir.join("review.html")).expect("keep html");
        std::fs::copy(&shot, dir.join("shot.png")).expect("keep screenshot");
    }
    let (width, height, share) = non_background_share(&shot);
    assert!(
        width >= 1000 && height >= 1000,
        "screenshot is {width}x{height}"
    );
    assert!(
        share > 0.01,
        "the screenshot is blank: only {:.3}% of pixels differ from the background",
        share * 100.0
    );
}

/// Measured by Chromium's own layout, at a laptop's width: no word broken inside
/// in the key inventories (only ARNs may wrap), times on one line, the short ARNs of the access
/// inventory on one line with the full ARN as a tooltip, and legend entries of the
/// operations chart that do not overlap (with operation names as long as KMS has).
/// The page's CSP forbids scripts, so this copy of it drops the CSP and adds one
/// that writes what it found into the DOM, which `--dump-dom` then prints.
#[test]
fn html_report_layout_in_chromium() {
    let browser = chromium();
    let tmp = TempDir::new();
    let mut r = report();
    let ops = [
        "GenerateDataKeyWithoutPlaintext",
        "GenerateDataKeyPairWithoutPlaintext",
        "Decrypt",
        "ReEncrypt",
        "GetParametersForImport",
        "DescribeKey",
        "ListResourceTags",
        "Sign",
        "Verify",
    ];
    r.charts.operations_per_principal[0]
        .1
        .extend(ops.iter().map(|o| ((*o).to_owned(), 50)));
    let page = render_html(&r);
    let csp = page
        .find("<meta http-equiv=\"Content-Security-Policy\"")
        .expect("CSP");
    let csp_end = csp + page[csp..].find('>').expect("end of meta") + 1;
    let page = format!(
        "{}{}",
        &page[..csp_end].replace(&page[csp..csp_end], ""),
        page[csp_end..].replace("</body>", &format!("<script>{MEASURE}</script></body>"))
    );
    let file = tmp.0.join("layout.html");
    std::fs::write(&file, &page).expect("write html");
    let dom = run_chromium(
        &browser,
        &tmp.0.join("profile-layout"),
        &[
            "--window-size=1280,2000".into(),
            "--dump-dom".into(),
            format!("file://{}", file.display()),
        ],
    );
    let start = dom
        .find("<pre id=\"layout-result\">")
        .expect("the measuring script ran")
        + "<pre id=\"layout-result\">".len();
    let result = &dom[start..start + dom[start..].find("</pre>").expect("end")];
    assert_eq!(result, "ok", "layout problems:\n{result}");
}

/// Appends `<pre id="layout-result">` with "ok" or one problem per line.
const MEASURE: &str = r##"
(function () {
  const problems = [];
  const lines = (node, from, to) => {
    const r = document.createRange();
    r.setStart(node, from);
    r.setEnd(node, to);
    return new Set([...r.getClientRects()].filter(x => x.width > 0).map(x => Math.round(x.top))).size;
  };
  for (const table of ["keys", "aws-managed-keys", "access-inventory", "rotation-disabled"]) {
    for (const td of document.querySelectorAll("#" + table + " td")) {
      if (td.classList.contains("id")) continue;
      const walk = document.createTreeWalker(td, NodeFilter.SHOW_TEXT);
      let node;
      while ((node = walk.nextNode())) {
        for (const m of node.data.matchAll(/[\p{L}\p{N}]+/gu)) {
          if (lines(node, m.index, m.index + m[0].length) > 1) {
            problems.push("#" + table + ": word broken: " + m[0]);
          }
        }
      }
    }
  }
  for (const td of document.querySelectorAll("td.time")) {
    const node = td.firstChild;
    if (node && lines(node, 0, node.data.length) > 1) problems.push("time on several lines: " + node.data);
  }
  for (const td of document.querySelectorAll("#access-inventory td.arn")) {
    const node = td.firstChild;
    if (lines(node, 0, node.data.length) > 1) problems.push("ARN on several lines: " + node.data);
    if (!(td.title || "").startsWith("arn:")) problems.push("no full ARN tooltip: " + node.data);
  }
  const boxes = [...document.querySelectorAll("#chart-operations-per-principal g.legend")]
    .map(g => g.getBoundingClientRect());
  if (boxes.length < 8) problems.push("only " + boxes.length + " legend entries");
  const svg = document.getElementById("chart-operations-per-principal").getBoundingClientRect();
  boxes.forEach((a, i) => {
    if (a.right > svg.right + 0.5 || a.bottom > svg.bottom + 0.5) problems.push("legend entry " + i + " outside the chart");
    boxes.slice(i + 1).forEach((b, j) => {
      if (a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom) {
        problems.push("legend entries " + i + " and " + (i + 1 + j) + " overlap");
      }
    });
  });
  const pre = document.createElement("pre");
  pre.id = "layout-result";
  pre.textContent = problems.length ? problems.join("\n") : "ok";
  document.body.appendChild(pre);
})();
"##;

/// Width, height, and the share of pixels that differ from the most common colour.
fn non_background_share(path: &Path) -> (u32, u32, f64) {
    let file = std::fs::File::open(path)
        .unwrap_or_else(|e| panic!("no screenshot at {}: {e}", path.display()));
    let mut decoder = png::Decoder::new(std::io::BufReader::new(file));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().expect("a PNG screenshot");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("PNG frame");
    let samples = info.color_type.samples();
    let mut counts: HashMap<&[u8], u64> = HashMap::new();
    for row in buf[..info.buffer_size()].chunks_exact(info.line_size) {
        for px in row[..info.width as usize * samples].chunks_exact(samples) {
            *counts.entry(px).or_default() += 1;
        }
    }
    let total: u64 = counts.values().sum();
    let most = counts.values().copied().max().unwrap_or(0);
    let share = if total == 0 {
        0.0
    } else {
        (total - most) as f64 / total as f64
    };
    (info.width, info.height, share)
}
