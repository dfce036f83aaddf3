//! Route metadata: Nest's `SetMetadata`, custom decorators and the `Reflector`.
//!
//! `#[set_metadata("roles", ["admin"])]`, `#[public]`, `#[roles("admin")]`,
//! `#[throttle(..)]`, `#[skip_throttle]` and `#[apply_decorators(MyDecorator)]` on a route or a
//! controller become `'static` data in the controller's [`RouteMeta`](super::RouteMeta) at
//! compile time. Guards and interceptors read it through [`Reflector`]; a lookup walks a few
//! static slices and allocates nothing.

/// A metadata value, as `#[set_metadata]` accepts it: a string, an integer, a bool, or a list
/// of those.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaValue {
    /// `true` / `false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A string.
    Str(&'static str),
    /// A list, e.g. `["admin", "ops"]`.
    List(&'static [MetaValue]),
}

impl MetaValue {
    /// The bool, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            MetaValue::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The integer, if this is one.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            MetaValue::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&'static str> {
        match self {
            MetaValue::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The list, if this is one.
    pub fn as_list(&self) -> Option<&'static [MetaValue]> {
        match self {
            MetaValue::List(items) => Some(items),
            _ => None,
        }
    }

    /// The strings of a list (or the string itself): `#[roles("admin", "ops")]` gives
    /// `admin`, `ops`.
    pub fn strs(&self) -> impl Iterator<Item = &'static str> {
        let (one, many): (Option<&'static str>, &'static [MetaValue]) = match *self {
            MetaValue::Str(s) => (Some(s), &[]),
            MetaValue::List(items) => (None, items),
            _ => (None, &[]),
        };
        one.into_iter()
            .chain(many.iter().filter_map(MetaValue::as_str))
    }
}

/// One key and its value. Nest's `SetMetadata(key, value)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Metadata {
    /// The key.
    pub key: &'static str,
    /// The value.
    pub value: MetaValue,
}

impl Metadata {
    /// `Metadata { key, value }`, usable in a `const`.
    pub const fn new(key: &'static str, value: MetaValue) -> Self {
        Metadata { key, value }
    }
}

/// A reusable bundle of metadata, applied with `#[apply_decorators(MyDecorator)]`. Nest's
/// `applyDecorators(SetMetadata(..), ..)` behind a custom decorator.
///
/// ```
/// use gateway_core::http::{Decorator, MetaValue, Metadata};
///
/// /// `#[apply_decorators(AdminOnly)]`: Nest's `export const AdminOnly = () => Roles('admin')`.
/// pub struct AdminOnly;
///
/// impl Decorator for AdminOnly {
///     const METADATA: &'static [Metadata] =
///         &[Metadata::new("roles", MetaValue::List(&[MetaValue::Str("admin")]))];
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a decorator",
    label = "`#[apply_decorators(..)]` takes types that implement `Decorator`",
    note = "a decorator is a type with `impl gateway_core::http::Decorator for {Self} {{ const METADATA: &'static [Metadata] = &[..]; }}`"
)]
pub trait Decorator {
    /// The metadata it sets.
    const METADATA: &'static [Metadata];
}

/// The key `#[public]` sets (to `true`): Nest docs' `IS_PUBLIC_KEY`. Auth guards let such
/// routes through.
pub const IS_PUBLIC_KEY: &str = "isPublic";
/// The key `#[roles(..)]` sets (to the list of roles): Nest docs' `ROLES_KEY`.
pub const ROLES_KEY: &str = "roles";
/// The key `#[throttle(limit = .., ttl = ..)]` sets: `[limit, ttl in ms, block in ms]`.
pub const THROTTLE_KEY: &str = "throttle";
/// The key `#[skip_throttle]` sets (to `true`, or the bool given).
pub const SKIP_THROTTLE_KEY: &str = "skipThrottle";

/// Reads route and controller metadata. Nest's `Reflector`, bound to one route.
#[derive(Debug, Clone, Copy)]
pub struct Reflector {
    handler: &'static [&'static [Metadata]],
    class: &'static [&'static [Metadata]],
}

fn find(sets: &'static [&'static [Metadata]], key: &str) -> Option<&'static MetaValue> {
    sets.iter()
        .flat_map(|set| set.iter())
        .find(|m| m.key == key)
        .map(|m| &m.value)
}

impl Reflector {
    pub(crate) fn new(
        handler: &'static [&'static [Metadata]],
        class: &'static [&'static [Metadata]],
    ) -> Self {
        Reflector { handler, class }
    }

    /// The route's own value for `key`. Nest's `reflector.get(key, context.getHandler())`.
    pub fn get(&self, key: &str) -> Option<&'static MetaValue> {
        find(self.handler, key)
    }

    /// The controller's value for `key`. Nest's `reflector.get(key, context.getClass())`.
    pub fn get_class(&self, key: &str) -> Option<&'static MetaValue> {
        find(self.class, key)
    }

    /// The route's value, else the controller's. Nest's
    /// `reflector.getAllAndOverride(key, [getHandler(), getClass()])`.
    pub fn get_all_and_override(&self, key: &str) -> Option<&'static MetaValue> {
        self.get(key).or_else(|| self.get_class(key))
    }

    /// The route's and the controller's values, route first, lists flattened. Nest's
    /// `reflector.getAllAndMerge(key, [getHandler(), getClass()])`.
    pub fn get_all_and_merge(&self, key: &str) -> impl Iterator<Item = &'static MetaValue> + '_ {
        [self.get(key), self.get_class(key)]
            .into_iter()
            .flatten()
            .flat_map(|value| match value {
                MetaValue::List(items) => items.iter().collect::<Vec<_>>(),
                one => vec![one],
            })
    }

    /// Whether the route (or its controller) is `#[public]`.
    pub fn is_public(&self) -> bool {
        self.get_all_and_override(IS_PUBLIC_KEY)
            .and_then(MetaValue::as_bool)
            .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROUTE: &[&[Metadata]] = &[
        &[Metadata::new(
            ROLES_KEY,
            MetaValue::List(&[MetaValue::Str("admin")]),
        )],
        &[Metadata::new("level", MetaValue::Int(3))],
    ];
    const CLASS: &[&[Metadata]] = &[&[
        Metadata::new(ROLES_KEY, MetaValue::Str("user")),
        Metadata::new(IS_PUBLIC_KEY, MetaValue::Bool(true)),
    ]];

    #[test]
    fn route_overrides_controller_and_merge_keeps_both() {
        let r = Reflector::new(ROUTE, CLASS);
        assert_eq!(
            r.get_all_and_override(ROLES_KEY)
                .unwrap()
                .strs()
                .collect::<Vec<_>>(),
            ["admin"]
        );
        assert_eq!(r.get("level").and_then(MetaValue::as_int), Some(3));
        assert_eq!(r.get(IS_PUBLIC_KEY), None);
        assert!(r.is_public());
        let merged: Vec<_> = r
            .get_all_and_merge(ROLES_KEY)
            .filter_map(MetaValue::as_str)
            .collect();
        assert_eq!(merged, ["admin", "user"]);
    }
}
