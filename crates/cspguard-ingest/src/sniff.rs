//! Recognises a source's kind from its first bytes, for `import auto`.

use crate::fields::Obj;
use crate::json_records::JsonRecords;
use crate::json_source::JsonShape;
use crate::{activity_log, billing, fraud_events, partner_center, signins, SourceKind};

/// The kind of a source from its head (the first up to a megabyte is plenty: one record), or `None` when it is none
/// of the known shapes.
pub fn sniff(head: &[u8]) -> Option<SourceKind> {
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let first_non_ws = head.iter().find(|b| !b.is_ascii_whitespace())?;
    if *first_non_ws != b'{' && *first_non_ws != b'[' {
        let line_end = head.iter().position(|b| *b == b'\n').unwrap_or(head.len());
        let header = String::from_utf8_lossy(&head[..line_end]).to_ascii_lowercase();
        let cols: Vec<&str> = header
            .split(',')
            .map(|c| c.trim().trim_matches('"'))
            .collect();
        let has = |c: &str| cols.contains(&c);
        return (has("customerid") && has("metercategory") && has("usagedate"))
            .then_some(SourceKind::Usage);
    }
    let rec = JsonRecords::new(head)
        .filter_map(Result::ok)
        .find(|r| r.framing_error.is_none())?;
    let obj = Obj::from_value(serde_json::from_slice(&rec.bytes).ok()?)?;
    let shapes: [&dyn JsonShape; 6] = [
        &billing::Billing,
        &fraud_events::FraudEvents,
        &signins::SignIns,
        &activity_log::ActivityLog,
        &partner_center::Customers,
        &partner_center::Subscriptions,
    ];
    shapes
        .into_iter()
        .find(|s| s.looks_like(&obj))
        .map(|s| s.kind())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::example;

    #[test]
    fn every_example_is_recognised() {
        for (file, kind) in [
            ("usage_small.csv", SourceKind::Usage),
            ("fraud_events.json", SourceKind::FraudEvents),
            ("signins.json", SourceKind::SignIns),
            ("activity_log_rest.json", SourceKind::ActivityLog),
            ("activity_log_records.json", SourceKind::ActivityLog),
            ("billing.jsonl", SourceKind::Billing),
            ("customers.json", SourceKind::Customers),
            ("subscriptions.json", SourceKind::Subscriptions),
        ] {
            assert_eq!(sniff(example(file).as_bytes()), Some(kind), "{file}");
        }
        assert_eq!(sniff(b"not a usage file\n"), None);
        assert_eq!(sniff(b""), None);
    }
}
