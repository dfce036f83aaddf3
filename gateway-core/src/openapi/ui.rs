//! Swagger UI, served from the binary (swagger-ui-dist 5.35.0, Apache-2.0: `assets/swagger-ui`,
//! its LICENSE and NOTICE beside it): the page, its script and stylesheet, and the document.

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use super::OpenApiDocument;

const BUNDLE: &[u8] = include_bytes!("../../assets/swagger-ui/swagger-ui-bundle.js");
const CSS: &[u8] = include_bytes!("../../assets/swagger-ui/swagger-ui.css");
const FAVICON: &[u8] = include_bytes!("../../assets/swagger-ui/favicon-32x32.png");

/// The routes of `setup(path, ..)`: `/{path}`, `/{path}/` and `/{path}-json`, and the assets
/// under `/{path}/`.
pub(super) fn router(path: &str, document: &OpenApiDocument) -> Router {
    let base = format!("/{}", path.trim_matches('/'));
    let json: axum::body::Bytes = serde_json::to_vec(document.json())
        .unwrap_or_default()
        .into();
    let title = document.json()["info"]["title"]
        .as_str()
        .filter(|t| !t.is_empty())
        .unwrap_or("Swagger UI")
        .to_owned();
    let page = page(&base, &title);
    let init = format!(
        "window.onload = function () {{\n  window.ui = SwaggerUIBundle({{\n    url: {url},\n    dom_id: '#swagger-ui',\n    deepLinking: true,\n    presets: [SwaggerUIBundle.presets.apis],\n    layout: 'BaseLayout',\n  }});\n}};\n",
        url = serde_json::to_string(&format!("{base}-json")).unwrap_or_default(),
    );
    let asset = |bytes: &'static [u8], kind: &'static str| {
        get(move || async move {
            (
                [
                    (CONTENT_TYPE, kind),
                    (CACHE_CONTROL, "public, max-age=3600"),
                ],
                bytes,
            )
        })
    };
    let html = get(move || {
        let page = page.clone();
        async move { ([(CONTENT_TYPE, "text/html; charset=utf-8")], page).into_response() }
    });
    Router::new()
        .route(&base, html.clone())
        .route(&format!("{base}/"), html)
        .route(
            &format!("{base}-json"),
            get(move || {
                let json = json.clone();
                async move { ([(CONTENT_TYPE, "application/json; charset=utf-8")], json) }
            }),
        )
        .route(
            &format!("{base}/swagger-ui-init.js"),
            get(move || {
                let init = init.clone();
                async move {
                    (
                        [(CONTENT_TYPE, "application/javascript; charset=utf-8")],
                        init,
                    )
                }
            }),
        )
        .route(
            &format!("{base}/swagger-ui-bundle.js"),
            asset(BUNDLE, "application/javascript; charset=utf-8"),
        )
        .route(
            &format!("{base}/swagger-ui.css"),
            asset(CSS, "text/css; charset=utf-8"),
        )
        .route(
            &format!("{base}/favicon-32x32.png"),
            asset(FAVICON, "image/png"),
        )
}

/// The page: no inline script, so a `Content-Security-Policy` of `'self'` lets it run.
fn page(base: &str, title: &str) -> String {
    let title = title
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="UTF-8">
  <title>{title}</title>
  <link rel="stylesheet" type="text/css" href="{base}/swagger-ui.css">
  <link rel="icon" type="image/png" href="{base}/favicon-32x32.png" sizes="32x32">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="{base}/swagger-ui-bundle.js" charset="UTF-8"></script>
  <script src="{base}/swagger-ui-init.js" charset="UTF-8"></script>
</body>
</html>
"#
    )
}
