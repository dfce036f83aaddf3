use gateway_core::pattern;

fn main() {
    let _ = pattern!({ a: { b: { c: { d: { e: { f: { g: 1 } } } } } } });
}
