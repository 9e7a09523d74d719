//! Differential: the chunked, multi-threaded usage parser must agree with the one-pass parser on any bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    cspguard_fuzz::usage_chunked_equals_one_pass(data);
});
