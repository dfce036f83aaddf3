use gateway_core::prelude::*;

/// A value provided by type: exported with `Token::of::<Settings>()`, not by its bare name.
#[derive(Clone)]
struct Settings;

#[module(providers = [Provider::typed(Settings)], exports = [Settings])]
struct SettingsModule;

fn main() {}
