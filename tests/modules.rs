//! Module boundaries, as Nest's: a module's providers are its own unless it exports them;
//! importers see exports (re-exported modules included), `#[global]` modules are seen by
//! all, the same token in two modules is two providers, and a boot error says which module
//! to import or which provider to export. Requests run in process (`testing`).

use std::sync::Arc;

use gateway_core::config::{ConfigModule, ConfigService};
use gateway_core::di::Module;
use gateway_core::testing::Test;

use gateway_core::prelude::*;

#[derive(Clone, Debug, PartialEq)]
struct Greeting(&'static str);

#[injectable]
struct GreetingService {
    greeting: Greeting,
}

#[injectable]
struct GreetController {
    service: Arc<GreetingService>,
}

#[controller]
impl GreetController {
    #[get("greet")]
    async fn greet(&self) -> String {
        self.service.greeting.0.to_owned()
    }
}

async fn boot<M: Module>() -> Result<String, BootError> {
    let module = Test::create_testing_module::<M>().compile().await?;
    let app = module.create_nest_application().into_test();
    Ok(app.get("/greet").send().await.text().to_owned())
}

async fn boot_error<M: Module>() -> String {
    boot::<M>().await.unwrap_err().to_string()
}

// --- exports refused and allowed ---

/// Provides the service, exports nothing.
#[module(providers = [GreetingService, Provider::typed(Greeting("Hello"))])]
struct PrivateModule;

#[module(imports = [PrivateModule], controllers = [GreetController])]
struct ImportsPrivateModule;

/// Exports the service; the greeting it needs stays private (the service is built in its own
/// module, where the greeting is visible).
#[module(providers = [GreetingService, Provider::typed(Greeting("Hello"))], exports = [GreetingService])]
struct GreetingModule;

#[module(imports = [GreetingModule], controllers = [GreetController])]
struct ImportsGreetingModule;

#[tokio::test]
async fn a_provider_that_is_not_exported_is_refused_and_an_exported_one_is_seen() {
    assert_eq!(
        boot_error::<ImportsPrivateModule>().await,
        "can't resolve dependencies of GreetController (field `service` needs alloc::sync::Arc<modules::GreetingService>): please make sure that alloc::sync::Arc<modules::GreetingService> is available in the ImportsPrivateModule context. Potential solution: PrivateModule provides alloc::sync::Arc<modules::GreetingService> but does not export it: add it to PrivateModule's `exports = [..]`"
    );
    assert_eq!(boot::<ImportsGreetingModule>().await.unwrap(), "Hello");
}

/// Needs the greeting, which `GreetingModule` keeps to itself.
#[injectable]
struct PeekController {
    greeting: Greeting,
}

#[controller]
impl PeekController {
    #[get("peek")]
    async fn peek(&self) -> &'static str {
        self.greeting.0
    }
}

#[module(imports = [GreetingModule], controllers = [PeekController])]
struct PeeksModule;

#[tokio::test]
async fn what_an_exported_provider_needs_stays_private() {
    let error = boot_error::<PeeksModule>().await;
    assert!(
        error.starts_with("can't resolve dependencies of PeekController (field `greeting` needs modules::Greeting): please make sure that modules::Greeting is available in the PeeksModule context. Potential solution: GreetingModule provides modules::Greeting but does not export it"),
        "{error}"
    );
}

/// Re-exports `GreetingModule`: its importers see what `GreetingModule` exports.
#[module(imports = [GreetingModule], exports = [GreetingModule])]
struct ReexportingModule;

#[module(imports = [ReexportingModule], controllers = [GreetController])]
struct ImportsReexportingModule;

/// Imports `GreetingModule` without re-exporting it.
#[module(imports = [GreetingModule])]
struct WrappingModule;

#[module(imports = [WrappingModule], controllers = [GreetController])]
struct ImportsWrappingModule;

#[tokio::test]
async fn a_reexported_module_is_seen_through_and_an_imported_one_is_not() {
    assert_eq!(boot::<ImportsReexportingModule>().await.unwrap(), "Hello");
    let error = boot_error::<ImportsWrappingModule>().await;
    assert!(
        error.contains("is available in the ImportsWrappingModule context. Potential solution: alloc::sync::Arc<modules::GreetingService> is provided by GreetingModule, which ImportsWrappingModule does not import"),
        "{error}"
    );
}

// --- string tokens and dynamic modules ---

#[injectable]
struct ClientController {
    #[inject("USERS_SERVICE")]
    users: ClientProxy,
    #[inject("REGION")]
    region: String,
}

#[controller]
impl ClientController {
    #[get("greet")]
    async fn greet(&self) -> String {
        format!("{} via {}", self.region, self.users.name())
    }
}

/// Shares its client and a token with its importers: `exports = [ClientsModule, "REGION"]`.
#[module(
    imports = [ClientsModule::register([ClientOptions::tcp("USERS_SERVICE", "127.0.0.1:9")])],
    providers = [Provider::value("REGION", "eu-west".to_owned())],
    exports = [ClientsModule, "REGION"],
)]
struct UsersClientModule;

#[module(imports = [UsersClientModule], controllers = [ClientController])]
struct SharesClientModule;

/// Registers the client but keeps it.
#[module(
    imports = [ClientsModule::register([ClientOptions::tcp("USERS_SERVICE", "127.0.0.1:9")])],
    providers = [Provider::value("REGION", "eu-west".to_owned())],
    exports = ["REGION"],
)]
struct KeepsClientModule;

#[module(imports = [KeepsClientModule], controllers = [ClientController])]
struct NoClientModule;

#[tokio::test]
async fn dynamic_modules_and_string_tokens_are_exported_by_name() {
    assert_eq!(
        boot::<SharesClientModule>().await.unwrap(),
        "eu-west via USERS_SERVICE"
    );
    let error = boot_error::<NoClientModule>().await;
    assert!(
        error.starts_with("can't resolve dependencies of ClientController (field `users` needs USERS_SERVICE): please make sure that USERS_SERVICE is available in the NoClientModule context. Potential solution: USERS_SERVICE is provided by ClientsModule, which NoClientModule does not import"),
        "{error}"
    );
}

// --- global modules ---

/// `@Global()`: exported to every module.
#[global]
#[module(providers = [Provider::typed(Greeting("Bonjour"))], exports = [Token::of::<Greeting>()])]
struct GreetingsEverywhereModule;

/// Needs a greeting and imports nothing: the global module gives it.
#[module(providers = [GreetingService], controllers = [GreetController])]
struct FeatureModule;

#[module(imports = [GreetingsEverywhereModule, FeatureModule])]
struct GlobalRootModule;

/// The same tree with the greetings module not global.
#[module(providers = [Provider::typed(Greeting("Bonjour"))], exports = [Token::of::<Greeting>()])]
struct GreetingsHereModule;

#[module(imports = [GreetingsHereModule, FeatureModule])]
struct LocalRootModule;

#[tokio::test]
async fn a_global_module_is_seen_by_modules_that_do_not_import_it() {
    assert_eq!(boot::<GlobalRootModule>().await.unwrap(), "Bonjour");
    let error = boot_error::<LocalRootModule>().await;
    assert!(
        error.contains("is available in the FeatureModule context. Potential solution: modules::Greeting is provided by GreetingsHereModule, which FeatureModule does not import"),
        "{error}"
    );
}

#[injectable]
struct ConfigController {
    config: ConfigService,
}

#[controller]
impl ConfigController {
    #[get("greet")]
    async fn greet(&self) -> String {
        self.config.get_or("GREETING", "?".to_owned())
    }
}

#[module(controllers = [ConfigController])]
struct ConfigFeatureModule;

fn config() -> ConfigModule {
    ConfigModule::for_root()
        .ignore_env_file()
        .ignore_env_vars()
        .with_values([("GREETING", "Hallo")])
}

#[module(imports = [config().is_global(), ConfigFeatureModule])]
struct GlobalConfigModule;

#[module(imports = [config(), ConfigFeatureModule])]
struct LocalConfigModule;

#[module(imports = [config()], controllers = [ConfigController])]
struct ConfigImporterModule;

#[tokio::test]
async fn config_module_is_seen_by_its_importer_or_everywhere_when_global() {
    assert_eq!(boot::<GlobalConfigModule>().await.unwrap(), "Hallo");
    assert_eq!(boot::<ConfigImporterModule>().await.unwrap(), "Hallo");
    let error = boot_error::<LocalConfigModule>().await;
    assert!(
        error.contains("is available in the ConfigFeatureModule context. Potential solution: gateway_core::config::ConfigService is provided by ConfigModule, which ConfigFeatureModule does not import"),
        "{error}"
    );
}

// --- the same token in two modules ---

#[injectable]
struct EnglishController {
    service: Arc<GreetingService>,
}

#[controller]
impl EnglishController {
    #[get("en")]
    async fn greet(&self) -> &'static str {
        self.service.greeting.0
    }
}

#[injectable]
struct FrenchController {
    service: Arc<GreetingService>,
}

#[controller]
impl FrenchController {
    #[get("fr")]
    async fn greet(&self) -> &'static str {
        self.service.greeting.0
    }
}

#[module(providers = [GreetingService, Provider::typed(Greeting("Hello"))], controllers = [EnglishController])]
struct EnglishModule;

#[module(providers = [GreetingService, Provider::typed(Greeting("Salut"))], controllers = [FrenchController])]
struct FrenchModule;

#[module(imports = [EnglishModule, FrenchModule])]
struct BilingualModule;

#[tokio::test]
async fn the_same_token_in_two_modules_is_two_providers() {
    let module = Test::create_testing_module::<BilingualModule>()
        .compile()
        .await
        .unwrap();
    // `app.get(GreetingService)` finds one in any module (Nest's `strict: false`).
    let service: Arc<GreetingService> = module.get().unwrap();
    assert_eq!(service.greeting, Greeting("Hello"));
    let app = module.create_nest_application().into_test();
    assert_eq!(app.get("/en").send().await.text(), "Hello");
    assert_eq!(app.get("/fr").send().await.text(), "Salut");
}

#[tokio::test]
async fn an_override_replaces_the_token_in_every_module() {
    let module = Test::create_testing_module::<BilingualModule>()
        .override_provider_type::<Greeting>()
        .use_value(Greeting("Hoi"))
        .compile()
        .await
        .unwrap();
    let app = module.create_nest_application().into_test();
    assert_eq!(app.get("/en").send().await.text(), "Hoi");
    assert_eq!(app.get("/fr").send().await.text(), "Hoi");
}

// --- exports a module does not have ---

#[module(providers = [Provider::typed(Greeting("Hello"))], exports = [GreetingService])]
struct ExportsForeignModule;

#[module(imports = [ExportsForeignModule], controllers = [GreetController])]
struct ImportsExportsForeignModule;

#[module(exports = [GreetingModule])]
struct ExportsUnimportedModule;

#[module(imports = [ExportsUnimportedModule], controllers = [GreetController])]
struct ImportsExportsUnimportedModule;

#[module(imports = [GreetingModule], exports = ["REGION"])]
struct ExportsMissingTokenModule;

#[module(imports = [ExportsMissingTokenModule], controllers = [GreetController])]
struct ImportsExportsMissingTokenModule;

#[tokio::test]
async fn exporting_what_a_module_does_not_have_fails_the_boot() {
    assert_eq!(
        boot_error::<ImportsExportsForeignModule>().await,
        "ExportsForeignModule cannot export alloc::sync::Arc<modules::GreetingService>: it is not a provider or an imported module of ExportsForeignModule"
    );
    assert_eq!(
        boot_error::<ImportsExportsUnimportedModule>().await,
        "ExportsUnimportedModule cannot export GreetingModule: it is not a provider or an imported module of ExportsUnimportedModule; import it first (`imports = [GreetingModule]`)"
    );
    assert_eq!(
        boot_error::<ImportsExportsMissingTokenModule>().await,
        "ExportsMissingTokenModule cannot export REGION: it is not a provider or an imported module of ExportsMissingTokenModule"
    );
}

/// Exports a token it only sees through an import: Nest refuses; the message says to export
/// the module.
#[module(imports = [GreetingModule], exports = [GreetingService])]
struct ExportsImportedProviderModule;

#[module(imports = [ExportsImportedProviderModule], controllers = [GreetController])]
struct ImportsExportsImportedProviderModule;

#[tokio::test]
async fn exporting_an_imported_provider_names_the_module_to_export() {
    assert_eq!(
        boot_error::<ImportsExportsImportedProviderModule>().await,
        "ExportsImportedProviderModule cannot export alloc::sync::Arc<modules::GreetingService>: it is not a provider or an imported module of ExportsImportedProviderModule; it comes from GreetingModule, which ExportsImportedProviderModule imports: export the module instead (`exports = [GreetingModule]`)"
    );
}
