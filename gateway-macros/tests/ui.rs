//! Compile-time checks of the macros: every accepted form, and every mistake with its exact
//! message (`tests/ui/fail/*.stderr`). Regenerate after a deliberate change with
//! `TRYBUILD=overwrite cargo test -p gateway-macros --test ui`, then review the diff.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
