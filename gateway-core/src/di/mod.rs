//! Dependency injection: providers by token, resolved once at boot, within Nest's module
//! boundaries.
//!
//! Modules ([`Module`], written with `#[module]`) list providers, controllers, imports and
//! exports. At boot the container ([`Resolver`]) builds every controller and the providers it
//! needs, each provider once per module that lists it (Nest's default singleton scope), by
//! string token (`#[inject("USERS_SERVICE")]`) or by type (a field `users: Arc<UsersService>`).
//!
//! A class sees the providers of its own module, what the modules it imports export
//! (`exports = [..]`, re-exported modules included), and what `#[global]` modules export;
//! nothing else. The same token in two modules is two providers. Dynamic modules
//! (`ClientsModule::register`, `ConfigModule::for_root`) are modules of their own that export
//! what they provide. A missing provider, an export a module does not have, or a cycle fails
//! the boot with a message naming the class, the field, the token and the module.
//! Request time never looks anything up: controllers hold their dependencies as plain
//! fields.
//!
//! The container knows nothing of HTTP, transports or controllers' routes: the app layer
//! registers controllers through it and mounts them (`app`), `ClientsModule` lives with the
//! clients (`client`).
//!
//! Not for: request-scoped providers (see the README's "Request scope").

mod graph;
mod resolver;

use graph::Key;
pub use graph::{Exportable, ModuleBuilder};
pub(crate) use graph::{ModuleId, ModuleReplacement, Registry};
pub use resolver::{Container, Resolver};

use std::any::{type_name, Any, TypeId};
use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;

use futures_util::future::BoxFuture;

/// How a provider is found: by a string token, or by the type of the value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Token {
    /// `#[inject("USERS_SERVICE")]`, `ClientsModule::register`, `Provider::value("TOKEN", ..)`.
    Named(Cow<'static, str>),
    /// A field's type (`Arc<UsersService>`, `AppConfig`), with its name for messages.
    Type(TypeId, &'static str),
}

impl Token {
    /// The token of values of type `T`.
    pub fn of<T: 'static>() -> Token {
        Token::Type(TypeId::of::<T>(), type_name::<T>())
    }
}

impl From<&'static str> for Token {
    fn from(name: &'static str) -> Self {
        Token::Named(Cow::Borrowed(name))
    }
}

impl From<String> for Token {
    fn from(name: String) -> Self {
        Token::Named(Cow::Owned(name))
    }
}

impl From<Cow<'static, str>> for Token {
    fn from(name: Cow<'static, str>) -> Self {
        Token::Named(name)
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Token::Named(name) => f.write_str(name),
            Token::Type(_, name) => f.write_str(name),
        }
    }
}

/// Why the dependency graph could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiError {
    /// Nest's "can't resolve dependencies".
    #[error("can't resolve dependencies of {owner} (field `{field}` needs {token}): please make sure that {token} is available in the {module} context. Potential solution: {hint}")]
    Missing {
        /// The class (or factory) being built.
        owner: Cow<'static, str>,
        /// Its field.
        field: &'static str,
        /// What the field asked for.
        token: String,
        /// The module whose context the class is built in (the one that lists it).
        module: &'static str,
        /// What to change: which module has the token, and whether to import or export it.
        hint: String,
    },
    /// Nest's "cannot export a provider/module that is not a part of the currently processed
    /// module".
    #[error("{module} cannot export {export}: it is not a provider or an imported module of {module}{hint}")]
    UnknownExport {
        /// The exporting module.
        module: &'static str,
        /// What it tried to export.
        export: String,
        /// What to change.
        hint: String,
    },
    /// A provider is registered under a token, but its value is another type.
    #[error("{owner}.{field} expects {expected} for {token}, but the provider registered under {token} is a {found}")]
    WrongType {
        /// The class (or factory) being built.
        owner: Cow<'static, str>,
        /// Its field.
        field: &'static str,
        /// The token.
        token: String,
        /// The field's type.
        expected: &'static str,
        /// The provider's type.
        found: &'static str,
    },
    /// Providers that need each other.
    #[error("circular dependency: {}", path.join(" -> "))]
    Cycle {
        /// The classes around the cycle, first repeated at the end.
        path: Vec<String>,
    },
    /// An async factory failed at boot.
    #[error("the async factory of {token} failed: {message}")]
    Factory {
        /// Its token.
        token: String,
        /// Its error.
        message: String,
    },
    /// A provider needed an async provider that is not built yet.
    #[error("{owner} needs {token}, an async provider that is not ready yet: async providers are built first, in the order they are registered; register {token} before the async provider that needs it")]
    NotReady {
        /// What needed it.
        owner: String,
        /// The async provider's token.
        token: String,
    },
    /// A module's configuration could not be read (a missing or malformed setting).
    #[error("{message} (asked for by {module})")]
    Config {
        /// What is wrong, naming the setting.
        message: String,
        /// The module whose import asked for it.
        module: &'static str,
    },
    /// A token listed twice by one module.
    #[error("{token} is provided twice in {module}: keep one")]
    Duplicate {
        /// The token.
        token: String,
        /// The module that lists it twice.
        module: &'static str,
    },
}

pub(crate) type Value = Arc<dyn Any + Send + Sync>;
type Build = Arc<dyn Fn(&mut Resolver<'_>) -> Result<Value, DiError> + Send + Sync>;

/// What a provider gives: a ready value, or a recipe run at boot.
#[derive(Clone)]
enum Recipe {
    Value(Value, &'static str),
    /// The recipe, what it is called in a cycle (a class's name, a factory's token), and
    /// the type it makes.
    Build(Build, Cow<'static, str>, &'static str),
    /// An async factory: built before everything else, awaited at boot (see
    /// [`Provider::async_factory`]); the type it makes.
    Async(Start, &'static str),
}

/// An async factory as the container runs it: `name` for its errors.
fn start<Args, F, T, E>(name: Cow<'static, str>, factory: F) -> Start
where
    F: AsyncFactory<Args>,
    F::Future: Future<Output = Result<T, E>>,
    T: Clone + Send + Sync + 'static,
    E: std::fmt::Display,
{
    let owner = format!("the async factory of {name}");
    Arc::new(move |r| {
        let future = factory.start(r, &owner)?;
        let name = name.clone();
        Ok(Box::pin(async move {
            match future.await {
                Ok(value) => Ok(Arc::new(value) as Value),
                Err(error) => Err(DiError::Factory {
                    token: name.to_string(),
                    message: error.to_string(),
                }),
            }
        }) as BoxFuture<'static, Result<Value, DiError>>)
    })
}

/// Starts an async factory: its arguments resolved now, its value awaited.
type Start = Arc<
    dyn Fn(&mut Resolver<'_>) -> Result<BoxFuture<'static, Result<Value, DiError>>, DiError>
        + Send
        + Sync,
>;

/// A provider that is not a class: Nest's `useValue` / `useFactory`.
///
/// ```
/// # use gateway_core::prelude::*;
/// # use gateway_core::di::Provider;
/// # use std::sync::Arc;
/// #[derive(Clone)]
/// struct Settings { users_addr: String }
///
/// // { provide: 'USERS_ADDR', useFactory: (s: Settings) => s.usersAddr, inject: [Settings] }
/// let addr = Provider::factory("USERS_ADDR", |settings: Settings| settings.users_addr);
/// ```
#[derive(Clone)]
pub struct Provider {
    token: Token,
    recipe: Recipe,
}

impl Provider {
    /// `{ provide: 'TOKEN', useValue: value }`: inject with `#[inject("TOKEN")] field: T`.
    pub fn value<T: Clone + Send + Sync + 'static>(
        token: impl Into<Cow<'static, str>>,
        value: T,
    ) -> Self {
        Provider {
            token: Token::Named(token.into()),
            recipe: Recipe::Value(Arc::new(value), type_name::<T>()),
        }
    }

    /// `{ provide: 'ALIAS', useExisting: 'TOKEN' }`: `alias` gives what `existing` gives
    /// (the same instance), for a value of type `T`.
    pub fn existing<T: Clone + Send + Sync + 'static>(
        alias: impl Into<Cow<'static, str>>,
        existing: &'static str,
    ) -> Self {
        let alias: Cow<'static, str> = alias.into();
        let owner: &'static str = "useExisting";
        Provider::built(alias, move |r| r.named::<T>(existing, owner, existing))
    }

    /// A value injected by its type: any field of type `T` receives a clone.
    pub fn typed<T: Clone + Send + Sync + 'static>(value: T) -> Self {
        Provider {
            token: Token::of::<T>(),
            recipe: Recipe::Value(Arc::new(value), type_name::<T>()),
        }
    }

    /// `{ provide: 'TOKEN', useFactory: (a: A, b: B) => .., inject: [A, B] }`: `factory` runs
    /// once, at boot, the first time something needs `TOKEN`; its arguments are resolved by
    /// their types (what `inject` lists in Nest), so `|config: Arc<ConfigService>| ..`
    /// receives the `ConfigService` provider. Inject the value with `#[inject("TOKEN")]`.
    pub fn factory<Args, F: Factory<Args>>(
        token: impl Into<Cow<'static, str>>,
        factory: F,
    ) -> Self {
        let token: Cow<'static, str> = token.into();
        let owner: Cow<'static, str> = format!("the factory of {token}").into();
        Provider::built(token, move |r| factory.call(r, &owner))
    }

    /// `{ provide: 'POOL', useFactory: async (config) => connect(config), inject: [ConfigService] }`:
    /// an async factory, awaited at boot before any class is built (a pool that connects
    /// first). Its arguments are providers resolved by type; it returns `Result<T, E>`, and an
    /// `Err` fails the boot naming the token. Async factories are built in the order they are
    /// registered (one may take an earlier one as an argument); classes and sync factories see
    /// their values.
    pub fn async_factory<Args, F, T, E>(token: impl Into<Cow<'static, str>>, factory: F) -> Self
    where
        F: AsyncFactory<Args>,
        F::Future: Future<Output = Result<T, E>>,
        T: Clone + Send + Sync + 'static,
        E: std::fmt::Display,
    {
        let token: Cow<'static, str> = token.into();
        Provider {
            recipe: Recipe::Async(start(token.clone(), factory), type_name::<T>()),
            token: Token::Named(token),
        }
    }

    /// [`async_factory`](Self::async_factory) whose value is injected by its type.
    pub fn typed_async_factory<Args, F, T, E>(factory: F) -> Self
    where
        F: AsyncFactory<Args>,
        F::Future: Future<Output = Result<T, E>>,
        T: Clone + Send + Sync + 'static,
        E: std::fmt::Display,
    {
        Provider {
            recipe: Recipe::Async(start(type_name::<T>().into(), factory), type_name::<T>()),
            token: Token::of::<T>(),
        }
    }

    /// A named provider made at boot by `build`, which asks the resolver for what it needs:
    /// what [`factory`](Self::factory) and `ClientsModule::register_async` are made of.
    pub(crate) fn built<T: Clone + Send + Sync + 'static>(
        token: Cow<'static, str>,
        build: impl Fn(&mut Resolver<'_>) -> Result<T, DiError> + Send + Sync + 'static,
    ) -> Self {
        Provider {
            recipe: Recipe::Build(
                Arc::new(move |r| Ok(Arc::new(build(r)?) as Value)),
                token.clone(),
                type_name::<T>(),
            ),
            token: Token::Named(token),
        }
    }

    /// A factory whose value is injected by its type (`useFactory` with a class token):
    /// fields of type `T` receive a clone of what `factory` returns.
    pub fn typed_factory<Args, F: Factory<Args>>(factory: F) -> Self {
        let owner: Cow<'static, str> =
            format!("the factory of {}", type_name::<F::Output>()).into();
        Provider {
            token: Token::of::<F::Output>(),
            recipe: Recipe::Build(
                Arc::new(move |r| Ok(Arc::new(factory.call(r, &owner)?) as Value)),
                type_name::<F::Output>().into(),
                type_name::<F::Output>(),
            ),
        }
    }
}

/// A function the container can call to make a provider: any `Fn(A, B, ..) -> T` (up to six
/// arguments) whose arguments are providers injected by type (`Arc<SomeService>` for a
/// class, `T` for a [`Provider::typed`] value). Nest's `useFactory` with its `inject` list.
pub trait Factory<Args>: Send + Sync + 'static {
    /// What the factory makes.
    type Output: Clone + Send + Sync + 'static;

    /// Resolves the arguments and calls the function. `owner` names the factory in errors.
    fn call(&self, resolver: &mut Resolver<'_>, owner: &str) -> Result<Self::Output, DiError>;
}

/// An async function the container can call to make a provider at boot: any
/// `Fn(A, B, ..) -> impl Future` (up to six arguments) whose arguments are providers injected
/// by type. What [`Provider::async_factory`] takes.
pub trait AsyncFactory<Args>: Send + Sync + 'static {
    /// What calling it gives.
    type Future: Future + Send + 'static;

    /// Resolves the arguments and calls the function. `owner` names the factory in errors.
    fn start(&self, resolver: &mut Resolver<'_>, owner: &str) -> Result<Self::Future, DiError>;
}

macro_rules! factory_arities {
    ($($arg:ident),*) => {
        impl<F, T, $($arg,)*> Factory<($($arg,)*)> for F
        where
            F: Fn($($arg),*) -> T + Send + Sync + 'static,
            T: Clone + Send + Sync + 'static,
            $($arg: Clone + Send + Sync + 'static,)*
        {
            type Output = T;

            #[allow(unused_variables)]
            fn call(&self, resolver: &mut Resolver<'_>, owner: &str) -> Result<T, DiError> {
                Ok(self($(resolver.resolve::<$arg>(Token::of::<$arg>(), Cow::Owned(owner.to_owned()), type_name::<$arg>())?),*))
            }
        }

        impl<F, Fut, $($arg,)*> AsyncFactory<($($arg,)*)> for F
        where
            F: Fn($($arg),*) -> Fut + Send + Sync + 'static,
            Fut: Future + Send + 'static,
            $($arg: Clone + Send + Sync + 'static,)*
        {
            type Future = Fut;

            #[allow(unused_variables)]
            fn start(&self, resolver: &mut Resolver<'_>, owner: &str) -> Result<Fut, DiError> {
                Ok(self($(resolver.resolve::<$arg>(Token::of::<$arg>(), Cow::Owned(owner.to_owned()), type_name::<$arg>())?),*))
            }
        }
    };
}

factory_arities!();
factory_arities!(A);
factory_arities!(A, B);
factory_arities!(A, B, C);
factory_arities!(A, B, C, D);
factory_arities!(A, B, C, D, E);
factory_arities!(A, B, C, D, E, G);

/// A class that the container builds: what `#[injectable]` implements.
pub trait Injectable: Sized + 'static {
    /// The class's name, for messages.
    const NAME: &'static str;

    /// Builds the value, asking `resolver` for each field.
    fn construct(resolver: &mut Resolver<'_>) -> Result<Self, DiError>;

    /// The lifecycle hooks the class implements (`#[injectable]` finds them; see
    /// [`lifecycle`](crate::lifecycle)).
    fn hooks(this: &Arc<Self>) -> crate::lifecycle::Hooks {
        let _ = this;
        crate::lifecycle::Hooks::default()
    }
}

/// A module: what `#[module]` implements.
pub trait Module: 'static {
    /// The module's name, for messages.
    const NAME: &'static str;

    /// Registers the module's imports, providers and controllers.
    fn configure(module: &mut ModuleBuilder<'_>);
}

/// Something a module can import: another module, or a dynamic module such as
/// [`ClientsModule::register`](crate::client::ClientsModule::register).
///
/// A dynamic module of your own (Nest's `static forRoot(options): DynamicModule`) is a value
/// that implements `Import` with [`ModuleBuilder::import_dynamic`]: a module of its own,
/// configured from the options, exporting what its importers may inject. `ClientsModule` and
/// `ConfigModule` are written this way; an async variant registers
/// [`Provider::async_factory`]s in it.
///
/// ```
/// use gateway_core::prelude::*;
/// use gateway_core::di::{Import, ModuleBuilder};
///
/// #[derive(Clone)]
/// pub struct Database { url: String }
///
/// /// `DatabaseModule.forRoot({ url })`.
/// pub struct DatabaseModule { url: String }
///
/// impl DatabaseModule {
///     pub fn for_root(url: &str) -> Self {
///         DatabaseModule { url: url.to_owned() }
///     }
/// }
///
/// impl Import for DatabaseModule {
///     fn import(self, into: &mut ModuleBuilder<'_>) {
///         into.import_dynamic("DatabaseModule", |module| {
///             module.provide(Provider::typed(Database { url: self.url }));
///             module.export_all(); // `exports: [Database]`
///         });
///     }
/// }
///
/// #[injectable]
/// struct UsersRepository { db: Database }
///
/// #[module(imports = [DatabaseModule::for_root("postgres://localhost/app")], providers = [UsersRepository])]
/// struct UsersModule;
/// ```
pub trait Import {
    /// Registers what it brings.
    fn import(self, into: &mut ModuleBuilder<'_>);
}

impl<M: Module> Import for M {
    fn import(self, into: &mut ModuleBuilder<'_>) {
        into.import_module::<M>();
    }
}

/// What a resolver built so far, and the hooks of the classes among it.
pub(crate) type Built = (HashMap<Key, Value>, crate::lifecycle::HookList);
