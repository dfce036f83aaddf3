use gateway_core::pattern;

fn main() {
    let _ = pattern!({ "clé": "x", cmd: "y" });
}
