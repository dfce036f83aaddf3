//! Macros for `gateway-core`, which re-exports them; depend on `gateway-core`, not on this
//! crate.
//!
//! | macro | what it does |
//! | --- | --- |
//! | [`pattern!`] | a message pattern literal, normalized at compile time |

mod pattern;

use proc_macro::TokenStream;

/// A message pattern literal, parsed and normalized at compile time.
///
/// Write patterns as you would in Nest: a string (`pattern!("user_created")`), a number, or a
/// JavaScript-style object (`pattern!({ cmd: "get_user" })`, keys bare or quoted, values
/// strings, numbers, `true`, `false`, `null`, nested objects and arrays). The expansion is a
/// `Pattern` holding two `&'static str`: the JSON as written (what a TCP request carries)
/// and Nest's normalized route (keys sorted as JavaScript's `localeCompare` sorts them; what a
/// TCP event, a NATS subject or a Redis channel carries). No work is left for run time.
///
/// ```
/// use gateway_core::pattern;
/// let p = pattern!({ role: "user", cmd: "get" });
/// assert_eq!(p.route(), r#"{"cmd":"get","role":"user"}"#);
/// assert_eq!(pattern!("user_created").route(), "user_created");
/// ```
///
/// Mistakes are compile errors on the offending token: a value that is not a literal, a
/// duplicate key, a non-ASCII key (Nest's ICU key order is only reproduced for ASCII), or a
/// pattern deeper than 5 levels or wider than 20 keys (Nest would truncate it, so different
/// patterns would collide).
#[proc_macro]
pub fn pattern(input: TokenStream) -> TokenStream {
    pattern::expand(input.into()).into()
}
