//! Every committed corpus input (fuzz/corpus/<target>), and every crash input kept as a
//! regression (fuzz/regressions/<target>), through its target's checks: what libFuzzer found
//! keeps holding on stable Rust, in `cargo test`, without cargo-fuzz.

use std::path::Path;

fn replay(target: &str, check: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut count = 0;
    for dir in ["corpus", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let input = std::fs::read(&path).unwrap();
            let outcome = std::panic::catch_unwind(|| check(&input));
            assert!(outcome.is_ok(), "{target}: {} fails", path.display());
            count += 1;
        }
    }
    assert!(count > 0, "no corpus for {target}");
    eprintln!("{target}: {count} inputs hold");
}

#[test]
fn frames() {
    replay("frames", gateway_fuzz::frames);
}

#[test]
fn packet() {
    replay("packet", gateway_fuzz::packet);
}

#[test]
fn pattern() {
    replay("pattern", |data| {
        gateway_fuzz::pattern(data);
    });
}

#[test]
fn path() {
    replay("path", gateway_fuzz::path);
}

#[test]
fn body() {
    replay("body", gateway_fuzz::body);
}
