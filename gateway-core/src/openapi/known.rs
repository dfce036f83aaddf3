//! Schemas for this crate's own answer types.

use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

use crate::health::HealthCheckResult;

/// terminus's check result, as `@HealthCheck()` documents it.
impl PartialSchema for HealthCheckResult {
    fn schema() -> RefOr<Schema> {
        let indicators = || {
            ObjectBuilder::new()
                .schema_type(Type::Object)
                .additional_properties(Some(
                    ObjectBuilder::new()
                        .schema_type(Type::Object)
                        .property("status", ObjectBuilder::new().schema_type(Type::String))
                        .required("status"),
                ))
        };
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .property(
                "status",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(["ok", "error", "shutting_down"])),
            )
            .property("info", indicators())
            .property("error", indicators())
            .property("details", indicators())
            .required("status")
            .into()
    }
}

impl ToSchema for HealthCheckResult {
    fn name() -> std::borrow::Cow<'static, str> {
        "HealthCheckResult".into()
    }
}
