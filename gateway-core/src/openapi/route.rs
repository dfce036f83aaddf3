//! One route's description, written by the code `#[controller]` generates (see
//! `gateway-macros/src/controller/api.rs`): calls on [`RouteDocs`], which the document
//! builder turns into an OpenAPI operation. Schemas come from `utoipa::ToSchema`.

use std::borrow::Cow;

use serde_json::{json, Map, Value};
use utoipa::openapi::{RefOr, Schema};
use utoipa::ToSchema;

/// A type with an OpenAPI schema: every type `#[derive(ToSchema)]` gives one (and the
/// primitives, `Vec`s and maps of them). A route's parameter, query, body or answer type needs
/// one; the compiler says which type lacks it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no OpenAPI schema, and a route's contract uses it",
    label = "this type needs a schema for the OpenAPI document",
    note = "derive one: `#[derive(gateway_core::openapi::ToSchema)]` on `{Self}` (Nest's `@ApiProperty()` on a DTO's fields)"
)]
pub trait ApiSchema {
    /// The schema, and the named schemas it refers to.
    fn api_schema(named: &mut Vec<(String, RefOr<Schema>)>) -> (Cow<'static, str>, RefOr<Schema>);
}

impl<T: ToSchema + ?Sized> ApiSchema for T {
    fn api_schema(named: &mut Vec<(String, RefOr<Schema>)>) -> (Cow<'static, str>, RefOr<Schema>) {
        T::schemas(named);
        (T::name(), T::schema())
    }
}

/// Who may call the route, as far as the document is concerned.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) enum Access {
    /// Whatever the app's global guards and security requirements say.
    #[default]
    App,
    /// `#[public]`: no credentials (`security: []`).
    Public,
    /// A guard of its controller or its own: 401 and 403 possible.
    Guarded,
}

/// What a route says of itself (see the module docs). Its methods are called by generated
/// code only.
#[derive(Debug, Default)]
pub struct RouteDocs {
    pub(crate) operation_id: String,
    pub(crate) excluded: bool,
    pub(crate) tags: Vec<String>,
    pub(crate) summary: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) parameters: Vec<Value>,
    pub(crate) request_body: Option<Value>,
    pub(crate) responses: Map<String, Value>,
    pub(crate) errors: Vec<u16>,
    pub(crate) access: Access,
    pub(crate) bearer: Option<String>,
    /// Named schemas (`components.schemas`), in the order they were met.
    pub(crate) schemas: Vec<(String, Value)>,
    /// Types of the contract without a schema.
    pub(crate) missing: Vec<&'static str>,
}

/// How generated code finds a type's schema, or records that it has none (autoref
/// specialization: `(&&Probe::<T>::NEW).describe(doc)` picks `Described` when `T` has a
/// schema, `Undescribed` otherwise).
#[doc(hidden)]
pub mod __probe {
    use std::marker::PhantomData;

    use serde_json::Value;

    use super::{ApiSchema, RouteDocs};

    pub struct Probe<T: ?Sized>(PhantomData<fn() -> Box<T>>);

    impl<T: ?Sized> Probe<T> {
        pub const NEW: Self = Probe(PhantomData);
    }

    pub trait Described {
        fn describe(&self, doc: &mut RouteDocs) -> Value;
    }

    impl<T: ApiSchema + ?Sized> Described for &Probe<T> {
        fn describe(&self, doc: &mut RouteDocs) -> Value {
            doc.schema::<T>()
        }
    }

    pub trait Undescribed {
        fn describe(&self, doc: &mut RouteDocs) -> Value;
    }

    impl<T: ?Sized> Undescribed for Probe<T> {
        fn describe(&self, doc: &mut RouteDocs) -> Value {
            doc.missing(std::any::type_name::<T>())
        }
    }
}

#[doc(hidden)]
impl RouteDocs {
    /// Nest's `operationId`: `GatewayController_getUser` (the method's name in camel case).
    pub fn operation(&mut self, controller: &str, handler: &str) {
        self.operation_id = format!("{controller}_{}", camel(handler));
    }

    pub fn exclude(&mut self) {
        self.excluded = true;
    }

    pub fn tags(&mut self, tags: &[&str]) {
        for tag in tags {
            if !self.tags.iter().any(|t| t == tag) {
                self.tags.push((*tag).to_owned());
            }
        }
    }

    pub fn summary(&mut self, summary: Option<&str>, description: Option<&str>) {
        self.summary = summary.map(str::to_owned);
        self.description = description.map(str::to_owned);
    }

    /// `T`'s schema: a `$ref` for a named object or enum (kept in `components.schemas`), else
    /// inline.
    pub fn schema<T: ApiSchema + ?Sized>(&mut self) -> Value {
        let mut named = Vec::new();
        let (name, schema) = T::api_schema(&mut named);
        for (name, schema) in named {
            self.keep(name, to_json(&schema));
        }
        let schema = to_json(&schema);
        if is_composite(&schema) {
            let reference = json!({ "$ref": format!("#/components/schemas/{name}") });
            self.keep(name.into_owned(), schema);
            reference
        } else {
            schema
        }
    }

    fn keep(&mut self, name: String, schema: Value) {
        if !self.schemas.iter().any(|(n, _)| *n == name) {
            self.schemas.push((name, schema));
        }
    }

    /// Any JSON value.
    pub fn any(&mut self) -> Value {
        json!({})
    }

    pub fn text(&mut self) -> Value {
        json!({ "type": "string" })
    }

    pub fn binary(&mut self) -> Value {
        json!({ "type": "string", "format": "binary" })
    }

    pub fn array(&mut self, items: Value) -> Value {
        json!({ "type": "array", "items": items })
    }

    /// A type of the route's contract without a schema (the route did not ask for strict
    /// checking): recorded, reported by `SwaggerModule::create_document`.
    pub fn missing(&mut self, type_name: &'static str) -> Value {
        self.missing.push(type_name);
        json!({})
    }

    /// A path parameter (`:id`): required.
    pub fn path_param(&mut self, name: &str, schema: Value) {
        self.parameters.push(json!({
            "name": name, "required": true, "in": "path", "schema": schema,
        }));
    }

    /// The fields of a query struct (its `schema`), one parameter each, as `@nestjs/swagger`
    /// lists a query DTO's properties.
    pub fn query(&mut self, schema: Value) {
        let schema = match schema["$ref"].as_str().and_then(|r| r.rsplit('/').next()) {
            Some(name) => {
                let at = self.schemas.iter().position(|(n, _)| n == name);
                // Only the parameters name it: it is not a schema of the document.
                at.map_or(Value::Null, |at| self.schemas.remove(at).1)
            }
            None => schema,
        };
        let required: Vec<&str> = schema["required"]
            .as_array()
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let Some(properties) = schema["properties"].as_object() else {
            return;
        };
        for (name, property) in properties {
            self.parameters.push(json!({
                "name": name,
                "required": required.contains(&name.as_str()),
                "in": "query",
                "schema": property,
            }));
        }
    }

    /// A request header the route reads.
    pub fn header_param(&mut self, name: &str, schema: Value) {
        self.parameters.push(json!({
            "name": name, "required": false, "in": "header", "schema": schema,
        }));
    }

    /// The request body: `(media type, schema)`.
    pub fn body(&mut self, (media, schema): (&str, Value)) {
        self.request_body = Some(json!({
            "required": true,
            "content": { media: { "schema": schema } },
        }));
    }

    /// A multipart upload in `field` (several files when `many`).
    pub fn upload(&mut self, field: &str, many: bool) {
        let file = json!({ "type": "string", "format": "binary" });
        let schema = if many {
            json!({ "type": "array", "items": file })
        } else {
            file
        };
        self.request_body = Some(json!({
            "required": true,
            "content": { "multipart/form-data": { "schema": {
                "type": "object", "properties": { field: schema },
            } } },
        }));
    }

    /// The success answer: its status and content.
    pub fn response(&mut self, status: u16, content: Option<(&str, Value)>) {
        let mut response = json!({ "description": "" });
        if let Some((media, schema)) = content {
            response["content"] = json!({ media: { "schema": schema } });
        }
        self.responses.insert(status.to_string(), response);
    }

    /// `#[api_response(..)]`: replaces what was said of `status`.
    pub fn api_response(
        &mut self,
        status: u16,
        description: Option<&str>,
        content: Option<(&str, Value)>,
    ) {
        let mut response = json!({ "description": description.unwrap_or("") });
        if let Some((media, schema)) = content {
            response["content"] = json!({ media: { "schema": schema } });
        }
        self.responses.insert(status.to_string(), response);
    }

    /// The error statuses the route can answer with (Nest's error bodies).
    pub fn errors(&mut self, statuses: &[u16]) {
        self.errors.extend_from_slice(statuses);
    }

    pub fn public(&mut self) {
        self.access = Access::Public;
    }

    pub fn guarded(&mut self) {
        self.access = Access::Guarded;
    }

    /// `#[api_bearer_auth]`: the route needs the bearer scheme `name`.
    pub fn bearer(&mut self, name: &str) {
        self.bearer = Some(name.to_owned());
    }
}

fn to_json(schema: &RefOr<Schema>) -> Value {
    serde_json::to_value(schema).unwrap_or_default()
}

/// A schema worth naming: an object with properties, an enum, a composition.
fn is_composite(schema: &Value) -> bool {
    schema.get("properties").is_some()
        || schema
            .get("enum")
            .is_some_and(|e| e.as_array().is_some_and(|e| e.len() > 1))
        || ["oneOf", "allOf", "anyOf"]
            .iter()
            .any(|k| schema.get(*k).is_some())
}

/// `get_user_profile` → `getUserProfile`.
fn camel(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.trim_start_matches('_').chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::camel;

    #[test]
    fn method_names_become_nest_operation_ids() {
        assert_eq!(camel("get_user"), "getUser");
        assert_eq!(camel("get_profile_v2"), "getProfileV2");
        assert_eq!(camel("list"), "list");
    }
}
