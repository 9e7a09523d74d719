//! Fuzzes the signins importer: any bytes must give events and rejects, or a clean error; never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    cspguard_fuzz::run(cspguard_ingest::SourceKind::SignIns, data);
});
