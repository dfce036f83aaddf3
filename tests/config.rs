//! `ConfigModule` / `ConfigService` (Nest's `@nestjs/config`): a `.env` file and the
//! environment read at boot, typed settings checked at boot, errors naming the setting and
//! the module.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use gateway_core::config::{ConfigError, ConfigModule, ConfigService};
use gateway_core::prelude::*;
use gateway_core::testing::Test;
use serde::Deserialize;

/// This process's `.env` file for the tests (written once).
fn env_file() -> PathBuf {
    static FILE: OnceLock<PathBuf> = OnceLock::new();
    FILE.get_or_init(|| {
        let path = std::env::temp_dir().join(format!("gateway-config-{}.env", std::process::id()));
        std::fs::write(
            &path,
            "# the gateway's settings\nUSERS_PORT=3001\nGREETING=\"Hello there\"\nCFG_TEST_PRECEDENCE=from-file\nORDERS_HOST=orders.internal\nORDERS_PORT=3002\n",
        )
        .unwrap();
        path
    })
    .clone()
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
struct Settings {
    users_port: u16,
    greeting: String,
    missing_but_optional: Option<String>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
struct OrdersSettings {
    host: String,
    port: u16,
}

#[injectable]
struct SettingsController {
    config: ConfigService,
    settings: Settings,
}

#[controller]
impl SettingsController {
    #[get("greeting")]
    async fn greeting(&self) -> String {
        format!(
            "{} from {} ({})",
            self.settings.greeting,
            self.settings.users_port,
            self.config.get_or("CFG_TEST_PRECEDENCE", "?".to_owned())
        )
    }
}

#[module(
    imports = [ConfigModule::for_root()
        .env_file_path([env_file()])
        .load::<Settings>()
        .load_prefixed::<OrdersSettings>("ORDERS_")],
    controllers = [SettingsController],
)]
struct SettingsModule;

#[tokio::test]
async fn a_dot_env_file_and_the_environment_are_read_at_boot() {
    // The environment wins over the file.
    std::env::set_var("CFG_TEST_PRECEDENCE", "from-env");
    let module = Test::create_testing_module::<SettingsModule>()
        .compile()
        .await
        .expect("the settings are complete");
    let settings: Settings = module.get().unwrap();
    assert_eq!(
        settings,
        Settings {
            users_port: 3001,
            greeting: "Hello there".into(),
            missing_but_optional: None,
        }
    );
    assert_eq!(
        module.get::<OrdersSettings>().unwrap(),
        OrdersSettings {
            host: "orders.internal".into(),
            port: 3002
        }
    );
    let config: ConfigService = module.get().unwrap();
    assert_eq!(config.get::<u16>("USERS_PORT"), Some(3001));
    assert_eq!(config.get_str("CFG_TEST_PRECEDENCE"), Some("from-env"));
    let res = module
        .create_nest_application()
        .into_test()
        .get("/greeting")
        .send()
        .await;
    assert_eq!(res.text(), "Hello there from 3001 (from-env)");
}

#[derive(Clone, Debug, Deserialize)]
struct Required {
    #[allow(dead_code)]
    database_url: String,
}

#[derive(Clone, Debug, Deserialize)]
struct Ported {
    #[allow(dead_code)]
    users_port: u16,
}

#[injectable]
struct NeedsRequired {
    _required: Required,
}

#[controller]
impl NeedsRequired {
    #[get("x")]
    async fn x(&self) -> &'static str {
        "x"
    }
}

#[module(
    imports = [ConfigModule::for_root().ignore_env_file().ignore_env_vars().load::<Required>()],
    controllers = [NeedsRequired],
)]
struct MissingSettingModule;

#[module(
    imports = [ConfigModule::for_root().ignore_env_file().ignore_env_vars().with_values([("USERS_PORT", "three thousand")]).load::<Ported>()],
    controllers = [NeedsRequired],
)]
struct MalformedSettingModule;

#[tokio::test]
async fn a_missing_or_malformed_setting_fails_the_boot_naming_it() {
    let error = NestFactory::create::<MissingSettingModule>()
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(
        error,
        "the setting DATABASE_URL is missing (reading config::Required) (asked for by MissingSettingModule)"
    );
    let error = Test::create_testing_module::<MalformedSettingModule>()
        .compile()
        .await
        .unwrap_err()
        .to_string();
    assert!(error.starts_with("a setting is malformed: "), "{error}");
    assert!(error.contains("three thousand"), "{error}");
    assert!(
        error.ends_with("(reading config::Ported) (asked for by MalformedSettingModule)"),
        "{error}"
    );
}

#[test]
fn the_service_reads_typed_values() {
    let config = ConfigService::from_values([("PORT", "3000"), ("DEBUG", "true"), ("NAME", "gw")]);
    assert_eq!(config.get::<u16>("PORT"), Some(3000));
    assert_eq!(config.get::<bool>("DEBUG"), Some(true));
    assert_eq!(config.get::<u16>("NAME"), None);
    assert_eq!(config.get_or("MISSING", 8080u16), 8080);
    assert_eq!(
        config.get_or_throw::<u16>("MISSING"),
        Err(ConfigError::Missing {
            key: "MISSING".into()
        })
    );
    assert_eq!(
        config.get_or_throw::<u16>("NAME").unwrap_err().to_string(),
        "the setting NAME is malformed: \"gw\" is not a u16"
    );
    let _ = Arc::new(config);
}
