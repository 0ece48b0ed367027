//! The detection catalog and the per-event aggregation, without reading or parsing:
//! `KmsEvent::analyse` (keys, principal, failure class), every rule of
//! `catalog::RULES` over every event, `Metrics::observe` and `Summary::observe`.
//! Run with `cargo bench -p keytrail --bench catalog`.

use std::hint::black_box;

use chrono::{TimeZone, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use keytrail::Record;
use keytrail::Summary;
use keytrail::{KmsEvent, RULES, RuleSet};
use keytrail::{MetricOptions, Metrics};
use keytrail_testkit::{Generator, Mix};

const EVENTS: usize = 4000;

/// Realistic KMS records from the workspace's one generator (`testkit`): mostly
/// Decrypt / GenerateDataKey with the key only in resources[], many made by services
/// on a principal's behalf, keys named by ARN, id or alias, ReEncrypt, grants,
/// lifecycle calls, callers from another account, some failures.
fn records() -> Vec<Record> {
    let start = Utc
        .with_ymd_and_hms(2026, 10, 4, 2, 0, 0)
        .single()
        .expect("start");
    Generator::with_mix(1, Mix::kms_only())
        .records(start, 3600, EVENTS)
        .into_iter()
        .map(|v| Record::from_value(v).expect("record"))
        .collect()
}

fn bench(c: &mut Criterion) {
    let records = records();
    let events: Vec<KmsEvent> = records.iter().filter_map(KmsEvent::analyse).collect();
    let rule_sets: Vec<RuleSet> = events.iter().map(RuleSet::of).collect();
    assert_eq!(events.len(), EVENTS, "every bench record is a KMS event");
    let matches: usize = events
        .iter()
        .map(|e| RULES.iter().filter(|r| r.matches(e)).count())
        .sum();
    assert!(matches > 0, "the bench records match some rules");

    let mut group = c.benchmark_group("catalog");
    group.throughput(Throughput::Elements(EVENTS as u64));
    group.bench_function("kms_event_analyse", |b| {
        b.iter(|| {
            black_box(&records)
                .iter()
                .filter_map(KmsEvent::analyse)
                .count()
        })
    });
    group.bench_function("all_rules", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for e in black_box(&events) {
                for rule in RULES {
                    n += usize::from(rule.matches(e));
                }
            }
            n
        })
    });
    group.bench_function("metrics_observe", |b| {
        let opts = MetricOptions::default();
        b.iter(|| {
            let mut m = Metrics::default();
            for (e, rules) in black_box(&events).iter().zip(&rule_sets) {
                m.observe(e, *rules, &opts);
            }
            m
        })
    });
    group.bench_function("summary_observe", |b| {
        b.iter(|| {
            let mut s = Summary::default();
            for (e, rules) in black_box(&events).iter().zip(&rule_sets) {
                s.observe(e, *rules);
            }
            s
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
