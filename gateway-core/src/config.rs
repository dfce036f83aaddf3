//! Nest's `@nestjs/config`: settings from the environment and a `.env` file, read once at
//! boot, through an injected [`ConfigService`] or as typed structs checked at boot.
//!
//! ```
//! # use gateway_core::prelude::*;
//! # use gateway_core::config::{ConfigModule, ConfigService};
//! #[derive(Clone, serde::Deserialize)]
//! struct Services {
//!     users_port: u16,           // USERS_PORT
//!     orders_port: Option<u16>,  // ORDERS_PORT, optional
//! }
//!
//! let config = ConfigModule::for_root()
//!     .with_values([("USERS_PORT", "3001")]) // what the environment would hold
//!     .ignore_env_file()
//!     .load::<Services>();
//! ```
//!
//! A class then takes `config: ConfigService` (or `services: Services`) as a field. A
//! missing or malformed setting of a loaded struct fails the boot, naming the variable and
//! the module that imported the configuration.
//!
//! What wins, as in `@nestjs/config`: the process's environment over the `.env` file; the
//! first of several files over the next.

use std::collections::HashMap;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;

use serde::de::DeserializeOwned;

use crate::di::{DiError, Exportable, Import, ModuleBuilder, Provider};

/// Nest's `ConfigService`: the settings, by name. Cheap to clone; inject it by type.
#[derive(Clone, Debug, Default)]
pub struct ConfigService {
    values: Arc<HashMap<String, String>>,
}

/// Why a setting could not be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// Not set.
    #[error("the setting {key} is missing")]
    Missing {
        /// The variable's name.
        key: String,
    },
    /// Set, but not what was asked for.
    #[error("the setting {key} is malformed: {value:?} is not a {expected}")]
    Malformed {
        /// The variable's name.
        key: String,
        /// Its value.
        value: String,
        /// The type asked for.
        expected: &'static str,
    },
}

impl ConfigService {
    /// A service holding exactly `values` (for tests and hand-made configurations).
    pub fn from_values<K: Into<String>, V: Into<String>>(
        values: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        ConfigService {
            values: Arc::new(
                values
                    .into_iter()
                    .map(|(k, v)| (k.into(), v.into()))
                    .collect(),
            ),
        }
    }

    /// `config.get<number>('PORT')`: the setting parsed as `T`; `None` when it is missing or
    /// does not parse (use [`get_or_throw`](Self::get_or_throw) to tell which).
    pub fn get<T: FromStr>(&self, key: &str) -> Option<T> {
        self.values.get(key)?.parse().ok()
    }

    /// `config.get('PORT', 3000)`: the setting, or `default` when it is missing or malformed.
    pub fn get_or<T: FromStr>(&self, key: &str, default: T) -> T {
        self.get(key).unwrap_or(default)
    }

    /// `config.getOrThrow('PORT')`: the setting, or why not.
    pub fn get_or_throw<T: FromStr>(&self, key: &str) -> Result<T, ConfigError> {
        let value = self.values.get(key).ok_or_else(|| ConfigError::Missing {
            key: key.to_owned(),
        })?;
        value.parse().map_err(|_| ConfigError::Malformed {
            key: key.to_owned(),
            value: value.clone(),
            expected: std::any::type_name::<T>(),
        })
    }

    /// The raw text of a setting.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    /// A typed view of every setting: `T`'s fields are the variables, lower-cased
    /// (`users_port` reads `USERS_PORT`), parsed from text; `Option` fields may be missing.
    pub fn load<T: DeserializeOwned>(&self) -> Result<T, String> {
        envy::from_iter(self.values.iter().map(|(k, v)| (k.clone(), v.clone())))
            .map_err(|error| describe(error, ""))
    }

    /// [`load`](Self::load) of the variables starting with `prefix` (`USERS_` reads
    /// `USERS_PORT` into `port`).
    pub fn load_prefixed<T: DeserializeOwned>(&self, prefix: &str) -> Result<T, String> {
        envy::prefixed(prefix)
            .from_iter(self.values.iter().map(|(k, v)| (k.clone(), v.clone())))
            .map_err(|error| describe(error, prefix))
    }
}

/// envy's error, with the variable's name as it is set (upper case, prefixed).
fn describe(error: envy::Error, prefix: &str) -> String {
    match error {
        envy::Error::MissingValue(field) => {
            format!("the setting {prefix}{} is missing", field.to_uppercase())
        }
        envy::Error::Custom(message) => format!("a setting is malformed: {message}"),
    }
}

/// A typed configuration to load at boot.
/// Its arguments: the settings, the `ConfigModule` being configured, and the module that
/// imports it (named in errors).
type Load = Box<dyn FnOnce(&ConfigService, &mut ModuleBuilder<'_>, &'static str)>;

/// Nest's `ConfigModule.forRoot(options)`: imports a [`ConfigService`] (by type) with the
/// process's environment and a `.env` file, and the typed configurations it is asked to
/// [`load`](Self::load). As in Nest, it is visible to the module that imports it, or to every
/// module with [`is_global`](Self::is_global) (`isGlobal: true`, what a client's factory in
/// `ClientsModule::register_async` needs unless it imports the module itself).
pub struct ConfigModule {
    global: bool,
    env_files: Vec<PathBuf>,
    ignore_env_file: bool,
    ignore_env_vars: bool,
    values: Vec<(String, String)>,
    loads: Vec<Load>,
}

impl ConfigModule {
    /// `ConfigModule.forRoot()`: the environment, then `.env` in the working directory if
    /// there is one.
    pub fn for_root() -> Self {
        ConfigModule {
            global: false,
            env_files: vec![PathBuf::from(".env")],
            ignore_env_file: false,
            ignore_env_vars: false,
            values: Vec::new(),
            loads: Vec::new(),
        }
    }

    /// `envFilePath`: read these files instead of `.env` (the first that sets a variable
    /// wins). A file that does not exist is skipped.
    pub fn env_file_path<P: Into<PathBuf>>(mut self, paths: impl IntoIterator<Item = P>) -> Self {
        self.env_files = paths.into_iter().map(Into::into).collect();
        self
    }

    /// `isGlobal: true`: the [`ConfigService`] and the loaded configurations are visible to
    /// every module, imported or not.
    pub fn is_global(mut self) -> Self {
        self.global = true;
        self
    }

    /// `ignoreEnvFile: true`: no file is read.
    pub fn ignore_env_file(mut self) -> Self {
        self.ignore_env_file = true;
        self
    }

    /// `ignoreEnvVars: true`: the process's environment is not read (files and
    /// [`with_values`](Self::with_values) only).
    pub fn ignore_env_vars(mut self) -> Self {
        self.ignore_env_vars = true;
        self
    }

    /// Settings given here (a test's, a default's); the environment and files win over them.
    pub fn with_values<K: Into<String>, V: Into<String>>(
        mut self,
        values: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        self.values
            .extend(values.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// `load: [config]` with validation: `T` is read from the settings at boot
    /// ([`ConfigService::load`]) and provided by type; a missing or malformed setting fails
    /// the boot, naming it.
    pub fn load<T: DeserializeOwned + Clone + Send + Sync + 'static>(mut self) -> Self {
        self.loads.push(Box::new(|config, into, asked| {
            register(into, config.load::<T>(), asked);
        }));
        self
    }

    /// [`load`](Self::load) of the variables starting with `prefix`.
    pub fn load_prefixed<T: DeserializeOwned + Clone + Send + Sync + 'static>(
        mut self,
        prefix: &'static str,
    ) -> Self {
        self.loads.push(Box::new(move |config, into, asked| {
            register(into, config.load_prefixed::<T>(prefix), asked);
        }));
        self
    }

    /// The settings this module would provide: what the boot reads.
    pub fn read(&self) -> Result<ConfigService, DiError> {
        let mut values: HashMap<String, String> = self.values.iter().cloned().collect();
        if !self.ignore_env_file {
            // Later files first, so the first file's values win.
            for path in self.env_files.iter().rev() {
                let entries = match dotenvy::from_path_iter(path) {
                    Ok(entries) => entries,
                    Err(error) if error.not_found() => continue,
                    Err(error) => return Err(file_error(path, error)),
                };
                for entry in entries {
                    let (key, value) = entry.map_err(|error| file_error(path, error))?;
                    values.insert(key, value);
                }
            }
        }
        if !self.ignore_env_vars {
            // `vars()` would panic on a variable that is not UTF-8; such a one is skipped.
            values.extend(
                std::env::vars_os()
                    .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))),
            );
        }
        Ok(ConfigService {
            values: Arc::new(values),
        })
    }
}

fn file_error(path: &std::path::Path, error: dotenvy::Error) -> DiError {
    DiError::Config {
        message: format!("{} cannot be read: {error}", path.display()),
        module: "ConfigModule",
    }
}

fn register<T: Clone + Send + Sync + 'static>(
    into: &mut ModuleBuilder<'_>,
    loaded: Result<T, String>,
    asked: &'static str,
) {
    match loaded {
        Ok(value) => into.provide(Provider::typed(value)),
        Err(message) => {
            into.fail(DiError::Config {
                message: format!("{message} (reading {})", std::any::type_name::<T>()),
                module: asked,
            });
        }
    }
}

impl Import for ConfigModule {
    /// A module of its own, named `ConfigModule`, that exports the [`ConfigService`] and the
    /// loaded configurations (to every module when [`is_global`](ConfigModule::is_global)).
    fn import(self, into: &mut ModuleBuilder<'_>) {
        let asked = into.module_name();
        into.import_dynamic("ConfigModule", move |module| {
            let config = match self.read() {
                Ok(config) => config,
                Err(DiError::Config { message, .. }) => {
                    return module.fail(DiError::Config {
                        message,
                        module: asked,
                    });
                }
                Err(other) => return module.fail(other),
            };
            for load in self.loads {
                load(&config, module, asked);
            }
            module.provide(Provider::typed(config));
            module.export_all();
            if self.global {
                module.global();
            }
        });
    }
}

impl Exportable for ConfigModule {
    /// `exports: [ConfigModule]`: the importing module's `ConfigModule`, re-exported.
    fn export(module: &mut ModuleBuilder<'_>) {
        module.export_dynamic("ConfigModule");
    }
}
