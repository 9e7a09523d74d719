//! Fuzzes kind recognition for `import auto`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = cspguard_ingest::sniff(data);
});
