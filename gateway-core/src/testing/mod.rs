//! Nest's `@nestjs/testing`: a module tree booted for a test, with providers, guards,
//! interceptors, filters and modules swapped for test doubles, and an app whose requests run
//! in process (no socket).
//!
//! ```
//! # use gateway_core::prelude::*;
//! # use gateway_core::testing::Test;
//! # use std::sync::Arc;
//! # #[derive(Clone)] struct Greeting(&'static str);
//! # #[injectable] struct GreetController { greeting: Greeting }
//! # #[controller] impl GreetController {
//! #     #[get("greet/:name")] async fn greet(&self, #[param] name: String) -> String { format!("{}, {name}", self.greeting.0) }
//! # }
//! # #[module(controllers = [GreetController], providers = [Provider::typed(Greeting("Hello"))])]
//! # struct AppModule;
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! // const module = await Test.createTestingModule({ imports: [AppModule] })
//! //   .overrideProvider(Greeting).useValue(new Greeting('Hi')).compile();
//! let module = Test::create_testing_module::<AppModule>()
//!     .override_provider_type::<Greeting>()
//!     .use_value(Greeting("Hi"))
//!     .compile()
//!     .await
//!     .unwrap();
//! // const app = module.createNestApplication(); await app.init();
//! let app = module.create_nest_application().into_test();
//! // await request(app.getHttpServer()).get('/greet/Ada').expect(200, 'Hi, Ada');
//! let res = app.get("/greet/Ada").send().await;
//! assert_eq!((res.status(), res.text()), (200, "Hi, Ada"));
//! # }
//! ```
//!
//! Fake downstream services: [`ClientProxy::in_process`](crate::client::ClientProxy::in_process)
//! (a real [`MessageRouter`] behind a client, no socket) and
//! [`ClientProxy::mock`](crate::client::ClientProxy::mock) (expectations and a record of what
//! was sent).

mod request;

use std::any::TypeId;
use std::borrow::Cow;
use std::marker::PhantomData;
use std::sync::Arc;

pub use request::{TestApp, TestRequest, TestResponse};

use crate::app::boot::{boot_with, Kind, Overrides, Root};
use crate::app::{BootError, NestApplication, NestMicroservice};
use crate::di::{
    Container, DiError, Factory, Injectable, Module, ModuleBuilder, ModuleReplacement, Provider,
};
use crate::server::{MessageRouter, Transport};

/// Nest's `Test`: where a testing module starts.
pub struct Test;

impl Test {
    /// `Test.createTestingModule({ imports: [M] })`: the module tree of `M`, to override parts
    /// of before [`compile`](TestingModuleBuilder::compile).
    pub fn create_testing_module<M: Module>() -> TestingModuleBuilder {
        TestingModuleBuilder::new(Root::of::<M>())
    }

    /// `Test.createTestingModule({ controllers: [..], providers: [..], imports: [..] })`
    /// without a module of the app's: `configure` lists them as a `#[module]` would
    /// (`module.controller::<C>()`, `module.provider::<P>()`, `module.provide(..)`,
    /// `module.import(..)`).
    pub fn create_testing_module_with(
        configure: impl FnOnce(&mut ModuleBuilder<'_>) + Send + 'static,
    ) -> TestingModuleBuilder {
        TestingModuleBuilder::new(Root {
            name: "the testing module",
            id: None,
            configure: Box::new(configure),
        })
    }
}

/// A testing module being set up: Nest's `TestingModuleBuilder`.
pub struct TestingModuleBuilder {
    overrides: Overrides,
    root: Root,
}

impl TestingModuleBuilder {
    fn new(root: Root) -> Self {
        TestingModuleBuilder {
            overrides: Overrides {
                testing: true,
                ..Overrides::default()
            },
            root,
        }
    }

    /// `.overrideProvider('TOKEN')`: what is injected under a string token (a client, a
    /// value, a factory's product), followed by `.use_value(..)`, `.use_factory(..)` or
    /// `.use_class::<C>()`.
    pub fn override_provider(self, token: impl Into<Cow<'static, str>>) -> OverrideToken {
        OverrideToken {
            builder: self,
            token: token.into(),
        }
    }

    /// `.overrideProvider(UsersService)`: what is injected by type (`Arc<UsersService>` for a
    /// class provider, `T` for a typed value), followed by `.use_value(..)` or
    /// `.use_factory(..)`.
    pub fn override_provider_type<T: Clone + Send + Sync + 'static>(self) -> OverrideType<T> {
        OverrideType {
            builder: self,
            ty: PhantomData,
        }
    }

    /// `.overrideGuard(AuthGuard).useValue(guard)`: the guard `#[guard(G)]` resolves.
    pub fn override_guard<G: Send + Sync + 'static>(self, guard: G) -> Self {
        self.with_provider(Provider::typed(Arc::new(guard)))
    }

    /// `.overrideInterceptor(I).useValue(interceptor)`: the interceptor `#[use_interceptors(I)]`
    /// resolves.
    pub fn override_interceptor<I: Send + Sync + 'static>(self, interceptor: I) -> Self {
        self.with_provider(Provider::typed(Arc::new(interceptor)))
    }

    /// `.overrideFilter(F).useValue(filter)`: the filter `#[use_filters(F)]` resolves.
    pub fn override_filter<F: Send + Sync + 'static>(self, filter: F) -> Self {
        self.with_provider(Provider::typed(Arc::new(filter)))
    }

    /// `.overrideModule(Original).useModule(Replacement)`: wherever `Original` is imported,
    /// `Replacement`'s controllers and providers are registered instead.
    pub fn override_module<Original: Module, Replacement: Module>(mut self) -> Self {
        self.overrides.modules.push((
            TypeId::of::<Original>(),
            ModuleReplacement {
                name: Replacement::NAME,
                configure: Replacement::configure,
            },
        ));
        self
    }

    fn with_provider(mut self, provider: Provider) -> Self {
        self.overrides.providers.push(provider);
        self
    }

    /// `.compile()`: boots the tree (every controller and what it needs is built, so a
    /// missing provider fails here, as in Nest) and runs the boot hooks (`on_module_init`,
    /// `on_application_bootstrap`: Nest runs them at `app.init()`).
    pub async fn compile(self) -> Result<TestingModule, BootError> {
        let (router, messages, container) =
            boot_with(Kind::Http, self.overrides, self.root).await?;
        crate::app::run_boot_hooks(&container).await?;
        Ok(TestingModule {
            router,
            messages,
            container,
        })
    }

    /// Compiles the tree as a microservice (its message handlers only): Nest's
    /// `module.createNestMicroservice(options)` after `compile()`.
    pub async fn compile_microservice(
        self,
        transport: Transport,
    ) -> Result<NestMicroservice, BootError> {
        let (_, messages, container) =
            boot_with(Kind::Microservice, self.overrides, self.root).await?;
        crate::app::run_boot_hooks(&container).await?;
        Ok(NestMicroservice::new(messages, transport, container))
    }
}

/// `.overrideProvider('TOKEN')`, waiting for what to use instead.
pub struct OverrideToken {
    builder: TestingModuleBuilder,
    token: Cow<'static, str>,
}

impl OverrideToken {
    /// `.useValue(value)`.
    pub fn use_value<T: Clone + Send + Sync + 'static>(self, value: T) -> TestingModuleBuilder {
        self.builder
            .with_provider(Provider::value(self.token, value))
    }

    /// `.useFactory({ factory, inject })`: the factory's arguments are providers, by type.
    pub fn use_factory<Args, F: Factory<Args>>(self, factory: F) -> TestingModuleBuilder {
        self.builder
            .with_provider(Provider::factory(self.token, factory))
    }

    /// `.useClass(C)`: the container builds a `C` (with its dependencies); it is injected as
    /// `Arc<C>`.
    pub fn use_class<C: Injectable + Send + Sync>(self) -> TestingModuleBuilder {
        let token = self.token.clone();
        self.builder.with_provider(Provider::built(token, |r| {
            Ok::<_, DiError>(Arc::new(r.build::<C>()?))
        }))
    }
}

/// `.overrideProvider(Type)`, waiting for what to use instead.
pub struct OverrideType<T> {
    builder: TestingModuleBuilder,
    ty: PhantomData<fn() -> T>,
}

impl<T: Clone + Send + Sync + 'static> OverrideType<T> {
    /// `.useValue(value)`.
    pub fn use_value(self, value: T) -> TestingModuleBuilder {
        self.builder.with_provider(Provider::typed(value))
    }

    /// `.useFactory({ factory, inject })`: the factory's arguments are providers, by type.
    pub fn use_factory<Args, F: Factory<Args, Output = T>>(
        self,
        factory: F,
    ) -> TestingModuleBuilder {
        self.builder.with_provider(Provider::typed_factory(factory))
    }
}

/// A compiled testing module: Nest's `TestingModule`.
pub struct TestingModule {
    router: crate::http::Routes,
    messages: MessageRouter,
    container: Container,
}

impl std::fmt::Debug for TestingModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestingModule")
            .field("container", &self.container)
            .finish_non_exhaustive()
    }
}

impl TestingModule {
    /// `module.get(UsersService)`: a provider by type (`Arc<UsersService>` for a class).
    pub fn get<T: Clone + Send + Sync + 'static>(&self) -> Result<T, DiError> {
        self.container.get()
    }

    /// `module.get('USERS_SERVICE')`: a provider by token.
    pub fn get_token<T: Clone + Send + Sync + 'static>(&self, token: &str) -> Result<T, DiError> {
        self.container.get_token(token)
    }

    /// The module's container.
    pub fn container(&self) -> &Container {
        &self.container
    }

    /// The module's message and event handlers, to serve to a client in process
    /// ([`ClientProxy::in_process`](crate::client::ClientProxy::in_process)) or on a
    /// transport: a microservice of the test's own.
    pub fn message_router(&self) -> MessageRouter {
        self.messages.clone()
    }

    /// `module.createNestApplication()`: the app, to configure as in `main` (global guards,
    /// pipes...) and then run requests against in process with
    /// [`into_test`](NestApplication::into_test), or serve on a port.
    pub fn create_nest_application(self) -> NestApplication {
        NestApplication::new(self.router, self.messages, self.container)
    }
}
