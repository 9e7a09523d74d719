//! Shared harness of the fuzz targets: parse `data` as one source kind into a sink that checks invariants.

use cspguard_domain::Envelope;
use cspguard_ingest::{ImportOptions, Reject, Sink, SourceKind, Stopped};

struct Check {
    events: usize,
}

impl Sink for Check {
    fn accept(&mut self, e: Envelope) -> Result<(), Stopped> {
        // Every stored event must serialise (the store writes it as JSON) and read back equal.
        let json = serde_json_roundtrip(&e);
        assert!(json, "event does not round-trip: {e:?}");
        self.events += 1;
        Ok(())
    }
    fn reject(&mut self, r: Reject) -> Result<(), Stopped> {
        assert!(r.line >= 1, "reject without a line: {r:?}");
        assert!(!r.reason.is_empty());
        Ok(())
    }
}

fn serde_json_roundtrip(e: &Envelope) -> bool {
    let Ok(text) = serde_json::to_string(&e.event) else { return false };
    serde_json::from_str::<cspguard_domain::Event>(&text).is_ok_and(|back| back == e.event)
}

pub fn run(kind: SourceKind, data: &[u8]) {
    let opts = ImportOptions {
        origin: "fuzz".into(),
        customer: cspguard_domain::TenantId::parse("3f2a9c1e-7b4d-4e8a-9f10-2c6b8d4e1a01").ok(),
        observed_at: chrono::DateTime::from_timestamp(1_790_000_000, 0).unwrap_or_default(),
    };
    let mut sink = Check { events: 0 };
    let _ = cspguard_ingest::parse(kind, data, &opts, &mut sink);
}

/// The chunked, multi-threaded usage parser against the one-pass parser on the same bytes: the same events, the same
/// rejects (line, column, field, reason), in the same order, whatever the chunk size (taken from the first byte).
pub fn usage_chunked_equals_one_pass(data: &[u8]) {
    use cspguard_ingest::{parse_usage_parallel, ChunkSink};
    let Some((&first, data)) = data.split_first() else { return };
    let chunk = 1 + usize::from(first % 64);
    let opts = ImportOptions {
        origin: "fuzz".into(),
        customer: None,
        observed_at: chrono::DateTime::from_timestamp(1_790_000_000, 0).unwrap_or_default(),
    };
    #[derive(Default)]
    struct All {
        events: Vec<Envelope>,
        rejects: Vec<(u64, Option<u64>, Option<String>, String)>,
    }
    impl Sink for All {
        fn accept(&mut self, e: Envelope) -> Result<(), Stopped> {
            self.events.push(e);
            Ok(())
        }
        fn reject(&mut self, r: Reject) -> Result<(), Stopped> {
            self.rejects.push((r.line, r.column, r.field, r.reason));
            Ok(())
        }
    }
    impl ChunkSink<Vec<Envelope>> for All {
        fn chunk(&mut self, events: Vec<Envelope>) -> Result<(), Stopped> {
            self.events.extend(events);
            Ok(())
        }
        fn reject(&mut self, r: Reject) -> Result<(), Stopped> {
            Sink::reject(self, r)
        }
    }
    let mut one = All::default();
    let a = cspguard_ingest::parse(SourceKind::Usage, data, &opts, &mut one);
    let mut many = All::default();
    let b = parse_usage_parallel(data, &opts, 2, chunk, &Vec::new, &mut many);
    assert_eq!(a.is_ok(), b.is_ok(), "one pass {a:?}, chunked {b:?}");
    assert_eq!(one.events, many.events);
    assert_eq!(one.rejects, many.rejects);
}
