use gateway_core::pattern;

fn main() {
    let _ = pattern!();
}
