//! Validation pipes (feature `validation`): `Valid<T>` checks a `#[body]` or `#[query]` DTO,
//! or a message payload, with the `validator` crate and answers Nest `ValidationPipe`'s 400.

use std::borrow::Cow;
use std::ops::{Deref, DerefMut};

use serde::de::DeserializeOwned;
use serde_json::Value;
use validator::{Validate, ValidationError, ValidationErrors, ValidationErrorsKind};

use super::validate::{body_error, parse_query, PAYLOAD_VALIDATION};
use super::{FromJsonBody, FromQuery, HttpException, ValidationOptions};

/// A DTO that passed validation: `#[body] dto: Valid<CreateUserDto>` where
/// `CreateUserDto: Deserialize + validator::Validate`. Nest's `ValidationPipe`.
///
/// A DTO that fails answers 400 with Nest's body, one message per failed rule in
/// class-validator's words:
/// `{"message":["email must be an email","name should not be empty"],"error":"Bad Request","statusCode":400}`.
///
/// | `validator` rule | message |
/// | --- | --- |
/// | `email` | `<field> must be an email` |
/// | `url` | `<field> must be a URL address` |
/// | `length(min = 2)` (too short / too long) | `<field> must be longer than or equal to 2 characters` / `shorter than or equal to` |
/// | `length(min = 1)` on an empty string | `<field> should not be empty` |
/// | `range(min = 1, max = 9)` | `<field> must not be less than 1` / `must not be greater than 9` |
/// | `contains(pattern = "x")` | `<field> must contain a x string` |
/// | `must_match(other = "a")` | `<field> must match a` |
/// | any rule with `message = ".."` | that message |
/// | nested (`#[validate(nested)]`) | `<parent>.<field> ...`, `<list>.<index>.<field> ...` |
///
/// Messages are ordered by field name (`validator` does not keep declaration order), each
/// field's in rule order. Unknown properties are dropped (Nest's `whitelist: true`, which is
/// what a Rust struct does anyway); with
/// [`ValidationOptions::forbid_unknown`](ValidationOptions) they are refused with
/// `property <name> should not exist` (Nest's `forbidNonWhitelisted`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Valid<T>(pub T);

impl<T> Valid<T> {
    /// The DTO.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for Valid<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for Valid<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

impl<T: DeserializeOwned + Validate> FromJsonBody for Valid<T> {
    fn from_json(text: &[u8], options: ValidationOptions) -> Result<Self, HttpException> {
        let mut unknown = Vec::new();
        let mut de = serde_json::Deserializer::from_slice(text);
        let value: T = if options.forbid_unknown {
            serde_ignored::deserialize(&mut de, |path| {
                unknown.push(format!("property {path} should not exist"));
            })
        } else {
            T::deserialize(&mut de)
        }
        .and_then(|value| de.end().map(|()| value))
        .map_err(|error| body_error(text, &error))?;
        check(value, unknown)
    }
}

impl<T: DeserializeOwned + Validate + Send + 'static> crate::server::FromPayload for Valid<T> {
    fn from_payload(route: &str, data: &[u8]) -> Result<Self, crate::server::RpcException> {
        let options = PAYLOAD_VALIDATION.try_with(|o| *o).unwrap_or_default();
        <Valid<T> as FromJsonBody>::from_json(data, options).map_err(|error| {
            tracing::warn!(pattern = route, %error, "payload refused by validation");
            crate::server::RpcException::new(error.body().clone())
        })
    }
}

impl<T: DeserializeOwned + Validate> FromQuery for Valid<T> {
    fn from_query(query: Option<&str>) -> Result<Self, HttpException> {
        check(parse_query(query)?, Vec::new())
    }
}

fn check<T: Validate>(value: T, mut messages: Vec<String>) -> Result<Valid<T>, HttpException> {
    if let Err(errors) = value.validate() {
        collect(&errors, "", &mut messages);
    }
    if messages.is_empty() {
        Ok(Valid(value))
    } else {
        Err(HttpException::bad_request(messages))
    }
}

/// Flattens `validator`'s error tree into class-validator's messages.
fn collect(errors: &ValidationErrors, prefix: &str, out: &mut Vec<String>) {
    let mut fields: Vec<_> = errors.errors().iter().collect();
    fields.sort_by(|a, b| a.0.cmp(b.0));
    for (field, kind) in fields {
        let path = format!("{prefix}{field}");
        match kind {
            ValidationErrorsKind::Field(list) => {
                out.extend(list.iter().map(|e| message(&path, e)));
            }
            ValidationErrorsKind::Struct(inner) => collect(inner, &format!("{path}."), out),
            ValidationErrorsKind::List(items) => {
                for (index, inner) in items {
                    collect(inner, &format!("{path}.{index}."), out);
                }
            }
        }
    }
}

fn param<'a>(error: &'a ValidationError, name: &str) -> Option<&'a Value> {
    error.params.get(name)
}

fn number(error: &ValidationError, name: &str) -> Option<String> {
    param(error, name).map(|v| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    })
}

/// One rule's message, in class-validator's words.
fn message(field: &str, error: &ValidationError) -> String {
    if let Some(message) = &error.message {
        return message.to_string();
    }
    let code: &str = &error.code;
    match code {
        "email" => format!("{field} must be an email"),
        "url" => format!("{field} must be a URL address"),
        "required" => format!("{field} should not be empty"),
        "length" => {
            let len = match param(error, "value") {
                Some(Value::String(s)) => Some(s.chars().count() as u64),
                Some(Value::Array(items)) => Some(items.len() as u64),
                _ => None,
            };
            let min = param(error, "min").and_then(Value::as_u64);
            let max = param(error, "max").and_then(Value::as_u64);
            let equal = param(error, "equal").and_then(Value::as_u64);
            match (len, min, max, equal) {
                (Some(0), Some(_), _, _) => format!("{field} should not be empty"),
                (_, _, _, Some(n)) => format!("{field} must be exactly {n} characters long"),
                (Some(len), Some(min), _, _) if len < min => {
                    format!("{field} must be longer than or equal to {min} characters")
                }
                (_, _, Some(max), _) => {
                    format!("{field} must be shorter than or equal to {max} characters")
                }
                _ => format!("{field} has the wrong length"),
            }
        }
        "range" => {
            let value = param(error, "value").and_then(Value::as_f64);
            let min = param(error, "min").and_then(Value::as_f64);
            match (value, min) {
                (Some(v), Some(m)) if v < m => format!(
                    "{field} must not be less than {}",
                    number(error, "min").unwrap_or_default()
                ),
                _ => format!(
                    "{field} must not be greater than {}",
                    number(error, "max").unwrap_or_default()
                ),
            }
        }
        "contains" => format!(
            "{field} must contain a {} string",
            param(error, "needle")
                .and_then(Value::as_str)
                .unwrap_or_default()
        ),
        "must_match" => format!(
            "{field} must match {}",
            param(error, "other")
                .and_then(Value::as_str)
                .unwrap_or_default()
        ),
        "regex" => format!("{field} must match the required format"),
        other => format!("{field} failed the {} rule", Cow::from(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    struct Dto {
        email: String,
        name: String,
        age: u32,
    }

    impl Validate for Dto {
        fn validate(&self) -> Result<(), ValidationErrors> {
            let mut errors = ValidationErrors::new();
            if !validator::ValidateEmail::validate_email(&self.email) {
                errors.add("email", ValidationError::new("email"));
            }
            if self.name.is_empty() {
                let mut e = ValidationError::new("length");
                e.add_param("min".into(), &1u64);
                e.add_param("value".into(), &self.name);
                errors.add("name", e);
            }
            if self.age > 150 {
                let mut e = ValidationError::new("range");
                e.add_param("max".into(), &150u64);
                e.add_param("value".into(), &self.age);
                errors.add("age", e);
            }
            if errors.is_empty() {
                Ok(())
            } else {
                Err(errors)
            }
        }
    }

    #[test]
    fn messages_are_class_validators_and_unknown_properties_can_be_refused() {
        let strict = ValidationOptions {
            forbid_unknown: true,
        };
        let bad = br#"{"email":"nope","name":"","age":200,"admin":true}"#;
        let e = Valid::<Dto>::from_json(bad, strict).unwrap_err();
        assert_eq!(
            e.body().to_string(),
            r#"{"message":["property admin should not exist","age must not be greater than 150","email must be an email","name should not be empty"],"error":"Bad Request","statusCode":400}"#
        );
        let lenient = Valid::<Dto>::from_json(
            br#"{"email":"a@b.co","name":"x","age":3,"admin":true}"#,
            ValidationOptions::default(),
        )
        .unwrap();
        assert_eq!(lenient.name, "x");
        let type_error = Valid::<Dto>::from_json(br#"{"email":1}"#, strict).unwrap_err();
        assert_eq!(type_error.status(), 400);
    }
}
