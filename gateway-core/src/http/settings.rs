//! What every request carries from the app's settings, as one request extension.

use std::sync::Arc;

use axum::http::Extensions;

use super::{
    AuthUser, BodyLimit, BodyReadTimeout, GlobalGuards, GlobalInterceptors, TrustProxy,
    ValidationOptions,
};

/// The app's settings every request carries: global guards and interceptors, the body limit
/// and deadline, validation options, trusted proxies. One request extension (an `Arc` of
/// this), so a request costs one map entry and one allocation for them, not one per setting.
///
/// A [`BodyLimit`] or [`BodyReadTimeout`] a layer puts into a request itself wins over the
/// app's.
#[derive(Clone, Default)]
pub(crate) struct RequestSettings {
    pub guards: Option<GlobalGuards>,
    pub interceptors: Option<GlobalInterceptors>,
    pub body_limit: Option<BodyLimit>,
    pub body_read_timeout: Option<BodyReadTimeout>,
    pub validation: Option<ValidationOptions>,
    pub trust_proxy: Option<TrustProxy>,
}

/// What the framework keeps in each request: the app's settings and the user a guard
/// attached, in one extension entry the app puts in as the request arrives, so attaching the
/// user costs no map entry (and no allocation) of its own.
#[derive(Clone)]
pub(crate) struct RequestState {
    pub settings: Arc<RequestSettings>,
    pub user: Option<AuthUser>,
}

impl RequestSettings {
    /// The settings the app put into a request's `extensions`, if any.
    pub(crate) fn of(extensions: &Extensions) -> Option<&RequestSettings> {
        extensions.get::<RequestState>().map(|s| &*s.settings)
    }

    /// The request's body limit: a layer's [`BodyLimit`], else the app's.
    pub(crate) fn body_limit(extensions: &Extensions) -> Option<usize> {
        match extensions.get::<BodyLimit>() {
            Some(limit) => Some(limit.0),
            None => Self::of(extensions)?.body_limit.map(|l| l.0),
        }
    }

    /// How long the request's body may take: a layer's [`BodyReadTimeout`], else the app's.
    pub(crate) fn body_read_timeout(extensions: &Extensions) -> Option<std::time::Duration> {
        match extensions.get::<BodyReadTimeout>() {
            Some(timeout) => Some(timeout.0),
            None => Self::of(extensions)?.body_read_timeout.map(|t| t.0),
        }
    }
}
