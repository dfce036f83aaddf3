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
                let mut optional = None;
                field.attrs.retain(|attr| {
                    if attr.path().is_ident("optional") {
                        if !matches!(attr.meta, syn::Meta::Path(_)) {
                            diags.error_at(attr, "`#[optional]` takes no arguments: `#[optional] cache: Option<Arc<Cache>>`");
                        }
                        optional = Some(attr.path().span());
                        return false;
                    }
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
                let inner = optional.map(|span| (span, option_inner(ty)));
                let resolve = match (token, client) {
                    (token, None) if inner.is_some() => match inner {
                        Some((_, Some(inner))) => match token {
                            Some(token) => quote_spanned!(at=> __resolver.optional_named::<#inner>(#token, #owner, #field_name)?),
                            None => quote_spanned!(at=> __resolver.optional_typed::<#inner>(#owner, #field_name)?),
                        },
                        Some((span, None)) => {
                            diags.error(span, "an `#[optional]` field is an `Option<T>`: it is `None` when nothing provides `T`");
                            quote!(unreachable!())
                        }
                        None => unreachable!("checked above"),
                    },
                    (_, Some((span, _))) if optional.is_some() => {
                        diags.error(span, "a `#[client]` field makes its own client: it is never missing, so it is not `#[optional]`");
                        quote!(unreachable!())
                    }
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

        impl #impl_generics ::gateway_core::di::Exportable for #name #ty_generics #where_clause {
            fn export(__module: &mut ::gateway_core::di::ModuleBuilder<'_>) {
                __module.export_token(::gateway_core::di::Token::of::<::std::sync::Arc<Self>>());
            }
        }
    }
}

/// `T` of a field type written `Option<T>` (or `std::option::Option<T>`).
fn option_inner(ty: &syn::Type) -> Option<&syn::Type> {
    let syn::Type::Path(path) = ty else {
        return None;
    };
    let last = path.path.segments.last()?;
    if last.ident != "Option" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.first()? {
        syn::GenericArgument::Type(inner) if args.args.len() == 1 => Some(inner),
        _ => None,
    }
}
