//! The example gateway's OpenAPI document, as outside tools use it, against the demo binary:
//! schemathesis (PyPI, pinned in `.ci/run`) generates requests from the served document and
//! finds no server error and no answer that breaks its schema; headless Chromium (Debian's)
//! renders the Swagger UI page, which lists the seed's routes (a screenshot is written to
//! `target/swagger-ui.png`).

mod support;

use std::process::Command;

use support::{demo, installed};

const TOKEN: &str = "openapi-clients-token";

#[test]
fn schemathesis_finds_no_server_error_and_no_answer_off_the_schema() {
    if !installed(
        "schemathesis",
        "--version",
        "python3 -m pip install schemathesis==4.32.5",
    ) {
        return;
    }
    let (_demo, port) = demo(TOKEN, &[]);
    let output = Command::new("schemathesis")
        .args(["run", &format!("http://127.0.0.1:{port}/docs-json")])
        .args(["-H", &format!("Authorization: Bearer {TOKEN}")])
        .args(["--max-examples", "50", "--seed", "1"])
        // Deliberately Nest's: an undeclared method is Express's 404 `Cannot TRACE /x`, not
        // 405; and the seed's gateway forwards `POST /orders` bodies unvalidated (its DTO is a
        // TypeScript type), so a body off the schema may be accepted.
        .args([
            "--exclude-checks",
            "unsupported_method,negative_data_rejection",
        ])
        .env("NO_COLOR", "1")
        // Its cache and reports go to a scratch directory, not the source tree.
        .current_dir(std::env::temp_dir())
        .output()
        .expect("schemathesis runs");
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "schemathesis found failures:\n{report}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(report.contains("Selected: 5/5"), "{report}");
    assert!(report.contains("passed"), "{report}");
}

#[test]
fn swagger_ui_renders_the_seed_routes_in_chromium() {
    if !installed("chromium", "--version", "apt-get install chromium") {
        return;
    }
    let (_demo, port) = demo(TOKEN, &[]);
    let profile = std::env::temp_dir().join(format!("swagger-ui-chromium-{}", std::process::id()));
    let screenshot = concat!(env!("CARGO_MANIFEST_DIR"), "/../target/swagger-ui.png");
    let chromium = |extra: &[&str]| {
        Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--virtual-time-budget=10000",
                "--window-size=1280,1600",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(extra)
            .arg(format!("http://127.0.0.1:{port}/docs"))
            .output()
            .expect("chromium runs")
    };
    let dom = chromium(&["--dump-dom"]);
    let dom = String::from_utf8_lossy(&dom.stdout).into_owned();
    let _ = chromium(&[&format!("--screenshot={screenshot}")]);
    let _ = std::fs::remove_dir_all(&profile);
    // Rendered by Swagger UI's script (the page itself holds only an empty div): the title,
    // each route with its method, and the bearer scheme.
    assert!(dom.contains("API gateway"), "the document's title:\n{dom}");
    for (method, path) in [
        ("GET", "/users/{id}"),
        ("POST", "/orders"),
        ("GET", "/users/{id}/profile"),
        ("GET", "/health"),
    ] {
        let shown = format!(r#"data-path="{path}""#);
        assert!(
            dom.contains(&shown),
            "{method} {path} is not on the page:\n{dom}"
        );
    }
    assert!(dom.contains("Authorize"), "the bearer scheme's button");
    assert!(
        std::path::Path::new(screenshot).exists(),
        "a screenshot at {screenshot}"
    );
}
