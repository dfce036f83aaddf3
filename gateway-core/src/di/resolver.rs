//! Resolution: the [`Resolver`] that builds the graph at boot, and the [`Container`] that
//! keeps it afterwards.

use std::any::type_name;
use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use super::graph::{Key, ModuleId, Registry, ROOT};
use super::{Built, DiError, Factory, Injectable, Recipe, Token, Value};

/// Hands out dependencies while the graph is built. Each class is built in the context of the
/// module that lists it: it sees that module's providers, what its imports export, and what
/// global modules export.
pub struct Resolver<'a> {
    registry: &'a Registry,
    /// The hooks of the classes built, in build order.
    pub(crate) hooks: crate::lifecycle::HookList,
    built: HashMap<Key, Value>,
    /// Classes being built, for cycle detection.
    stack: Vec<Cow<'static, str>>,
    /// The module whose context resolves the next token.
    module: ModuleId,
    /// `app.get(..)`: a token asked for directly (not by a class being built) is found in any
    /// module (Nest's `strict: false`).
    anywhere: bool,
}

impl<'a> Resolver<'a> {
    /// A resolver that goes on from what was `built` (the async providers).
    pub(crate) fn from_parts(registry: &'a Registry, (built, hooks): Built) -> Self {
        Resolver {
            registry,
            hooks,
            built,
            stack: Vec::new(),
            module: ROOT,
            anywhere: false,
        }
    }

    /// What was built, and the hooks of the classes built, for the [`Container`].
    pub(crate) fn finish(self) -> Built {
        (self.built, self.hooks)
    }

    /// Resolves what follows in the context of `module`.
    pub(crate) fn in_module(&mut self, module: ModuleId) {
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
        if self.home(&token).is_none() {
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

    /// The module whose provider of `token` the current context sees.
    fn home(&self, token: &Token) -> Option<ModuleId> {
        match self.registry.lookup(self.module, token) {
            None if self.anywhere && self.stack.is_empty() => self.registry.anywhere(token),
            found => found,
        }
    }

    pub(super) fn resolve<T: Clone + Send + Sync + 'static>(
        &mut self,
        token: Token,
        owner: Cow<'static, str>,
        field: &'static str,
    ) -> Result<T, DiError> {
        let Some(home) = self.home(&token) else {
            return Err(DiError::Missing {
                owner,
                field,
                hint: self.registry.hint(self.module, &token),
                token: token.to_string(),
                module: self.registry.modules[self.module].name,
            });
        };
        let key: Key = (home, token);
        let recipe = self
            .registry
            .recipe(&key)
            .expect("lookup finds listed providers");
        let value = match self.built.get(&key) {
            Some(value) => value.clone(),
            None => {
                let value = match recipe {
                    Recipe::Value(value, _) => value.clone(),
                    Recipe::Async(..) => {
                        return Err(DiError::NotReady {
                            owner: owner.into_owned(),
                            token: key.1.to_string(),
                        })
                    }
                    Recipe::Build(build, name, _) => {
                        if let Some(start) = self.stack.iter().position(|n| n == name) {
                            let mut path: Vec<String> =
                                self.stack[start..].iter().map(|s| s.to_string()).collect();
                            path.push(name.to_string());
                            return Err(DiError::Cycle { path });
                        }
                        // Built where it is listed: it sees that module's providers.
                        let caller = std::mem::replace(&mut self.module, home);
                        self.stack.push(name.clone());
                        let built = build(self);
                        self.stack.pop();
                        self.module = caller;
                        built?
                    }
                };
                self.built.insert(key.clone(), value.clone());
                value
            }
        };
        let (Recipe::Value(_, found) | Recipe::Build(_, _, found) | Recipe::Async(_, found)) =
            recipe;
        value
            .downcast_ref::<T>()
            .cloned()
            .ok_or_else(|| DiError::WrongType {
                owner,
                field,
                token: key.1.to_string(),
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

    /// Builds a class in the current module's context (tracked for cycles like any provider):
    /// a controller, or a `useClass` that is not a shared provider.
    pub fn build<C: Injectable>(&mut self) -> Result<C, DiError> {
        self.stack.push(C::NAME.into());
        let built = C::construct(self);
        self.stack.pop();
        built
    }
}

/// The container once the app is booted: every provider built so far, and the recipes of the
/// others (built on first request). Nest's `app.get(UsersService)` /
/// `app.get('USERS_SERVICE')`, which find a provider in any module (Nest's default, `strict:
/// false`), the root module's first. Cheap to clone.
#[derive(Clone)]
pub struct Container {
    inner: Arc<ContainerInner>,
}

struct ContainerInner {
    registry: Registry,
    built: Mutex<HashMap<Key, Value>>,
    /// The hooks of every class built, in build order (boot, then on demand).
    hooks: Mutex<crate::lifecycle::HookList>,
}

impl fmt::Debug for Container {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let modules = &self.inner.registry.modules;
        f.debug_struct("Container")
            .field(
                "modules",
                &modules.iter().map(|m| m.name).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Container {
    /// Keeps what boot built.
    pub(crate) fn new(registry: Registry, (built, hooks): Built) -> Self {
        Container {
            inner: Arc::new(ContainerInner {
                registry,
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

    /// Runs `f` with a resolver over this container, in the root module's context (a token
    /// `f` asks for directly is found in any module): what `f` builds stays built.
    pub fn with_resolver<R>(&self, f: impl FnOnce(&mut Resolver<'_>) -> R) -> R {
        let mut built = self.inner.built.lock().unwrap_or_else(|e| e.into_inner());
        let mut resolver = Resolver::from_parts(
            &self.inner.registry,
            (std::mem::take(&mut *built), Default::default()),
        );
        resolver.anywhere = true;
        let result = f(&mut resolver);
        let (now_built, hooks) = resolver.finish();
        *built = now_built;
        self.inner
            .hooks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(hooks);
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
