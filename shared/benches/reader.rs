//! Throughput of the engine: gzip decode + streaming parse + analysis of one log file.
//! Run with `cargo bench -p keytrail --bench reader` (or scripts/bench.sh).

use chrono::{TimeZone, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use keytrail::{AnalysisOptions, analyse};
use keytrail_testkit::{Generator, Mix, gzip};

/// A realistic log file from the workspace's one generator (`testkit`): nine in ten
/// records are KMS calls, most of them Decrypt/GenerateDataKey with the key only in
/// resources[] (many made by services on a principal's behalf), some failures, the
/// rest non-KMS records.
fn log_file(records: usize) -> Vec<u8> {
    let start = Utc
        .with_ymd_and_hms(2026, 10, 4, 2, 0, 0)
        .single()
        .expect("start");
    let mix = Mix {
        kms_permille: 900,
        ..Mix::default()
    };
    Generator::with_mix(1, mix).delivery(start, 3600, records)
}

fn bench(c: &mut Criterion) {
    let text = log_file(20_000);
    let gz = gzip(&text);
    let mut group = c.benchmark_group("analyse");
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.sample_size(10);
    group.bench_function("gzip_20k_records", |b| {
        b.iter(|| analyse("bench.json.gz", &gz[..], &AnalysisOptions::default()))
    });
    group.bench_function("plain_20k_records_with_hits", |b| {
        let opts = AnalysisOptions {
            collect_hits: true,
            ..AnalysisOptions::default()
        };
        b.iter(|| analyse("bench.json", &text[..], &opts))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
