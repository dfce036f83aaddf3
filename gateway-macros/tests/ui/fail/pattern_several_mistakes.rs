use gateway_core::pattern;

// Every mistake is reported in one compile, not just the first.
fn main() {
    let _ = pattern!({ cmd: "a", "ünï": 1, cmd: "b" });
}
