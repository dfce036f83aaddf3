use gateway_core::pattern;

fn main() {
    let _ = pattern!({ cmd "get_user" });
}
