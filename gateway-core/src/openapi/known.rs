//! Schemas for this crate's own answer types.

use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

use crate::health::HealthCheckResult;

/// terminus's check result, as `@HealthCheck()` documents it (one schema for both answers:
/// `ok`/`degraded` with 200, `error`/`shutting_down` with 503).
impl PartialSchema for HealthCheckResult {
    fn schema() -> RefOr<Schema> {
        let indicators = || {
            ObjectBuilder::new()
                .schema_type(Type::Object)
                .additional_properties(Some(
                    ObjectBuilder::new()
                        .schema_type(Type::Object)
                        .property(
                            "status",
                            ObjectBuilder::new()
                                .schema_type(Type::String)
                                .enum_values(Some(["up", "degraded", "down"])),
                        )
                        .property(
                            "responseTime",
                            ObjectBuilder::new()
                                .schema_type(Type::Number)
                                .description(Some(
                                    "Time the health indicator took to respond, in ms",
                                )),
                        )
                        .required("status"),
                ))
        };
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .property(
                "status",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(["ok", "degraded", "error", "shutting_down"])),
            )
            .property("info", indicators())
            .property("error", indicators())
            .property("details", indicators())
            .into()
    }
}

impl ToSchema for HealthCheckResult {
    fn name() -> std::borrow::Cow<'static, str> {
        "HealthCheckResult".into()
    }
}
