//! `cargo fuzz run frames`: see `gateway_fuzz::frames`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| gateway_fuzz::frames(data));
