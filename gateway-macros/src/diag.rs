//! Collecting every mistake, so one compile shows them all (Rocket's habit).

use proc_macro2::Span;

/// Errors gathered while checking a macro's input.
#[derive(Default)]
pub struct Diagnostics(Option<syn::Error>);

impl Diagnostics {
    /// Adds an error (with any notes combined into it).
    pub fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }

    /// Adds an error at `span`.
    pub fn error(&mut self, span: Span, message: impl std::fmt::Display) {
        self.push(syn::Error::new(span, message));
    }

    /// Adds an error covering all of `tokens` (an attribute, a type): on stable Rust a
    /// single span would show only its first token.
    pub fn error_at(&mut self, tokens: impl quote::ToTokens, message: impl std::fmt::Display) {
        self.push(syn::Error::new_spanned(tokens, message));
    }

    /// The errors, if any.
    pub fn into_error(self) -> Option<syn::Error> {
        self.0
    }
}
