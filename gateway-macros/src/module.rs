//! `#[module(imports = [..], controllers = [..], providers = [..])]`.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{bracketed, Expr, Ident, ItemStruct, Token, Type};

struct Lists {
    imports: Vec<Expr>,
    controllers: Vec<Type>,
    providers: Vec<Expr>,
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
        };
        while !input.is_empty() {
            let key: Ident = input.parse()?;
            input.parse::<Token![=]>()?;
            match key.to_string().as_str() {
                "imports" => lists.imports = list(input)?,
                "controllers" => lists.controllers = list(input)?,
                "providers" => lists.providers = list(input)?,
                other => {
                    return Err(syn::Error::new(key.span(), format!(
                        "`{other}` is not a module list: use `imports = [..]`, `controllers = [..]` or `providers = [..]`"
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
    let strukt: ItemStruct = match syn::parse2(item.clone()) {
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
            }
        }
    }
}
