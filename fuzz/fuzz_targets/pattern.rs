//! `cargo fuzz run pattern`: see `gateway_fuzz::pattern`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    gateway_fuzz::pattern(data);
});
