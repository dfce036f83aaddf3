//! `#[controller]`: an impl block of route methods and message handlers becomes axum routes
//! and message router entries.
//!
//! Rocket's split: [`parse`] turns the attribute and the block into a plain
//! [`model`](model::Controller) (stripping the attributes it reads), [`check`] looks at what
//! one method cannot show (paths against arguments, colliding routes), [`expand`] generates
//! code from the model alone. Every mistake is collected before anything is generated; then
//! the user's block is emitted with a stub `impl Controller`, so one mistake is one error.

mod api;
mod check;
mod edge;
mod expand;
mod model;
mod parse;
mod path;

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::ItemImpl;

use crate::diag::Diagnostics;

pub use parse::misplaced;

pub fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut block: ItemImpl = match syn::parse2(item.clone()) {
        Ok(block) => block,
        Err(_) => {
            let error = syn::Error::new(Span::call_site(), "`#[controller]` goes on an impl block: `#[controller] impl UsersController { .. }`").to_compile_error();
            return quote!(#error #item);
        }
    };
    let mut diags = Diagnostics::default();
    let prefix = parse::prefix(attr, &mut diags);
    let controller = parse::controller(prefix, &mut block, &mut diags);
    check::controller(&controller, &mut diags);
    if let Some(error) = diags.into_error() {
        // The (stripped) block and a stub keep the rest of the crate type-checking.
        let error = error.to_compile_error();
        let stub = expand::stub(&controller.self_ty, &controller.generics, &controller.name);
        return quote!(#error #block #stub);
    }
    let generated = expand::controller(&controller);
    quote!(#block #generated)
}
