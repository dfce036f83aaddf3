//! Dependency injection: providers by token, resolved once at boot.
//!
//! Modules ([`Module`], written with `#[module]`) list providers, controllers and imports. At
//! boot the container ([`Resolver`]) builds every controller and the providers it needs, each provider
//! once (Nest's default singleton scope), by string token (`#[inject("USERS_SERVICE")]`) or by
//! type (a field `users: Arc<UsersService>`). A missing provider or a cycle fails the boot with
//! a message naming the class, the field, the token and the module. Request time never looks
//! anything up: controllers hold their dependencies as plain fields.
//!
//! The container knows nothing of HTTP, transports or controllers' routes: the app layer
//! registers controllers through it and mounts them (`app`), `ClientsModule` lives with the
//! clients (`client`).
//!
//! Not for: request-scoped providers or module-private visibility (every provider is visible
//! to every module here; Nest's `exports` are not enforced).

use std::any::{type_name, Any, TypeId};
use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};

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
    #[error("can't resolve dependencies of {owner} (field `{field}` needs {token}): make sure a provider for {token} is registered in {module} or a module it imports (`providers = [..]`, `ClientsModule::register([..])`)")]
    Missing {
        /// The class (or factory) being built.
        owner: Cow<'static, str>,
        /// Its field.
        field: &'static str,
        /// What the field asked for.
        token: String,
        /// The module that lists the class.
        module: &'static str,
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
    /// A token registered twice with different providers.
    #[error("{token} is provided twice (in {first} and {second}): keep one")]
    Duplicate {
        /// The token.
        token: String,
        /// The module that registered it first.
        first: &'static str,
        /// The module that registered it again.
        second: &'static str,
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
pub trait Import {
    /// Registers what it brings.
    fn import(self, into: &mut ModuleBuilder<'_>);
}

impl<M: Module> Import for M {
    fn import(self, into: &mut ModuleBuilder<'_>) {
        into.import_module::<M>();
    }
}

/// One controller a module lists, as the layer that serves it registered it (the app adds
/// `ModuleBuilder::controller`): opaque to the container, which only keeps the list in
/// order.
pub(crate) struct ControllerEntry {
    pub module: &'static str,
    pub entry: Box<dyn Any + Send + Sync>,
}

/// Every provider's recipe, by token, with the module that registered it.
type Recipes = HashMap<Token, (Recipe, &'static str)>;

/// Everything collected from the module tree.
#[derive(Default)]
pub(crate) struct Registry {
    recipes: Recipes,
    modules: Vec<TypeId>,
    pub controllers: Vec<ControllerEntry>,
    pub errors: Vec<DiError>,
    /// Modules configured by another's `configure` (a testing module's `override_module`).
    pub replacements: HashMap<TypeId, ModuleReplacement>,
    /// The async providers' tokens, in registration order.
    async_order: Vec<Token>,
}

/// A module's stand-in: its name, and what it registers instead.
#[derive(Clone, Copy)]
pub(crate) struct ModuleReplacement {
    pub name: &'static str,
    pub configure: fn(&mut ModuleBuilder<'_>),
}

impl Registry {
    /// Replaces (or adds) the provider of `provider`'s token: a testing module's override,
    /// after the module tree is configured.
    pub(crate) fn override_provider(&mut self, provider: Provider) {
        let is_async = matches!(provider.recipe, Recipe::Async(..));
        self.async_order.retain(|t| *t != provider.token);
        if is_async {
            self.async_order.push(provider.token.clone());
        }
        self.recipes
            .insert(provider.token, (provider.recipe, "the testing module"));
    }

    /// Awaits every async provider, in registration order; what they and their arguments
    /// built, for the resolver that builds the rest.
    pub(crate) async fn build_async(&self) -> Result<Built, DiError> {
        let mut parts = Built::default();
        for token in &self.async_order {
            let Some((Recipe::Async(start, _), module)) = self.recipes.get(token) else {
                continue;
            };
            let future = {
                let mut resolver = Resolver::from_parts(self, std::mem::take(&mut parts));
                resolver.in_module(module);
                let future = start(&mut resolver);
                parts = resolver.finish();
                future?
            };
            let value = future.await?;
            parts.0.insert(token.clone(), value);
        }
        Ok(parts)
    }
}

/// What a resolver built so far, and the hooks of the classes among it.
pub(crate) type Built = (HashMap<Token, Value>, crate::lifecycle::HookList);

impl Registry {}

/// What a module's `configure` writes into.
pub struct ModuleBuilder<'a> {
    registry: &'a mut Registry,
    module: &'static str,
}

impl<'a> ModuleBuilder<'a> {
    /// The root of a module tree: `name` for messages, `id` for the imports (a module is
    /// configured once).
    pub(crate) fn root(registry: &'a mut Registry, name: &'static str, id: Option<TypeId>) -> Self {
        registry.modules.extend(id);
        ModuleBuilder {
            registry,
            module: name,
        }
    }

    /// Imports a module or a dynamic module.
    pub fn import(&mut self, import: impl Import) {
        import.import(self);
    }

    fn import_module<M: Module>(&mut self) {
        if self.registry.modules.contains(&TypeId::of::<M>()) {
            return; // a module is configured once, however often it is imported
        }
        self.registry.modules.push(TypeId::of::<M>());
        let (name, configure): (&'static str, fn(&mut ModuleBuilder<'_>)) =
            match self.registry.replacements.get(&TypeId::of::<M>()) {
                Some(replacement) => (replacement.name, replacement.configure),
                None => (M::NAME, M::configure),
            };
        configure(&mut ModuleBuilder {
            registry: self.registry,
            module: name,
        });
    }

    fn register(&mut self, token: Token, recipe: Recipe) {
        if let Some((_, first)) = self.registry.recipes.get(&token) {
            self.registry.errors.push(DiError::Duplicate {
                token: token.to_string(),
                first,
                second: self.module,
            });
            return;
        }
        if matches!(recipe, Recipe::Async(..)) {
            self.registry.async_order.push(token.clone());
        }
        self.registry.recipes.insert(token, (recipe, self.module));
    }

    /// A class provider: built once, injected into fields of type `Arc<P>`.
    pub fn provider<P: Injectable + Send + Sync>(&mut self) {
        let build: Build = Arc::new(|r| {
            let value = Arc::new(P::construct(r)?);
            r.hooks.push(P::NAME, P::hooks(&value));
            Ok(Arc::new(value) as Value)
        });
        self.register(
            Token::of::<Arc<P>>(),
            Recipe::Build(build, P::NAME.into(), P::NAME),
        );
    }

    /// A value or factory provider.
    pub fn provide(&mut self, provider: Provider) {
        self.register(provider.token, provider.recipe);
    }

    /// Whether a provider is registered under `token` so far.
    pub fn provides(&self, token: &Token) -> bool {
        self.registry.recipes.contains_key(token)
    }

    /// The module being configured (for messages).
    pub fn module_name(&self) -> &'static str {
        self.module
    }

    /// Fails the boot with `error` (a dynamic module whose set-up went wrong).
    pub fn fail(&mut self, error: DiError) {
        self.registry.errors.push(error);
    }

    /// Adds a controller, in list order, for the app layer to build and mount.
    pub(crate) fn push_controller(&mut self, entry: Box<dyn Any + Send + Sync>) {
        self.registry.controllers.push(ControllerEntry {
            module: self.module,
            entry,
        });
    }
}

/// Hands out dependencies while the graph is built.
pub struct Resolver<'a> {
    recipes: &'a Recipes,
    /// The hooks of the classes built, in build order.
    pub(crate) hooks: crate::lifecycle::HookList,
    built: HashMap<Token, Value>,
    /// Classes being built, for cycle detection.
    stack: Vec<Cow<'static, str>>,
    /// The module of the class being built at the bottom of the stack.
    module: &'static str,
}

impl<'a> Resolver<'a> {
    /// A resolver that goes on from what was `built` (the async providers).
    pub(crate) fn from_parts(registry: &'a Registry, (built, hooks): Built) -> Self {
        Resolver {
            recipes: &registry.recipes,
            hooks,
            built,
            stack: Vec::new(),
            module: "the root module",
        }
    }

    /// What was built, and the hooks of the classes built, for the [`Container`].
    pub(crate) fn finish(self) -> Built {
        (self.built, self.hooks)
    }

    pub(crate) fn in_module(&mut self, module: &'static str) {
        self.module = module;
    }

    /// `#[inject("TOKEN")] field: T`.
    pub fn named<T: Clone + Send + Sync + 'static>(
        &mut self,
        token: &'static str,
        owner: &'static str,
        field: &'static str,
    ) -> Result<T, DiError> {
        self.resolve(Token::Named(Cow::Borrowed(token)), owner.into(), field)
    }

    /// `@Optional() @Inject("TOKEN") field`: `None` when nothing provides `token`.
    pub fn optional_named<T: Clone + Send + Sync + 'static>(
        &mut self,
        token: &'static str,
        owner: &'static str,
        field: &'static str,
    ) -> Result<Option<T>, DiError> {
        let token = Token::Named(Cow::Borrowed(token));
        self.optional(token, owner, field)
    }

    /// `@Optional() field: T` injected by type: `None` when nothing provides `T`.
    pub fn optional_typed<T: Clone + Send + Sync + 'static>(
        &mut self,
        owner: &'static str,
        field: &'static str,
    ) -> Result<Option<T>, DiError> {
        self.optional(Token::of::<T>(), owner, field)
    }

    fn optional<T: Clone + Send + Sync + 'static>(
        &mut self,
        token: Token,
        owner: &'static str,
        field: &'static str,
    ) -> Result<Option<T>, DiError> {
        if !self.built.contains_key(&token) && !self.recipes.contains_key(&token) {
            return Ok(None);
        }
        self.resolve(token, owner.into(), field).map(Some)
    }

    /// A field injected by its type.
    pub fn typed<T: Clone + Send + Sync + 'static>(
        &mut self,
        owner: &'static str,
        field: &'static str,
    ) -> Result<T, DiError> {
        self.resolve(Token::of::<T>(), owner.into(), field)
    }

    fn resolve<T: Clone + Send + Sync + 'static>(
        &mut self,
        token: Token,
        owner: Cow<'static, str>,
        field: &'static str,
    ) -> Result<T, DiError> {
        let value = match self.built.get(&token) {
            Some(value) => value.clone(),
            None => {
                let Some((recipe, _module)) = self.recipes.get(&token) else {
                    return Err(DiError::Missing {
                        owner,
                        field,
                        token: token.to_string(),
                        module: self.module,
                    });
                };
                let value = match recipe {
                    Recipe::Value(value, _) => value.clone(),
                    Recipe::Async(..) => {
                        return Err(DiError::NotReady {
                            owner: owner.into_owned(),
                            token: token.to_string(),
                        })
                    }
                    Recipe::Build(build, name, _) => {
                        if let Some(start) = self.stack.iter().position(|n| n == name) {
                            let mut path: Vec<String> =
                                self.stack[start..].iter().map(|s| s.to_string()).collect();
                            path.push(name.to_string());
                            return Err(DiError::Cycle { path });
                        }
                        self.stack.push(name.clone());
                        let built = build(self);
                        self.stack.pop();
                        built?
                    }
                };
                self.built.insert(token.clone(), value.clone());
                value
            }
        };
        let found = match &self.recipes.get(&token) {
            Some((
                Recipe::Value(_, name) | Recipe::Build(_, _, name) | Recipe::Async(_, name),
                _,
            )) => *name,
            None => "?",
        };
        value
            .downcast_ref::<T>()
            .cloned()
            .ok_or_else(|| DiError::WrongType {
                owner,
                field,
                token: token.to_string(),
                expected: type_name::<T>(),
                found,
            })
    }

    /// A provider by its type, as a factory or a hand-written [`Injectable`] asks for one
    /// (`Arc<SomeService>` for a class).
    pub fn get<T: Clone + Send + Sync + 'static>(&mut self) -> Result<T, DiError> {
        let owner = self.stack.last().cloned().unwrap_or(Cow::Borrowed("get"));
        self.resolve(Token::of::<T>(), owner, type_name::<T>())
    }

    /// A provider by its string token.
    pub fn get_token<T: Clone + Send + Sync + 'static>(
        &mut self,
        token: &str,
    ) -> Result<T, DiError> {
        let owner = self.stack.last().cloned().unwrap_or(Cow::Borrowed("get"));
        self.resolve(
            Token::Named(token.to_owned().into()),
            owner,
            type_name::<T>(),
        )
    }

    /// Builds a controller's class (tracked for cycles like any provider).
    pub(crate) fn build<C: Injectable>(&mut self) -> Result<C, DiError> {
        self.stack.push(C::NAME.into());
        let built = C::construct(self);
        self.stack.pop();
        built
    }
}

/// The container once the app is booted: every provider built so far, and the recipes of the
/// others (built on first request). Nest's `app.get(UsersService)` /
/// `app.get('USERS_SERVICE')`. Cheap to clone.
#[derive(Clone)]
pub struct Container {
    inner: Arc<ContainerInner>,
}

struct ContainerInner {
    recipes: Recipes,
    built: Mutex<HashMap<Token, Value>>,
    /// The hooks of every class built, in build order (boot, then on demand).
    hooks: Mutex<crate::lifecycle::HookList>,
}

impl fmt::Debug for Container {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Container")
            .field("providers", &self.inner.recipes.len())
            .finish()
    }
}

impl Container {
    /// Keeps what boot built.
    pub(crate) fn new(registry: &mut Registry, (built, hooks): Built) -> Self {
        Container {
            inner: Arc::new(ContainerInner {
                recipes: std::mem::take(&mut registry.recipes),
                built: Mutex::new(built),
                hooks: Mutex::new(hooks),
            }),
        }
    }

    /// The lifecycle hooks of the classes built so far, in build order.
    pub(crate) fn hooks(&self) -> crate::lifecycle::HookList {
        self.inner
            .hooks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Runs `f` with a resolver over this container: what `f` builds stays built.
    pub fn with_resolver<R>(&self, f: impl FnOnce(&mut Resolver<'_>) -> R) -> R {
        let mut built = self.inner.built.lock().unwrap_or_else(|e| e.into_inner());
        let mut resolver = Resolver {
            recipes: &self.inner.recipes,
            hooks: Default::default(),
            built: std::mem::take(&mut *built),
            stack: Vec::new(),
            module: "the app",
        };
        let result = f(&mut resolver);
        *built = resolver.built;
        self.inner
            .hooks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(resolver.hooks);
        result
    }

    /// The provider of type `T` (`Arc<UsersService>` for a class, `T` for a typed value).
    pub fn get<T: Clone + Send + Sync + 'static>(&self) -> Result<T, DiError> {
        self.with_resolver(|r| r.get())
    }

    /// The provider registered under `token` (`"USERS_SERVICE"`).
    pub fn get_token<T: Clone + Send + Sync + 'static>(&self, token: &str) -> Result<T, DiError> {
        self.with_resolver(|r| r.get_token(token))
    }

    /// Calls a factory with its arguments resolved from the container.
    pub fn call<Args, F: Factory<Args>>(&self, factory: F) -> Result<F::Output, DiError> {
        self.with_resolver(|r| factory.call(r, "the factory"))
    }
}
