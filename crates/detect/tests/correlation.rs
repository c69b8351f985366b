//! Correlation rules against results computed by hand: each type of the
//! Sigma correlation specification, with groups that must fire, groups that
//! fall outside the window or the threshold, and the event that completes it.
//! This test found two defects in rsigma-eval 0.23, worked around in
//! `rules.rs`: a temporal correlation without a condition fired on any one
//! of its rules, and `value_percentile` ignored its threshold.

use shouwang_detect::{CorrelationConfig, JsonEvent, Rules};

const RULES: &str = "
title: Login failed
id: fail
name: login_failed
logsource: {product: test}
detection: {sel: {EventType: login_failed}, condition: sel}
---
title: Login ok
id: ok
name: login_ok
logsource: {product: test}
detection: {sel: {EventType: login_ok}, condition: sel}
---
title: Transfer
id: xfer
logsource: {product: test}
detection: {sel: {EventType: transfer}, condition: sel}
---
title: Brute force
id: c-count
correlation: {type: event_count, rules: [login_failed], group-by: [User], timespan: 60s, condition: {gte: 3}}
---
title: Password spray
id: c-values
correlation: {type: value_count, rules: [login_failed], group-by: [SourceIp], timespan: 5m, condition: {field: User, gte: 3}}
---
title: Failed then succeeded, any order
id: c-temporal
correlation: {type: temporal, rules: [login_failed, login_ok], group-by: [User], timespan: 1m}
---
title: Failed then succeeded, in order
id: c-ordered
correlation: {type: temporal_ordered, rules: [login_failed, login_ok], group-by: [User], timespan: 1m}
---
title: Exfiltration volume
id: c-sum
correlation: {type: value_sum, rules: [xfer], group-by: [Host], timespan: 1m, condition: {field: Bytes, gt: 1000}}
---
title: Large average transfer
id: c-avg
correlation: {type: value_avg, rules: [xfer], group-by: [Host], timespan: 1m, condition: {field: Bytes, gte: 500}}
---
title: Large transfers at the 90th percentile
id: c-pct
correlation: {type: value_percentile, rules: [xfer], group-by: [Host], timespan: 1m, condition: {field: Bytes, percentile: 90, gte: 700}}
";

#[test]
fn every_correlation_type_fires_where_computed_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("r.yml"), RULES).unwrap();
    let (mut rules, report) = Rules::load(&[dir.path().to_path_buf()], Vec::new(), CorrelationConfig::default()).unwrap();
    assert!(report.problems.is_empty(), "{:#?}", report.problems);
    assert_eq!((report.rules, report.correlations), (3, 7));
    let fail = |user: &str, ip: &str| serde_json::json!({"EventType": "login_failed", "User": user, "SourceIp": ip});
    let ok = |user: &str| serde_json::json!({"EventType": "login_ok", "User": user});
    let xfer = |host: &str, bytes: u64| serde_json::json!({"EventType": "transfer", "Host": host, "Bytes": bytes});
    // (seconds, event); groups are independent, so their events interleave.
    let events = [
        (0, fail("alice", "198.51.100.1")),   // 0
        (10, fail("alice", "198.51.100.1")),  // 1
        (20, fail("alice", "198.51.100.1")),  // 2: alice's third failure in 60 s
        (0, fail("bob", "198.51.100.2")),     // 3
        (100, fail("bob", "198.51.100.2")),   // 4
        (200, fail("bob", "198.51.100.2")),   // 5: three, but never within 60 s
        (1000, fail("carol", "203.0.113.9")), // 6
        (1030, fail("dan", "203.0.113.9")),   // 7
        (1060, fail("erin", "203.0.113.9")),  // 8: third distinct user from one address in 5 m
        (2000, ok("frank")),                  // 9
        (2010, fail("frank", "192.0.2.1")),   // 10: both rules within 1 m, wrong order
        (3000, fail("gina", "192.0.2.2")),    // 11
        (3030, ok("gina")),                   // 12: both rules, in order
        (3000, ok("hal")),                    // 13
        (3120, fail("hal", "192.0.2.3")),     // 14: both rules, 2 m apart
        (4000, xfer("h1", 400)),              // 15: sum 400, avg 400
        (4010, xfer("h1", 400)),              // 16: sum 800, avg 400
        (4020, xfer("h1", 300)),              // 17: sum 1100 > 1000; avg 366
        (5000, xfer("h2", 100)),              // 18: avg 100
        (5010, xfer("h2", 900)),              // 19: avg 500 ≥ 500; p90 of [100, 900] = 100 + 0.9 × 800 = 820
        (6000, xfer("h3", 100)),              // 20
        (6001, xfer("h3", 200)),              // 21
        (6002, xfer("h3", 300)),              // 22
        (6003, xfer("h3", 400)),              // 23: p90 of 100..400 = 370; sum 1000, not > 1000
        (6004, xfer("h3", 1000)),             // 24: p90 = 400 + 0.6 × 600 = 760 ≥ 700; sum 2000; avg 400
    ];
    let mut fired: Vec<(&str, usize)> = Vec::new();
    let kinds = [
        ("c-count", "event_count"),
        ("c-values", "value_count"),
        ("c-temporal", "temporal"),
        ("c-ordered", "temporal_ordered"),
        ("c-sum", "value_sum"),
        ("c-avg", "value_avg"),
        ("c-pct", "value_percentile"),
    ];
    for (i, (at, e)) in events.iter().enumerate() {
        for hit in rules.process(&JsonEvent::borrow(e), *at) {
            if let Some((id, kind)) = kinds.iter().find(|(id, _)| *id == hit.rule_id) {
                assert_eq!(hit.kind, *kind);
                fired.push((id, i));
            }
        }
    }
    fired.sort();
    assert_eq!(
        fired,
        [
            ("c-avg", 19),
            ("c-count", 2),
            ("c-ordered", 12),
            ("c-pct", 19),
            ("c-pct", 24),
            ("c-sum", 17),
            ("c-sum", 24),
            ("c-temporal", 10),
            ("c-temporal", 12),
            ("c-values", 8),
        ]
    );
}
