#!/usr/bin/env python3
"""Extract the KMS records of the public CloudTrail corpus into keytrail test fixtures.

Usage:  scripts/extract-kms-fixtures.py [CORPUS_DIR]

CORPUS_DIR defaults to ../shared/corpus relative to the repository root
(i.e. the directory next to the repo checkout).  Python 3.11+, stdlib only.

Writes, under shared/tests/fixtures/corpus/ in the repository:

  kms-records.jsonl  every record with eventSource == "kms.amazonaws.com", one
                     compact JSON object per line, values unchanged, grouped by
                     source file (files in sorted corpus-relative path order,
                     records in file order).
  ATTRIBUTION.md     for each contiguous line range: corpus file, upstream
                     repository, upstream path, commit, licence, authenticity
                     (all copied from the corpus PROVENANCE.md).
  expected.json      {corpus-relative path: {"records": N, "kms": M, "digest": bool}}
                     for every data file listed in PROVENANCE.md, as PROVENANCE.md
                     states it.  Disagreements with our own count are printed.

Record sources: every non-blank line of *.jsonl; every element of the
"Records" array of *.json / *.json.gz.  Digest files (CloudTrail-Digest,
no "Records") are skipped.
"""
from __future__ import annotations

import gzip
import json
import re
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
OUT_DIR = REPO_ROOT / "shared" / "tests" / "fixtures" / "corpus"
KMS_SOURCE = "kms.amazonaws.com"
NON_DATA = {"PROVENANCE.md", "README.md"}


# --------------------------------------------------------------------------- #
# PROVENANCE.md parsing
# --------------------------------------------------------------------------- #

def _cell(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text.startswith("`") and text.endswith("`"):
        text = text[1:-1]
    return text


def _int(text: str) -> int:
    return int(text.replace(",", ""))


def classify(authenticity: str) -> str:
    """Short authenticity class used in PROVENANCE.md's conventions."""
    a = authenticity.lower()
    if "synthetic" in a:
        return "synthetic"
    if "aws-authored documentation" in a or "aws documentation digest" in a:
        return "doc"
    if "fixture" in a or "real-looking" in a or "insights example" in a:
        return "fixture"
    if "real" in a:
        return "real"
    return "unknown"


def pick_kind(section: str, rel: str, kinds: list[dict]) -> dict:
    """Choose which "Kind" bullet of a section describes one file."""
    if len({k["authenticity"] for k in kinds}) == 1:
        return kinds[0]
    name = rel.split("/", 1)[1]

    def find(*needles: str) -> dict:
        for k in kinds:
            if all(n.lower() in k["text"].lower() for n in needles):
                return k
        raise SystemExit(f"cannot map {rel} to a Kind of section {section}")

    if section == "flosell-trailscraper":
        return find("gzipped") if name.endswith(".gz") else find("smoke tests")
    if section == "panther-analysis":
        if "digest" in name:
            return find("CloudTrail-Digest")
        if "insight" in name:
            return find("Insights")
        if name.startswith("historical/schemas/"):
            return find("log-schema tests for AWS.CloudTrail")
        if name.startswith("partial-records/"):
            return find("minimal")
        if name.startswith("test_scenarios/"):
            return find("test-scenario")
        return find("Tests[].Log")
    raise SystemExit(f"section {section} has several authenticities; no rule for {rel}")


def parse_provenance(path: Path) -> dict:
    """Return {"files": {rel: info}, "digests": [...], "totals": {...}}."""
    text = path.read_text(encoding="utf-8")
    files: dict[str, dict] = {}
    section = None
    meta: dict = {}
    header: list[str] | None = None
    totals: dict = {}
    digests: list[str] = []
    for line in text.splitlines():
        m = re.match(r"^### `([^`]+)/`\s*$", line)
        if m:
            section = m.group(1)
            meta = {"repository": None, "license": None, "kinds": [], "conversion": None}
            header = None
            continue
        if line.startswith("- Digest files:") or "Digest files:" in line:
            digests = re.findall(r"`([^`]+digest[^`]*)`", line.split("Digest files:", 1)[1])
        m = re.match(r"^- Files: (\d+) \((\d+) digest files\)", line)
        if m and section is None:
            totals["files"] = int(m.group(1))
            totals["digest_files"] = int(m.group(2))
        m = re.match(r"^- Records: ([\d,]+); KMS records: ([\d,]+)", line)
        if m and section is None:
            totals["records"] = _int(m.group(1))
            totals["kms"] = _int(m.group(2))
        if section is None:
            continue
        if line.startswith("- Repository:"):
            meta["repository"] = line.split(":", 1)[1].strip()
        elif line.startswith("- License:"):
            meta["license"] = line.split(":", 1)[1].strip()
        elif line.startswith("- Kind ("):
            m = re.match(r"^- Kind \((\d+) file\(s\)\): (.*)$", line)
            body = m.group(2)
            auth = body.split("Authenticity:", 1)[1].strip() if "Authenticity:" in body else ""
            meta["kinds"].append({"count": int(m.group(1)), "text": body, "authenticity": auth})
        elif line.startswith("- Conversion (all files):"):
            meta["conversion"] = line.split(":", 1)[1].strip()
        elif line.startswith("| file |"):
            header = [c.strip() for c in line.strip().strip("|").split("|")]
        elif line.startswith("| `") and header:
            cells = [_cell(c) for c in line.strip().strip("|").split(" | ")]
            if len(cells) != len(header):
                raise SystemExit(f"bad table row ({len(cells)} cells, want {len(header)}): {line[:120]}")
            row = dict(zip(header, cells))
            rel = f"{section}/{row['file']}"
            commit_cell = row["commit"]
            cm = re.match(r"^([0-9a-f]{40})\s*(.*)$", commit_cell)
            digest = row["records"] == "digest"
            files[rel] = {
                "section": section,
                "repository": meta["repository"],
                "license": meta["license"],
                "source_path": row["source path"],
                "commit": cm.group(1) if cm else commit_cell,
                "commit_note": (cm.group(2).strip() if cm else ""),
                "records": 0 if digest else _int(row["records"]),
                "kms": _int(row["KMS"]),
                "digest": digest,
                "sha256": row.get("sha256", ""),
                "conversion": row.get("conversion") or meta["conversion"] or "",
                "_kinds": meta["kinds"],
            }
    for rel, info in files.items():
        kind = pick_kind(info["section"], rel, info.pop("_kinds"))
        info["authenticity"] = kind["authenticity"]
        info["authenticity_class"] = classify(kind["authenticity"])
    return {"files": files, "digests": digests, "totals": totals}


# --------------------------------------------------------------------------- #
# corpus reading
# --------------------------------------------------------------------------- #

def load_file(path: Path) -> tuple[bool, list]:
    """Return (is_digest, records) for one corpus data file."""
    name = path.name
    if name.endswith(".jsonl"):
        recs = []
        with path.open(encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                recs.append(json.loads(line))
        return False, recs
    if name.endswith(".json.gz"):
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            doc = json.load(fh)
    elif name.endswith(".json"):
        with path.open(encoding="utf-8") as fh:
            doc = json.load(fh)
    else:
        raise SystemExit(f"unknown corpus file type: {path}")
    if isinstance(doc, dict) and isinstance(doc.get("Records"), list):
        return False, doc["Records"]
    if isinstance(doc, dict) and ("digestStartTime" in doc or "logFiles" in doc or "digest" in name):
        return True, []
    raise SystemExit(f"{path}: neither a Records file nor a digest")


def is_kms(rec) -> bool:
    return isinstance(rec, dict) and rec.get("eventSource") == KMS_SOURCE


def main(argv: list[str]) -> int:
    corpus = Path(argv[1]) if len(argv) > 1 else (REPO_ROOT / ".." / "shared" / "corpus")
    corpus = corpus.resolve()
    if not corpus.is_dir():
        raise SystemExit(f"corpus dir not found: {corpus}")
    prov = parse_provenance(corpus / "PROVENANCE.md")
    pfiles = prov["files"]

    on_disk = sorted(
        p.relative_to(corpus).as_posix()
        for p in corpus.rglob("*")
        if p.is_file() and p.relative_to(corpus).as_posix() not in NON_DATA
    )

    OUT_DIR.mkdir(parents=True, exist_ok=True)
    lines: list[str] = []
    ranges: list[tuple[int, int, str, int]] = []   # (first, last, rel, n)
    counted: dict[str, dict] = {}
    for rel in on_disk:
        digest, recs = load_file(corpus / rel)
        kms = [r for r in recs if is_kms(r)]
        counted[rel] = {"records": len(recs), "kms": len(kms), "digest": digest}
        if not kms:
            continue
        first = len(lines) + 1
        for r in kms:
            lines.append(json.dumps(r, ensure_ascii=False, separators=(",", ":")))
        ranges.append((first, len(lines), rel, len(kms)))

    (OUT_DIR / "kms-records.jsonl").write_text("".join(l + "\n" for l in lines), encoding="utf-8")

    # ---- ATTRIBUTION.md ----------------------------------------------------
    out = [
        "# Attribution: `kms-records.jsonl`",
        "",
        "`kms-records.jsonl` holds every CloudTrail record with `eventSource` == "
        "`kms.amazonaws.com` found in the public CloudTrail corpus (`shared/corpus`, "
        "described by its `PROVENANCE.md`). None of these records was written by the "
        "keytrail project. They were extracted by `scripts/extract-kms-fixtures.py`: "
        "one compact JSON object per line, values unchanged, grouped by corpus file "
        "in sorted path order, records in their order within the file.",
        "",
        "Authenticity classes (from PROVENANCE.md): **real** = captured from live AWS "
        "accounts (usually anonymized); **doc** = AWS-authored documentation example; "
        "**fixture** = test fixture written by a third party (often an edited copy of "
        "a real event); **synthetic** = placeholder values.",
        "",
        "Licences: the AWS documentation repositories are CC-BY-SA-4.0 for "
        "documentation text, with sample code under MIT-0 / modified MIT "
        "(LICENSE-SAMPLECODE); the other sources are Apache-2.0. Keep this file next "
        "to the fixture.",
        "",
        f"Total: {len(lines)} lines from {len(ranges)} corpus files.",
        "",
        "| lines | records | corpus file | upstream repository | upstream path | commit | licence | authenticity |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for first, last, rel, n in ranges:
        info = pfiles.get(rel)
        if info is None:
            out.append(f"| {first}-{last} | {n} | `{rel}` | ? | ? | ? | ? | not in PROVENANCE.md |")
            continue
        commit = f"`{info['commit']}`" + (f" {info['commit_note']}" if info["commit_note"] else "")
        auth = f"**{info['authenticity_class']}**: {info['authenticity']}"
        span = f"{first}" if first == last else f"{first}-{last}"
        out.append(
            f"| {span} | {n} | `{rel}` | {info['repository']} | `{info['source_path']}` | "
            f"{commit} | {info['license']} | {auth.replace('|', '/')} |"
        )
    out += [
        "",
        "Conversions applied upstream of this extraction (per corpus file, from PROVENANCE.md):",
        "",
    ]
    for first, last, rel, n in ranges:
        info = pfiles.get(rel)
        if info:
            out.append(f"- `{rel}`: {info['conversion']}")
    (OUT_DIR / "ATTRIBUTION.md").write_text("\n".join(out) + "\n", encoding="utf-8")

    # ---- expected.json (as PROVENANCE.md states) --------------------------
    expected = {
        rel: {"records": info["records"], "kms": info["kms"], "digest": info["digest"]}
        for rel, info in sorted(pfiles.items())
    }
    (OUT_DIR / "expected.json").write_text(json.dumps(expected, indent=2) + "\n", encoding="utf-8")

    # ---- report ------------------------------------------------------------
    print(f"corpus: {corpus}")
    print(f"data files on disk: {len(on_disk)} (digest: {sum(c['digest'] for c in counted.values())})")
    print(f"files in PROVENANCE tables: {len(pfiles)}")
    print(f"records counted: {sum(c['records'] for c in counted.values())}; "
          f"KMS records written: {len(lines)} from {len(ranges)} files")
    t = prov["totals"]
    print(f"PROVENANCE totals line: files {t.get('files')} ({t.get('digest_files')} digest), "
          f"records {t.get('records')}, KMS {t.get('kms')}")
    print(f"PROVENANCE table sums: records {sum(i['records'] for i in pfiles.values())}, "
          f"KMS {sum(i['kms'] for i in pfiles.values())}, digest {sum(i['digest'] for i in pfiles.values())}")
    problems = 0
    for rel in sorted(set(on_disk) | set(pfiles)):
        if rel not in pfiles:
            print(f"DISAGREE {rel}: on disk, not in PROVENANCE tables"); problems += 1
        elif rel not in counted:
            print(f"DISAGREE {rel}: in PROVENANCE tables, not on disk"); problems += 1
        else:
            want = expected[rel]
            got = counted[rel]
            if want != got:
                print(f"DISAGREE {rel}: PROVENANCE {want} vs counted {got}"); problems += 1
    for d in prov["digests"]:
        if d not in counted:
            print(f"NOTE digest listed in PROVENANCE conventions but absent on disk: {d}")
    print(f"disagreements: {problems}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
