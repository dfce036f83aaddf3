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
use std::sync::Arc;

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
        /// The class being built.
        owner: &'static str,
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
        /// The class being built.
        owner: &'static str,
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

type Value = Arc<dyn Any + Send + Sync>;
type Build = Arc<dyn Fn(&mut Resolver<'_>) -> Result<Value, DiError> + Send + Sync>;

/// What a provider gives: a ready value, or a recipe run at boot.
#[derive(Clone)]
enum Recipe {
    Value(Value, &'static str),
    Build(Build, &'static str),
}

/// A provider that is not a class: Nest's `useValue` / `useFactory`.
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

    /// A value injected by its type: any field of type `T` receives a clone.
    pub fn typed<T: Clone + Send + Sync + 'static>(value: T) -> Self {
        Provider {
            token: Token::of::<T>(),
            recipe: Recipe::Value(Arc::new(value), type_name::<T>()),
        }
    }
}

/// A class that the container builds: what `#[injectable]` implements.
pub trait Injectable: Sized + 'static {
    /// The class's name, for messages.
    const NAME: &'static str;

    /// Builds the value, asking `resolver` for each field.
    fn construct(resolver: &mut Resolver<'_>) -> Result<Self, DiError>;
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
    pub entry: Box<dyn Any>,
}

/// Everything collected from the module tree.
#[derive(Default)]
pub(crate) struct Registry {
    recipes: HashMap<Token, (Recipe, &'static str)>,
    modules: Vec<TypeId>,
    pub controllers: Vec<ControllerEntry>,
    pub errors: Vec<DiError>,
}

/// What a module's `configure` writes into.
pub struct ModuleBuilder<'a> {
    registry: &'a mut Registry,
    module: &'static str,
}

impl<'a> ModuleBuilder<'a> {
    pub(crate) fn root<M: Module>(registry: &'a mut Registry) -> Self {
        registry.modules.push(TypeId::of::<M>());
        ModuleBuilder {
            registry,
            module: M::NAME,
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
        M::configure(&mut ModuleBuilder {
            registry: self.registry,
            module: M::NAME,
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
        self.registry.recipes.insert(token, (recipe, self.module));
    }

    /// A class provider: built once, injected into fields of type `Arc<P>`.
    pub fn provider<P: Injectable + Send + Sync>(&mut self) {
        let build: Build = Arc::new(|r| Ok(Arc::new(Arc::new(P::construct(r)?)) as Value));
        self.register(Token::of::<Arc<P>>(), Recipe::Build(build, P::NAME));
    }

    /// A value or factory provider.
    pub fn provide(&mut self, provider: Provider) {
        self.register(provider.token, provider.recipe);
    }

    /// Adds a controller, in list order, for the app layer to build and mount.
    pub(crate) fn push_controller(&mut self, entry: Box<dyn Any>) {
        self.registry.controllers.push(ControllerEntry {
            module: self.module,
            entry,
        });
    }
}

/// Hands out dependencies while the graph is built.
pub struct Resolver<'a> {
    registry: &'a Registry,
    built: HashMap<Token, Value>,
    /// Classes being built, for cycle detection.
    stack: Vec<&'static str>,
    /// The module of the class being built at the bottom of the stack.
    module: &'static str,
}

impl<'a> Resolver<'a> {
    pub(crate) fn new(registry: &'a Registry) -> Self {
        Resolver {
            registry,
            built: HashMap::new(),
            stack: Vec::new(),
            module: "the root module",
        }
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
        self.get(Token::Named(Cow::Borrowed(token)), owner, field)
    }

    /// A field injected by its type.
    pub fn typed<T: Clone + Send + Sync + 'static>(
        &mut self,
        owner: &'static str,
        field: &'static str,
    ) -> Result<T, DiError> {
        self.get(Token::of::<T>(), owner, field)
    }

    fn get<T: Clone + Send + Sync + 'static>(
        &mut self,
        token: Token,
        owner: &'static str,
        field: &'static str,
    ) -> Result<T, DiError> {
        let value = match self.built.get(&token) {
            Some(value) => value.clone(),
            None => {
                let Some((recipe, _module)) = self.registry.recipes.get(&token) else {
                    return Err(DiError::Missing {
                        owner,
                        field,
                        token: token.to_string(),
                        module: self.module,
                    });
                };
                let value = match recipe {
                    Recipe::Value(value, _) => value.clone(),
                    Recipe::Build(build, name) => {
                        if let Some(start) = self.stack.iter().position(|n| n == name) {
                            let mut path: Vec<String> =
                                self.stack[start..].iter().map(|s| s.to_string()).collect();
                            path.push(name.to_string());
                            return Err(DiError::Cycle { path });
                        }
                        self.stack.push(name);
                        let built = build(self);
                        self.stack.pop();
                        built?
                    }
                };
                self.built.insert(token.clone(), value.clone());
                value
            }
        };
        let found = match &self.registry.recipes.get(&token) {
            Some((Recipe::Value(_, name) | Recipe::Build(_, name), _)) => *name,
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

    /// Builds a controller's class (tracked for cycles like any provider).
    pub(crate) fn build<C: Injectable>(&mut self) -> Result<C, DiError> {
        self.stack.push(C::NAME);
        let built = C::construct(self);
        self.stack.pop();
        built
    }
}
