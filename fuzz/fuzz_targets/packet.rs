//! `cargo fuzz run packet`: see `gateway_fuzz::packet`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| gateway_fuzz::packet(data));
