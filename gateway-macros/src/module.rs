//! `#[module(imports = [..], controllers = [..], providers = [..], exports = [..])]`, and
//! `#[global]` beside it.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{bracketed, Attribute, Expr, Ident, ItemStruct, Token, Type};

struct Lists {
    imports: Vec<Expr>,
    controllers: Vec<Type>,
    providers: Vec<Expr>,
    exports: Vec<Expr>,
}

fn list<T: Parse>(input: ParseStream) -> syn::Result<Vec<T>> {
    let content;
    bracketed!(content in input);
    Ok(Punctuated::<T, Token![,]>::parse_terminated(&content)?
        .into_iter()
        .collect())
}

impl Parse for Lists {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut lists = Lists {
            imports: Vec::new(),
            controllers: Vec::new(),
            providers: Vec::new(),
            exports: Vec::new(),
        };
        while !input.is_empty() {
            let key: Ident = input.parse()?;
            input.parse::<Token![=]>()?;
            match key.to_string().as_str() {
                "imports" => lists.imports = list(input)?,
                "controllers" => lists.controllers = list(input)?,
                "providers" => lists.providers = list(input)?,
                "exports" => lists.exports = list(input)?,
                other => {
                    return Err(syn::Error::new(key.span(), format!(
                        "`{other}` is not a module list: use `imports = [..]`, `controllers = [..]`, `providers = [..]` or `exports = [..]` (and `#[global]` on the struct for Nest's `@Global()`)"
                    )))
                }
            }
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        Ok(lists)
    }
}

pub fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    let lists = match Lists::parse.parse2(attr) {
        Ok(lists) => lists,
        Err(error) => {
            let error = error.to_compile_error();
            return quote!(#error #item);
        }
    };
    let mut strukt: ItemStruct = match syn::parse2(item.clone()) {
        Ok(s) => s,
        Err(_) => {
            let error = syn::Error::new(
                Span::call_site(),
                "`#[module(..)]` goes on a unit struct: `#[module(..)] pub struct AppModule;`",
            )
            .to_compile_error();
            return quote!(#error #item);
        }
    };
    // `#[global]` beside `#[module]`: Nest's `@Global()`, read here and removed.
    let before = strukt.attrs.len();
    strukt.attrs.retain(|a| !is_global(a));
    let global = (strukt.attrs.len() != before).then(|| quote!(__module.global();));
    let name = &strukt.ident;
    let name_str = name.to_string();
    let imports = lists.imports.iter().map(|e| quote!(__module.import(#e);));
    let controllers = lists
        .controllers
        .iter()
        .map(|t| quote!(__module.controller::<#t>();));
    let controller_names = lists
        .controllers
        .iter()
        .map(|t| quote!(::core::any::type_name::<#t> as fn() -> &'static str));
    // A bare type path is a class provider; any other expression is a `Provider` value.
    let providers = lists.providers.iter().map(|e| match e {
        Expr::Path(p) if p.qself.is_none() && p.attrs.is_empty() => {
            let ty = &p.path;
            quote!(__module.provider::<#ty>();)
        }
        other => quote!(__module.provide(#other);),
    });
    // A bare path is a class provider or a module (`Exportable`, checked at its token); a
    // string literal or any other expression is a token.
    let exports = lists.exports.iter().map(|e| match e {
        Expr::Path(p) if p.qself.is_none() && p.attrs.is_empty() => {
            let ty = &p.path;
            quote_spanned!(ty.span()=> __module.export::<#ty>();)
        }
        other => quote_spanned!(other.span()=> __module.export_token(#other);),
    });
    quote! {
        #strukt

        ::gateway_core::__private::inventory::submit! {
            ::gateway_core::http::RegisteredModule {
                name: #name_str,
                controllers: &[#(#controller_names),*],
            }
        }

        impl ::gateway_core::di::Module for #name {
            const NAME: &'static str = #name_str;

            fn configure(__module: &mut ::gateway_core::di::ModuleBuilder<'_>) {
                #(#imports)*
                #(#providers)*
                #(#controllers)*
                #(#exports)*
                #global
            }
        }

        impl ::gateway_core::di::Exportable for #name {
            fn export(__module: &mut ::gateway_core::di::ModuleBuilder<'_>) {
                __module.export_module::<Self>();
            }
        }
    }
}

/// `#[global]` or `#[gateway_core::global]`.
fn is_global(attr: &Attribute) -> bool {
    attr.path()
        .segments
        .last()
        .is_some_and(|s| s.ident == "global")
}

/// `#[global]` written above `#[module(..)]`: moved below it, where `#[module]` reads it.
pub fn expand_global(attr: TokenStream, item: TokenStream) -> TokenStream {
    if !attr.is_empty() {
        let error =
            syn::Error::new_spanned(attr, "`#[global]` takes no arguments").to_compile_error();
        return quote!(#error #item);
    }
    let strukt: ItemStruct = match syn::parse2::<ItemStruct>(item.clone()) {
        Ok(s) if s.attrs.iter().any(is_module) => s,
        _ => {
            let error = syn::Error::new(
                Span::call_site(),
                "`#[global]` goes on a module, beside `#[module(..)]`: `#[global] #[module(providers = [..], exports = [..])] pub struct ConfigModule;`",
            )
            .to_compile_error();
            return quote!(#error #item);
        }
    };
    let ItemStruct { attrs, .. } = &strukt;
    let rest = ItemStruct {
        attrs: Vec::new(),
        ..strukt.clone()
    };
    quote!(#(#attrs)* #[::gateway_core::global] #rest)
}

/// `#[module(..)]` or `#[gateway_core::module(..)]`.
fn is_module(attr: &Attribute) -> bool {
    attr.path()
        .segments
        .last()
        .is_some_and(|s| s.ident == "module")
}
