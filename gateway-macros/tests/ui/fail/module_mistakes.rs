use gateway_core::prelude::*;

// A misspelled list.
#[module(export = ["USERS_SERVICE"])]
struct MisspelledList;

// `#[global]` on a struct that is not a module.
#[global]
struct NotAModule;

// `#[global]` takes no arguments.
#[global(true)]
#[module()]
struct GlobalWithArguments;

fn main() {}
