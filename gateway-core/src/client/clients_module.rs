//! [`ClientsModule`]: client proxies as providers.

use std::borrow::Cow;
use std::sync::Arc;

use super::{ClientOptions, ClientProxy};
use crate::di::{Exportable, Factory, Import, Injectable, ModuleBuilder, Provider, Resolver};

/// A module a client's factory needs, imported with the client.
type DeferredImport = Box<dyn FnOnce(&mut ModuleBuilder<'_>)>;

/// Nest's `ClientsModule`: registers one [`ClientProxy`] per [`ClientOptions`], under its
/// name, to be injected with `#[inject("USERS_SERVICE")] users: ClientProxy`.
pub struct ClientsModule {
    providers: Vec<Provider>,
    imports: Vec<DeferredImport>,
    global: bool,
}

impl ClientsModule {
    /// `ClientsModule.register([{ name: 'USERS_SERVICE', transport: Transport.TCP, .. }])`.
    pub fn register(clients: impl IntoIterator<Item = ClientOptions>) -> Self {
        ClientsModule {
            providers: clients
                .into_iter()
                .map(|options| {
                    let name = options.name().to_owned();
                    Provider::value(name, ClientProxy::new(options))
                })
                .collect(),
            imports: Vec::new(),
            global: false,
        }
    }

    /// `ClientsModule.registerAsync([..])`: clients whose options are made at boot, from
    /// other providers (settings, secrets), by a factory or a class. See [`ClientAsync`].
    pub fn register_async(clients: impl IntoIterator<Item = ClientAsync>) -> Self {
        let mut module = ClientsModule {
            providers: Vec::new(),
            imports: Vec::new(),
            global: false,
        };
        for client in clients {
            module.providers.push(client.provider);
            module.imports.extend(client.imports);
        }
        module
    }

    /// `ClientsModule.register([{ name: 'HERO_PACKAGE', transport: Transport.GRPC, options }])`:
    /// one [`ClientGrpc`](crate::grpc::ClientGrpc) per entry, under its name, to be injected
    /// with `#[inject("HERO_PACKAGE")] client: ClientGrpc`.
    #[cfg(feature = "grpc")]
    pub fn register_grpc<N: Into<Cow<'static, str>>>(
        clients: impl IntoIterator<Item = (N, crate::grpc::GrpcClientOptions)>,
    ) -> Self {
        let module = ClientsModule {
            providers: Vec::new(),
            imports: Vec::new(),
            global: false,
        };
        clients
            .into_iter()
            .fold(module, |module, (name, options)| module.grpc(name, options))
    }

    /// One more [`ClientGrpc`](crate::grpc::ClientGrpc), beside the module's other clients.
    #[cfg(feature = "grpc")]
    pub fn grpc(
        mut self,
        name: impl Into<Cow<'static, str>>,
        options: crate::grpc::GrpcClientOptions,
    ) -> Self {
        let name: Cow<'static, str> = name.into();
        let client = crate::grpc::ClientGrpc::new(Arc::<str>::from(&*name), options);
        self.providers.push(Provider::value(name, client));
        self
    }

    /// `isGlobal: true`: the clients are visible to every module, not only to the importing
    /// one.
    pub fn is_global(mut self) -> Self {
        self.global = true;
        self
    }
}

impl Import for ClientsModule {
    /// A module of its own, named `ClientsModule`, that exports every client it registers (the
    /// factories' `imports` are its imports: their providers are visible to the factories, not
    /// to the importing module).
    fn import(self, into: &mut ModuleBuilder<'_>) {
        let global = self.global;
        into.import_dynamic("ClientsModule", move |module| {
            for import in self.imports {
                import(module);
            }
            for provider in self.providers {
                module.provide(provider);
            }
            module.export_all();
            if global {
                module.global();
            }
        });
    }
}

impl Exportable for ClientsModule {
    /// `exports: [ClientsModule]`: the importing module's `ClientsModule`s, re-exported.
    fn export(module: &mut ModuleBuilder<'_>) {
        module.export_dynamic("ClientsModule");
    }
}

/// One entry of [`ClientsModule::register_async`]: the client's name (its token) and how its
/// [`ClientOptions`] are made. The name given here is the client's, whatever name the options
/// carry.
///
/// ```
/// # use gateway_core::prelude::*;
/// # use gateway_core::client::{ClientAsync, ClientsModule, ClientOptions, ClientsModuleOptionsFactory};
/// # use gateway_core::di::Provider;
/// # use std::sync::Arc;
/// #[derive(Clone)]
/// struct Settings { users_addr: String }
///
/// #[injectable]
/// struct UsersClientOptions { settings: Settings }
///
/// impl ClientsModuleOptionsFactory for UsersClientOptions {
///     fn create_client_options(&self) -> ClientOptions {
///         ClientOptions::tcp("", &self.settings.users_addr)
///     }
/// }
///
/// let clients = ClientsModule::register_async([
///     // { name: 'USERS_SERVICE', useFactory: (s: Settings) => ({ .. }), inject: [Settings] }
///     ClientAsync::use_factory("USERS_SERVICE", |settings: Settings| {
///         ClientOptions::tcp("", settings.users_addr)
///     }),
///     // { name: 'ORDERS_SERVICE', useClass: UsersClientOptions }
///     ClientAsync::use_class::<UsersClientOptions>("ORDERS_SERVICE"),
/// ]);
/// ```
pub struct ClientAsync {
    provider: Provider,
    imports: Vec<DeferredImport>,
}

impl ClientAsync {
    /// `{ name, useFactory, inject }`: `factory`'s arguments are providers resolved by type
    /// (Nest's `inject` list), its result the client's options. It runs once, at boot.
    pub fn use_factory<Args, F>(name: impl Into<Cow<'static, str>>, factory: F) -> Self
    where
        F: Factory<Args, Output = ClientOptions>,
    {
        let name: Cow<'static, str> = name.into();
        let owner: Cow<'static, str> = format!("the client options factory of {name}").into();
        let client: Arc<str> = Arc::from(&*name);
        ClientAsync {
            provider: Provider::built(name, move |r: &mut Resolver<'_>| {
                let options = factory.call(r, &owner)?;
                Ok(ClientProxy::new(options.named(client.clone())))
            }),
            imports: Vec::new(),
        }
    }

    /// `{ name, useClass }`: the container builds a `C` with its dependencies (a fresh one,
    /// not a shared provider, as Nest does) and asks it for the options.
    pub fn use_class<C>(name: impl Into<Cow<'static, str>>) -> Self
    where
        C: ClientsModuleOptionsFactory + Injectable,
    {
        let name: Cow<'static, str> = name.into();
        let client: Arc<str> = Arc::from(&*name);
        ClientAsync {
            provider: Provider::built(name, move |r: &mut Resolver<'_>| {
                let options = r.build::<C>()?.create_client_options();
                Ok(ClientProxy::new(options.named(client.clone())))
            }),
            imports: Vec::new(),
        }
    }

    /// `imports: [ConfigModule]`: a module the factory's providers come from.
    pub fn imports(mut self, import: impl Import + 'static) -> Self {
        self.imports
            .push(Box::new(move |into: &mut ModuleBuilder<'_>| {
                into.import(import)
            }));
        self
    }
}

/// Nest's `ClientsModuleOptionsFactory`: a class that makes a client's options, for
/// [`ClientAsync::use_class`].
pub trait ClientsModuleOptionsFactory: Send + Sync + 'static {
    /// The client's options (their name is replaced by the registered one).
    fn create_client_options(&self) -> ClientOptions;
}
