//! Nest's lifecycle hooks: what a class (`#[injectable]` provider or controller) does once the
//! app is built and when it stops.
//!
//! Implement the trait on the class; the container finds it (no registration):
//!
//! ```
//! # use gateway_core::prelude::*;
//! # use gateway_core::lifecycle::{HookResult, OnModuleInit, OnApplicationShutdown};
//! #[injectable]
//! struct Pool;
//!
//! impl OnModuleInit for Pool {
//!     async fn on_module_init(&self) -> HookResult {
//!         // connect, warm a cache...
//!         Ok(())
//!     }
//! }
//!
//! impl OnApplicationShutdown for Pool {
//!     async fn on_application_shutdown(&self, signal: Option<&str>) {
//!         // close connections
//!     }
//! }
//! ```
//!
//! The order, as Nest's: at boot every `on_module_init`, then every
//! `on_application_bootstrap`, each in the order the classes were built (a class after what
//! it depends on), awaited one by one; one that fails fails the boot
//! ([`BootError::Lifecycle`](crate::app::BootError::Lifecycle)). On shutdown (the app's
//! `serve`/`listen` ending, or `close`): every `on_module_destroy`, then every
//! `before_application_shutdown(signal)`, then the servers stop and drain, then every
//! `on_application_shutdown(signal)`; each in the reverse order (a class before what it
//! depends on). `signal` is `Some("SIGTERM")`/`Some("SIGINT")` when a signal stopped the app.
//!
//! Hooks run for classes the container builds (providers listed as classes, controllers);
//! a value or factory provider has none.

use std::future::Future;
use std::sync::Arc;

use futures_util::future::BoxFuture;

/// What a boot hook returns: an error fails the boot.
pub type HookResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// Nest's `OnModuleInit`: called once every class of the app is built.
pub trait OnModuleInit: Send + Sync + 'static {
    /// Runs at boot, before any request or message is served.
    fn on_module_init(&self) -> impl Future<Output = HookResult> + Send;
}

/// Nest's `OnApplicationBootstrap`: called after every `on_module_init`.
pub trait OnApplicationBootstrap: Send + Sync + 'static {
    /// Runs at boot, after every `on_module_init`.
    fn on_application_bootstrap(&self) -> impl Future<Output = HookResult> + Send;
}

/// Nest's `OnModuleDestroy`: the first hook on shutdown.
pub trait OnModuleDestroy: Send + Sync + 'static {
    /// Runs when the app starts to stop, before it stops serving.
    fn on_module_destroy(&self) -> impl Future<Output = ()> + Send;
}

/// Nest's `BeforeApplicationShutdown`: after every `on_module_destroy`, before the servers stop.
pub trait BeforeApplicationShutdown: Send + Sync + 'static {
    /// Runs before the servers stop; `signal` names the signal that stopped the app.
    fn before_application_shutdown(&self, signal: Option<&str>) -> impl Future<Output = ()> + Send;
}

/// Nest's `OnApplicationShutdown`: the last hook, once the servers have stopped.
pub trait OnApplicationShutdown: Send + Sync + 'static {
    /// Runs once nothing is served any more; `signal` names the signal that stopped the app.
    fn on_application_shutdown(&self, signal: Option<&str>) -> impl Future<Output = ()> + Send;
}

type BootHook = Arc<dyn Fn() -> BoxFuture<'static, HookResult> + Send + Sync>;
type StopHook = Arc<dyn Fn() -> BoxFuture<'static, ()> + Send + Sync>;
type SignalHook = Arc<dyn Fn(Option<String>) -> BoxFuture<'static, ()> + Send + Sync>;

/// The hooks one class implements (what `#[injectable]` finds).
#[derive(Default, Clone)]
pub struct Hooks {
    pub(crate) on_module_init: Option<BootHook>,
    pub(crate) on_application_bootstrap: Option<BootHook>,
    pub(crate) on_module_destroy: Option<StopHook>,
    pub(crate) before_application_shutdown: Option<SignalHook>,
    pub(crate) on_application_shutdown: Option<SignalHook>,
}

impl Hooks {
    fn is_empty(&self) -> bool {
        self.on_module_init.is_none()
            && self.on_application_bootstrap.is_none()
            && self.on_module_destroy.is_none()
            && self.before_application_shutdown.is_none()
            && self.on_application_shutdown.is_none()
    }
}

/// Every class's hooks, in the order the classes were built.
#[derive(Default, Clone)]
pub(crate) struct HookList {
    classes: Vec<(&'static str, Hooks)>,
}

/// A boot hook that failed: the class and the hook.
#[derive(Debug)]
pub(crate) struct HookFailure {
    pub class: &'static str,
    pub hook: &'static str,
    pub error: Box<dyn std::error::Error + Send + Sync>,
}

impl HookList {
    pub(crate) fn push(&mut self, class: &'static str, hooks: Hooks) {
        if !hooks.is_empty() {
            self.classes.push((class, hooks));
        }
    }

    pub(crate) fn extend(&mut self, other: HookList) {
        self.classes.extend(other.classes);
    }

    /// `on_module_init` of every class, then `on_application_bootstrap`.
    pub(crate) async fn boot(&self) -> Result<(), HookFailure> {
        for (class, hooks) in &self.classes {
            if let Some(hook) = &hooks.on_module_init {
                hook().await.map_err(|error| HookFailure {
                    class,
                    hook: "onModuleInit",
                    error,
                })?;
            }
        }
        for (class, hooks) in &self.classes {
            if let Some(hook) = &hooks.on_application_bootstrap {
                hook().await.map_err(|error| HookFailure {
                    class,
                    hook: "onApplicationBootstrap",
                    error,
                })?;
            }
        }
        Ok(())
    }

    /// `on_module_destroy` of every class, then `before_application_shutdown`, dependents first.
    pub(crate) async fn before_stop(&self, signal: Option<&str>) {
        for (_, hooks) in self.classes.iter().rev() {
            if let Some(hook) = &hooks.on_module_destroy {
                hook().await;
            }
        }
        for (_, hooks) in self.classes.iter().rev() {
            if let Some(hook) = &hooks.before_application_shutdown {
                hook(signal.map(str::to_owned)).await;
            }
        }
    }

    /// `on_application_shutdown` of every class, dependents first.
    pub(crate) async fn after_stop(&self, signal: Option<&str>) {
        for (_, hooks) in self.classes.iter().rev() {
            if let Some(hook) = &hooks.on_application_shutdown {
                hook(signal.map(str::to_owned)).await;
            }
        }
    }
}

/// How `#[injectable]` finds a class's hooks: autoref specialization on the concrete class
/// (`(&Probe(arc)).hook()` picks the impl for classes that implement the trait, the empty one
/// otherwise). Not a public API.
#[doc(hidden)]
pub mod probe {
    use super::*;

    /// A class, carried to the probes.
    pub struct Probe<T>(pub Arc<T>);

    macro_rules! probes {
        ($yes:ident, $no:ident, $method:ident, $trait_:ident, $field:ident, $hook:ty, |$this:ident| $make:expr) => {
            /// The class implements the hook.
            pub trait $yes {
                /// Its hook.
                fn $method(&self, hooks: &mut Hooks);
            }
            impl<T: $trait_> $yes for Probe<T> {
                fn $method(&self, hooks: &mut Hooks) {
                    let $this = self.0.clone();
                    let hook: $hook = Arc::new($make);
                    hooks.$field = Some(hook);
                }
            }
            /// The class does not.
            pub trait $no {
                /// Nothing.
                fn $method(&self, _hooks: &mut Hooks) {}
            }
            impl<T> $no for &Probe<T> {}
        };
    }

    probes!(
        InitYes,
        InitNo,
        probe_on_module_init,
        OnModuleInit,
        on_module_init,
        BootHook,
        |this| move || {
            let this = this.clone();
            Box::pin(async move { this.on_module_init().await }) as BoxFuture<'static, HookResult>
        }
    );
    probes!(
        BootstrapYes,
        BootstrapNo,
        probe_on_application_bootstrap,
        OnApplicationBootstrap,
        on_application_bootstrap,
        BootHook,
        |this| move || {
            let this = this.clone();
            Box::pin(async move { this.on_application_bootstrap().await })
                as BoxFuture<'static, HookResult>
        }
    );
    probes!(
        DestroyYes,
        DestroyNo,
        probe_on_module_destroy,
        OnModuleDestroy,
        on_module_destroy,
        StopHook,
        |this| move || {
            let this = this.clone();
            Box::pin(async move { this.on_module_destroy().await }) as BoxFuture<'static, ()>
        }
    );
    probes!(
        BeforeYes,
        BeforeNo,
        probe_before_application_shutdown,
        BeforeApplicationShutdown,
        before_application_shutdown,
        SignalHook,
        |this| move |signal: Option<String>| {
            let this = this.clone();
            Box::pin(async move { this.before_application_shutdown(signal.as_deref()).await })
                as BoxFuture<'static, ()>
        }
    );
    probes!(
        ShutdownYes,
        ShutdownNo,
        probe_on_application_shutdown,
        OnApplicationShutdown,
        on_application_shutdown,
        SignalHook,
        |this| move |signal: Option<String>| {
            let this = this.clone();
            Box::pin(async move { this.on_application_shutdown(signal.as_deref()).await })
                as BoxFuture<'static, ()>
        }
    );
}
