//! `cargo fuzz run body`: see `gateway_fuzz::body`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| gateway_fuzz::body(data));
