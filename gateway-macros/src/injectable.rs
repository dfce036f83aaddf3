//! `#[injectable]`: a struct whose fields the container fills.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::{Fields, ItemStruct, LitStr};

use crate::diag::Diagnostics;

pub fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut diags = Diagnostics::default();
    if !attr.is_empty() {
        diags.error_at(
            &attr,
            "`#[injectable]` takes no arguments; put `#[inject(\"TOKEN\")]` on fields",
        );
    }
    let mut strukt: ItemStruct = match syn::parse2(item.clone()) {
        Ok(s) => s,
        Err(_) => {
            let error = syn::Error::new(
                Span::call_site(),
                "`#[injectable]` goes on a struct: `#[injectable] struct UsersService { .. }`",
            )
            .to_compile_error();
            return quote!(#error #item);
        }
    };
    let name = strukt.ident.clone();
    let owner = name.to_string();
    let mut fields = Vec::new();
    match &mut strukt.fields {
        Fields::Named(named) => {
            for field in named.named.iter_mut() {
                let ident = field.ident.clone().expect("named fields have names");
                let field_name = ident.to_string();
                let mut token = None;
                let mut client = None;
                field.attrs.retain(|attr| {
                    if attr.path().is_ident("inject") {
                        match attr.parse_args::<LitStr>() {
                            Ok(lit) => token = Some(lit.value()),
                            Err(_) => diags.error_at(attr, "`#[inject]` takes the provider's token: `#[inject(\"USERS_SERVICE\")]`"),
                        }
                        return false;
                    }
                    if attr.path().is_ident("client") {
                        match attr.parse_args::<syn::Expr>() {
                            Ok(options) => client = Some((attr.path().span(), options)),
                            Err(_) => diags.error_at(attr, "`#[client]` takes the client's options: `#[client(ClientOptions::tcp(\"MATH\", \"127.0.0.1:3000\"))]`"),
                        }
                        return false;
                    }
                    true
                });
                let ty = &field.ty;
                // Errors point at the type; names resolve where the macro expands (the type
                // may come from a `macro_rules!` with its own hygiene).
                let at = Span::call_site().located_at(ty.span());
                let resolve = match (token, client) {
                    (Some(_), Some((span, _))) => {
                        diags.error(span, "a field is either injected (`#[inject]`) or its own client (`#[client]`), not both");
                        quote!(unreachable!())
                    }
                    // Nest's `@Client({ .. })`: a proxy of the field's own, made from options.
                    (None, Some((span, options))) => quote_spanned!(Span::call_site().located_at(span)=> ::gateway_core::client::ClientProxy::new(#options)),
                    (Some(token), None) => quote_spanned!(at=> __resolver.named::<#ty>(#token, #owner, #field_name)?),
                    (None, None) => quote_spanned!(at=> __resolver.typed::<#ty>(#owner, #field_name)?),
                };
                fields.push(quote!(#ident: #resolve));
            }
        }
        Fields::Unit => {}
        Fields::Unnamed(unnamed) => diags.error_at(
            unnamed.to_token_stream(),
            "an `#[injectable]` struct has named fields (each one is injected by name or type): `struct UsersService { users: ClientProxy }`",
        ),
    }
    if let Some(error) = diags.into_error() {
        let error = error.to_compile_error();
        return quote!(#error #strukt);
    }
    let body = match strukt.fields {
        Fields::Unit => quote!(Self),
        _ => quote!(Self { #(#fields),* }),
    };
    let (impl_generics, ty_generics, where_clause) = strukt.generics.split_for_impl();
    quote! {
        #strukt

        impl #impl_generics ::gateway_core::di::Injectable for #name #ty_generics #where_clause {
            const NAME: &'static str = #owner;

            #[allow(unused_variables)]
            fn construct(
                __resolver: &mut ::gateway_core::di::Resolver<'_>,
            ) -> ::core::result::Result<Self, ::gateway_core::di::DiError> {
                ::core::result::Result::Ok(#body)
            }

            // The lifecycle hooks the class implements, found on the concrete type.
            fn hooks(
                this: &::std::sync::Arc<Self>,
            ) -> ::gateway_core::lifecycle::Hooks {
                #[allow(unused_imports)]
                use ::gateway_core::lifecycle::probe::{
                    BeforeNo, BeforeYes, BootstrapNo, BootstrapYes, DestroyNo, DestroyYes, InitNo,
                    InitYes, Probe, ShutdownNo, ShutdownYes,
                };
                let mut hooks = ::gateway_core::lifecycle::Hooks::default();
                let probe = Probe(::std::sync::Arc::clone(this));
                (&probe).probe_on_module_init(&mut hooks);
                (&probe).probe_on_application_bootstrap(&mut hooks);
                (&probe).probe_on_module_destroy(&mut hooks);
                (&probe).probe_before_application_shutdown(&mut hooks);
                (&probe).probe_on_application_shutdown(&mut hooks);
                hooks
            }
        }
    }
}
