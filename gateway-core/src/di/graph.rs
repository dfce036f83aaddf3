//! The module graph: each module's providers, imports and exports, and which provider a module
//! sees under a token (Nest's module boundaries).

use std::any::{Any, TypeId};
use std::collections::HashMap;

use super::{DiError, Import, Injectable, Module, Provider, Recipe, Token, Value};

/// A module's place in the graph.
pub(crate) type ModuleId = usize;

/// A provider as the container keys it: the module that lists it, and its token. The same
/// token in two modules is two providers (two instances).
pub(crate) type Key = (ModuleId, Token);

/// What a module exports: one of its providers, or a module it imports (re-exported with
/// everything that module exports).
#[derive(Clone, PartialEq)]
enum Export {
    Token(Token),
    Module(ModuleId),
}

/// One module: its own providers, the modules it imports, what it exports.
pub(crate) struct ModuleNode {
    pub name: &'static str,
    /// The `#[module]` struct, for static modules (a dynamic module has none).
    id: Option<TypeId>,
    providers: HashMap<Token, Recipe>,
    imports: Vec<ModuleId>,
    exports: Vec<Export>,
    /// `#[global]`: its exports are visible to every module.
    global: bool,
}

impl ModuleNode {
    fn new(name: &'static str, id: Option<TypeId>) -> Self {
        ModuleNode {
            name,
            id,
            providers: HashMap::new(),
            imports: Vec::new(),
            exports: Vec::new(),
            global: false,
        }
    }
}

/// One controller a module lists, as the layer that serves it registered it (the app adds
/// `ModuleBuilder::controller`): opaque to the container, which only keeps the list in
/// order.
pub(crate) struct ControllerEntry {
    pub module: ModuleId,
    pub module_name: &'static str,
    pub entry: Box<dyn Any + Send + Sync>,
}

/// A module's stand-in: its name, and what it registers instead.
#[derive(Clone, Copy)]
pub(crate) struct ModuleReplacement {
    pub name: &'static str,
    pub configure: fn(&mut ModuleBuilder<'_>),
}

/// Everything collected from the module tree. Module 0 is the root.
#[derive(Default)]
pub(crate) struct Registry {
    pub modules: Vec<ModuleNode>,
    pub controllers: Vec<ControllerEntry>,
    pub errors: Vec<DiError>,
    /// Modules configured by another's `configure` (a testing module's `override_module`).
    pub replacements: HashMap<TypeId, ModuleReplacement>,
    /// The async providers, in registration order.
    pub async_order: Vec<Key>,
}

/// The root module's place.
pub(crate) const ROOT: ModuleId = 0;

impl Registry {
    /// The recipe of the provider `key` names.
    pub(super) fn recipe(&self, (module, token): &Key) -> Option<&Recipe> {
        self.modules.get(*module)?.providers.get(token)
    }

    /// The provider `from` sees under `token`: its own, then what the modules it imports
    /// export (in import order), then what global modules export.
    pub(crate) fn lookup(&self, from: ModuleId, token: &Token) -> Option<ModuleId> {
        let node = &self.modules[from];
        if node.providers.contains_key(token) {
            return Some(from);
        }
        let mut seen = vec![false; self.modules.len()];
        seen[from] = true;
        let globals = (0..self.modules.len()).filter(|&m| self.modules[m].global);
        node.imports
            .iter()
            .copied()
            .chain(globals)
            .find_map(|m| self.exported(m, token, &mut seen))
    }

    /// The module whose provider `module` exports under `token`, directly or through a
    /// module it re-exports.
    fn exported(&self, module: ModuleId, token: &Token, seen: &mut [bool]) -> Option<ModuleId> {
        if std::mem::replace(&mut seen[module], true) {
            return None;
        }
        self.modules[module]
            .exports
            .iter()
            .find_map(|export| match export {
                Export::Token(t) if t == token => Some(module),
                Export::Token(_) => None,
                Export::Module(m) => self.exported(*m, token, seen),
            })
    }

    /// A provider of `token` anywhere in the graph, the root's first: what `app.get(..)`
    /// finds (Nest's `strict: false`).
    pub(crate) fn anywhere(&self, token: &Token) -> Option<ModuleId> {
        self.lookup(ROOT, token).or_else(|| {
            (0..self.modules.len()).find(|&m| self.modules[m].providers.contains_key(token))
        })
    }

    /// Why `from` does not see `token`, as Nest's "Potential solutions", made precise when
    /// another module has it.
    pub(crate) fn hint(&self, from: ModuleId, token: &Token) -> String {
        let here = self.modules[from].name;
        let owners: Vec<ModuleId> = (0..self.modules.len())
            .filter(|&m| self.modules[m].providers.contains_key(token))
            .collect();
        let imported = |m: ModuleId| self.modules[from].imports.contains(&m);
        match owners.first() {
            Some(&owner) if imported(owner) => format!(
                "{} provides {token} but does not export it: add it to {}'s `exports = [..]`",
                self.modules[owner].name, self.modules[owner].name
            ),
            Some(&owner) => format!(
                "{token} is provided by {owner_name}, which {here} does not import: add {owner_name} to {here}'s `imports = [..]` (and {token} to {owner_name}'s `exports = [..]`), or make {owner_name} `#[global]`",
                owner_name = self.modules[owner].name
            ),
            None => format!(
                "if {token} is a provider, is it part of the current {here} (`providers = [..]`)? If it is exported from a separate module, is that module imported within {here} (`imports = [..]`)?"
            ),
        }
    }

    /// Replaces the provider of `provider`'s token in every module that lists it (or adds
    /// it to the root): a testing module's override, after the tree is configured.
    pub(crate) fn override_provider(&mut self, provider: Provider) {
        let is_async = matches!(provider.recipe, Recipe::Async(..));
        let mut owners: Vec<ModuleId> = (0..self.modules.len())
            .filter(|&m| self.modules[m].providers.contains_key(&provider.token))
            .collect();
        if owners.is_empty() {
            owners.push(ROOT);
        }
        self.async_order.retain(|(_, t)| *t != provider.token);
        for module in owners {
            if is_async {
                self.async_order.push((module, provider.token.clone()));
            }
            self.modules[module]
                .providers
                .insert(provider.token.clone(), provider.recipe.clone());
        }
    }

    /// Awaits every async provider, in registration order; what they and their arguments
    /// built, for the resolver that builds the rest.
    pub(crate) async fn build_async(&self) -> Result<super::Built, DiError> {
        let mut parts = super::Built::default();
        for key in &self.async_order {
            let Some(Recipe::Async(start, _)) = self.recipe(key) else {
                continue;
            };
            let future = {
                let mut resolver = super::Resolver::from_parts(self, std::mem::take(&mut parts));
                resolver.in_module(key.0);
                let future = start(&mut resolver);
                parts = resolver.finish();
                future?
            };
            let value: Value = future.await?;
            parts.0.insert(key.clone(), value);
        }
        Ok(parts)
    }
}

/// What can be listed in `#[module(exports = [..])]`: a class provider (what `#[injectable]`
/// implements), a module the exporting module imports (what `#[module]` implements, to
/// re-export it), or a dynamic module such as `ClientsModule`. String tokens are exported
/// with [`ModuleBuilder::export_token`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be exported: it is neither an `#[injectable]` class nor a `#[module]`",
    label = "not exportable",
    note = "`exports = [..]` takes class providers, imported modules, string tokens (\"USERS_SERVICE\") and `Token::of::<T>()` for a value provided by type"
)]
pub trait Exportable {
    /// Adds it to `module`'s exports.
    fn export(module: &mut ModuleBuilder<'_>);
}

/// What a module's `configure` writes into.
pub struct ModuleBuilder<'a> {
    registry: &'a mut Registry,
    module: ModuleId,
}

impl<'a> ModuleBuilder<'a> {
    /// The root of a module tree: `name` for messages, `id` for the imports (a module is
    /// configured once).
    pub(crate) fn root(registry: &'a mut Registry, name: &'static str, id: Option<TypeId>) -> Self {
        registry.modules.push(ModuleNode::new(name, id));
        ModuleBuilder {
            module: registry.modules.len() - 1,
            registry,
        }
    }

    fn node(&mut self) -> &mut ModuleNode {
        &mut self.registry.modules[self.module]
    }

    /// Imports a module or a dynamic module.
    pub fn import(&mut self, import: impl Import) {
        import.import(self);
    }

    fn add_import(&mut self, module: ModuleId) {
        if module != self.module && !self.node().imports.contains(&module) {
            self.node().imports.push(module);
        }
    }

    pub(super) fn import_module<M: Module>(&mut self) {
        let id = TypeId::of::<M>();
        // A module is configured once, however often it is imported: one set of instances.
        if let Some(existing) = self.registry.modules.iter().position(|m| m.id == Some(id)) {
            return self.add_import(existing);
        }
        let (name, configure): (&'static str, fn(&mut ModuleBuilder<'_>)) =
            match self.registry.replacements.get(&id) {
                Some(replacement) => (replacement.name, replacement.configure),
                None => (M::NAME, M::configure),
            };
        let module = self.configure_new(ModuleNode::new(name, Some(id)), configure);
        self.add_import(module);
    }

    fn configure_new(
        &mut self,
        node: ModuleNode,
        configure: impl FnOnce(&mut ModuleBuilder<'_>),
    ) -> ModuleId {
        self.registry.modules.push(node);
        let module = self.registry.modules.len() - 1;
        configure(&mut ModuleBuilder {
            registry: self.registry,
            module,
        });
        module
    }

    /// Imports a dynamic module (Nest's `DynamicModule`, what `ClientsModule::register` and
    /// `ConfigModule::for_root` return): a module of its own named `name`, configured by
    /// `configure`, whose exports the importing module sees. Each call makes a new module.
    pub fn import_dynamic(
        &mut self,
        name: &'static str,
        configure: impl FnOnce(&mut ModuleBuilder<'_>),
    ) {
        let module = self.configure_new(ModuleNode::new(name, None), configure);
        self.add_import(module);
    }

    fn register(&mut self, token: Token, recipe: Recipe) {
        if self.node().providers.contains_key(&token) {
            let module = self.node().name;
            self.registry.errors.push(DiError::Duplicate {
                token: token.to_string(),
                module,
            });
            return;
        }
        if matches!(recipe, Recipe::Async(..)) {
            self.registry.async_order.push((self.module, token.clone()));
        }
        self.node().providers.insert(token, recipe);
    }

    /// A class provider: built once, injected into fields of type `Arc<P>`.
    pub fn provider<P: Injectable + Send + Sync>(&mut self) {
        let build: super::Build = std::sync::Arc::new(|r| {
            let value = std::sync::Arc::new(P::construct(r)?);
            r.hooks.push(P::NAME, P::hooks(&value));
            Ok(std::sync::Arc::new(value) as Value)
        });
        self.register(
            Token::of::<std::sync::Arc<P>>(),
            Recipe::Build(build, P::NAME.into(), P::NAME),
        );
    }

    /// A value or factory provider.
    pub fn provide(&mut self, provider: Provider) {
        self.register(provider.token, provider.recipe);
    }

    /// `exports: [X]`: a class provider, an imported module, or a dynamic module (see
    /// [`Exportable`]).
    pub fn export<E: Exportable + ?Sized>(&mut self) {
        E::export(self);
    }

    /// `exports: ['TOKEN']`: one of this module's providers, by its token (a string, or
    /// [`Token::of`] for a value provided by type).
    pub fn export_token(&mut self, token: impl Into<Token>) {
        let token = token.into();
        if !self.node().providers.contains_key(&token) {
            let module = self.node().name;
            let imported = self.node().imports.clone();
            let through = imported.into_iter().find(|&m| {
                self.registry
                    .exported(m, &token, &mut vec![false; self.registry.modules.len()])
                    .is_some()
            });
            return self.registry.errors.push(DiError::UnknownExport {
                module,
                export: token.to_string(),
                hint: match through {
                    Some(m) => format!(
                        "; it comes from {0}, which {module} imports: export the module instead (`exports = [{0}]`)",
                        self.registry.modules[m].name
                    ),
                    None => String::new(),
                },
            });
        }
        let export = Export::Token(token);
        if !self.node().exports.contains(&export) {
            self.node().exports.push(export);
        }
    }

    /// Re-exports the module `M`, which this module imports: its importers see what `M`
    /// exports.
    pub fn export_module<M: Module>(&mut self) {
        let id = TypeId::of::<M>();
        let imported = self
            .node()
            .imports
            .clone()
            .into_iter()
            .find(|&m| self.registry.modules[m].id == Some(id));
        match imported {
            Some(module) => self.node().exports.push(Export::Module(module)),
            None => {
                let module = self.node().name;
                self.registry.errors.push(DiError::UnknownExport {
                    module,
                    export: M::NAME.to_owned(),
                    hint: format!("; import it first (`imports = [{}]`)", M::NAME),
                });
            }
        }
    }

    /// Re-exports every dynamic module named `name` this module imports (`exports =
    /// [ClientsModule]` after `imports = [ClientsModule::register(..)]`).
    pub fn export_dynamic(&mut self, name: &'static str) {
        let modules = &self.registry.modules;
        let found: Vec<ModuleId> = modules[self.module]
            .imports
            .iter()
            .copied()
            .filter(|&m| modules[m].id.is_none() && modules[m].name == name)
            .collect();
        if found.is_empty() {
            let module = self.node().name;
            return self.registry.errors.push(DiError::UnknownExport {
                module,
                export: name.to_owned(),
                hint: format!("; import it first (`imports = [{name}::..]`)"),
            });
        }
        for m in found {
            self.node().exports.push(Export::Module(m));
        }
    }

    /// Exports every provider this module lists so far: what a dynamic module such as
    /// `ClientsModule` does.
    pub fn export_all(&mut self) {
        let tokens: Vec<Token> = self.node().providers.keys().cloned().collect();
        for token in tokens {
            self.export_token(token);
        }
    }

    /// `@Global()`: this module's exports are visible to every module, imported or not.
    pub fn global(&mut self) {
        self.node().global = true;
    }

    /// Whether this module lists a provider under `token` so far.
    pub fn provides(&self, token: &Token) -> bool {
        self.registry.modules[self.module]
            .providers
            .contains_key(token)
    }

    /// The module being configured (for messages).
    pub fn module_name(&self) -> &'static str {
        self.registry.modules[self.module].name
    }

    /// Fails the boot with `error` (a dynamic module whose set-up went wrong).
    pub fn fail(&mut self, error: DiError) {
        self.registry.errors.push(error);
    }

    /// Adds a controller, in list order, for the app layer to build and mount.
    pub(crate) fn push_controller(&mut self, entry: Box<dyn Any + Send + Sync>) {
        let module_name = self.module_name();
        self.registry.controllers.push(ControllerEntry {
            module: self.module,
            module_name,
            entry,
        });
    }
}
