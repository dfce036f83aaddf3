//! `cargo fuzz run path`: see `gateway_fuzz::path`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| gateway_fuzz::path(data));
