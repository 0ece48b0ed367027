//! The validating floor: one CloudTrail file, decompressed into memory once, then
//! checked as JSON by each parser that can do it without building a document we do
//! not need. Prints the median of `--runs` timings per parser, single-threaded (pin
//! it with taskset), next to the decompression time with the same zlib-rs backend
//! keytrail uses.
//!
//! keytrail-bench-parsers FILE.json.gz [--runs N]

use std::io::Read;
use std::time::{Duration, Instant};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> Duration {
    median(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(f());
                t.elapsed()
            })
            .collect(),
    )
}

fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .ok_or("usage: keytrail-bench-parsers FILE.json.gz [--runs N]")?;
    let runs = match (args.next().as_deref(), args.next()) {
        (Some("--runs"), Some(n)) => n
            .parse::<usize>()
            .map_err(|e| format!("--runs: {e}"))?
            .max(1),
        (None, _) => 5,
        _ => return Err("usage: keytrail-bench-parsers FILE.json.gz [--runs N]".into()),
    };
    let gz = std::fs::read(&path).map_err(|e| format!("{path}: {e}"))?;
    let mut json = Vec::new();
    let mut failed = None;
    let inflate = time(runs, || {
        json.clear();
        if let Err(e) = flate2::read::MultiGzDecoder::new(&gz[..]).read_to_end(&mut json) {
            failed = Some(format!("{path}: {e}"));
        }
    });
    if let Some(e) = failed {
        return Err(e);
    }
    // The last timed run left the file in `json`.
    let mb = json.len() as f64 / 1e6;
    let check = |name: &str, ok: bool| {
        if ok {
            Ok(())
        } else {
            Err(format!("{path}: {name} refused the file"))
        }
    };

    let serde = time(runs, || {
        serde_json::from_slice::<serde::de::IgnoredAny>(&json).is_ok()
    });
    check(
        "serde_json",
        serde_json::from_slice::<serde::de::IgnoredAny>(&json).is_ok(),
    )?;
    let sonic = time(runs, || {
        sonic_rs::from_slice::<serde::de::IgnoredAny>(&json).is_ok()
    });
    check(
        "sonic-rs",
        sonic_rs::from_slice::<serde::de::IgnoredAny>(&json).is_ok(),
    )?;
    // simd-json works in place: each run gets a fresh copy, made outside the timing.
    let mut copies: Vec<Vec<u8>> = (0..runs).map(|_| json.clone()).collect();
    let simd = median(
        copies
            .iter_mut()
            .map(|copy| {
                let t = Instant::now();
                let ok = simd_json::to_tape(copy).is_ok();
                let d = t.elapsed();
                assert!(ok, "simd-json refused the file");
                d
            })
            .collect(),
    );

    println!("file: {path} ({mb:.1} MB of JSON); median of {runs} runs, one thread");
    println!("| step | time (ms) | MB/s | / decompress (into memory, here) |");
    println!("|---|---:|---:|---:|");
    let row = |name: &str, d: Duration| {
        let s = d.as_secs_f64();
        println!(
            "| {name} | {:.1} | {:.0} | {:.2} |",
            s * 1e3,
            mb / s,
            s / inflate.as_secs_f64()
        );
    };
    row("decompress (flate2, zlib-rs)", inflate);
    row("serde_json: skip every value (IgnoredAny)", serde);
    row("sonic-rs: skip every value (IgnoredAny)", sonic);
    row("simd-json: to_tape", simd);
    Ok(())
}
