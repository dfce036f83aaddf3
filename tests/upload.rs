//! Multipart uploads as Nest's `FileInterceptor`/`FilesInterceptor` (multer) with
//! `ParseFilePipe` take them: each request sent to Nest's own app (`nest-peer/upload.js`) and
//! to ours, the same status and body back: the file's description and the form's text
//! fields, multer's 413 and 400s, `ParseFilePipe`'s `File is required` and the file type
//! checked by its content.

use std::net::SocketAddr;

use gateway_core::http::UploadedFile;
use gateway_core::prelude::*;
use gateway_tests::*;
use serde_json::{json, Value};

fn describe(file: &UploadedFile) -> Value {
    json!({
        "fieldname": file.fieldname,
        "originalname": file.originalname,
        "encoding": file.encoding,
        "mimetype": file.mimetype,
        "size": file.size,
    })
}

#[injectable]
struct UploadController;

#[controller("upload")]
impl UploadController {
    #[post("single")]
    async fn single(
        &self,
        #[uploaded_file("file", max_size = 1000, file_type = "image/gif")] file: UploadedFile,
        #[body] body: Value,
    ) -> Value {
        let mut out = describe(&file);
        out["body"] = body;
        out
    }

    #[post("optional")]
    async fn optional(&self, #[uploaded_file("file")] file: Option<UploadedFile>) -> Value {
        json!({ "file": file.map(|f| f.originalname) })
    }

    #[post("many")]
    async fn many(
        &self,
        #[uploaded_files("photos", max_count = 2)] files: Vec<UploadedFile>,
    ) -> Value {
        files.iter().map(describe).collect()
    }
}

#[module(controllers = [UploadController])]
struct UploadModule;

const BOUNDARY: &str = "----gatewayBoundary7MA4YWxk";

/// One part of a form: a text field, or a file (name, type, content).
enum Part<'a> {
    Text(&'a str, &'a str),
    File(&'a str, &'a str, &'a str, String),
}

fn form(parts: &[Part<'_>]) -> String {
    let mut body = String::new();
    for part in parts {
        body.push_str(&format!("--{BOUNDARY}\r\n"));
        match part {
            Part::Text(name, value) => {
                body.push_str(&format!(
                    "Content-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
                ));
            }
            Part::File(name, filename, content_type, content) => {
                body.push_str(&format!(
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\nContent-Type: {content_type}\r\n\r\n{content}\r\n"
                ));
            }
        }
    }
    body.push_str(&format!("--{BOUNDARY}--\r\n"));
    body
}

/// A GIF of `size` bytes: its magic numbers, then padding.
fn gif(size: usize) -> String {
    format!("GIF89a{}", "x".repeat(size - 6))
}

/// The requests both apps get: path, content type, body.
fn requests() -> Vec<(&'static str, String, String)> {
    let multipart = format!("multipart/form-data; boundary={BOUNDARY}");
    let m = |path: &'static str, body: String| (path, multipart.clone(), body);
    vec![
        m("/upload/single", form(&[Part::Text("name", "ada"), Part::File("file", "a.gif", "image/gif", gif(100))])),
        m("/upload/single", form(&[Part::File("file", "big.gif", "image/gif", gif(2000))])),
        m("/upload/single", form(&[Part::File("file", "fake.gif", "image/gif", "hello".into())])),
        m("/upload/single", form(&[Part::Text("name", "ada")])),
        m("/upload/single", form(&[Part::File("other", "a.gif", "image/gif", gif(10))])),
        ("/upload/single", "application/json".into(), r#"{"name":"ada"}"#.into()),
        ("/upload/single", "multipart/form-data".into(), form(&[Part::Text("name", "ada")])),
        m("/upload/single", format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.gif\"\r\n\r\nGIF89a")),
        m("/upload/optional", form(&[Part::Text("name", "ada")])),
        m("/upload/optional", form(&[Part::File("file", "notes.txt", "text/plain", "notes".into())])),
        m("/upload/many", form(&[Part::File("photos", "1.gif", "image/gif", gif(10)), Part::File("photos", "2.gif", "image/gif", gif(20))])),
        m("/upload/many", form(&[Part::File("photos", "1.gif", "image/gif", gif(10)), Part::File("photos", "2.gif", "image/gif", gif(20)), Part::File("photos", "3.gif", "image/gif", gif(30))])),
    ]
}

async fn answers(app: SocketAddr) -> Vec<(u16, Value)> {
    let mut out = Vec::new();
    for (path, content_type, body) in requests() {
        let (status, _, text) =
            http_request(app, "POST", path, &[("Content-Type", &content_type)], &body).await;
        out.push((
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        ));
    }
    out
}

fn bad_request(message: &str) -> (u16, Value) {
    (
        400,
        json!({ "message": message, "error": "Bad Request", "statusCode": 400 }),
    )
}

#[tokio::test]
async fn uploads_answer_as_nests_do() {
    let ours = answers(serve_app::<UploadModule>(|_| {}).await).await;
    let file = |name: &str, size: usize| json!({ "fieldname": "photos", "originalname": name, "encoding": "7bit", "mimetype": "image/gif", "size": size });
    let expected = vec![
        (
            201,
            json!({ "fieldname": "file", "originalname": "a.gif", "encoding": "7bit", "mimetype": "image/gif", "size": 100, "body": { "name": "ada" } }),
        ),
        (
            413,
            json!({ "message": "File too large", "error": "Payload Too Large", "statusCode": 413 }),
        ),
        bad_request(
            "Validation failed (current file type is image/gif, expected type is image/gif)",
        ),
        bad_request("File is required"),
        bad_request("Unexpected file field - other"),
        bad_request("File is required"),
        bad_request("Multipart: Boundary not found"),
        bad_request("Multipart: Unexpected end of form"),
        (201, json!({ "file": null })),
        (201, json!({ "file": "notes.txt" })),
        (201, json!([file("1.gif", 10), file("2.gif", 20)])),
        bad_request("Unexpected file field - photos"),
    ];
    for (i, (got, want)) in ours.iter().zip(&expected).enumerate() {
        assert_eq!(got, want, "request {i}: {}", requests()[i].0);
    }
    if !nest_available("uploads_answer_as_nests_do") {
        return;
    }
    for version in Nest::ALL {
        let port = free_port();
        let _nest = spawn_node_ready(version, "upload.js", &[&port.to_string()]).await;
        let nest = answers(([127, 0, 0, 1], port).into()).await;
        let mut expected = expected.clone();
        if version == Nest::V12 {
            // Nest 12 reworded the one message: we answer as Nest 11 does.
            expected[2] = bad_request("Validation failed (file type could not be detected from its content; expected type is image/gif)");
        }
        for (i, (got, want)) in nest.iter().zip(&expected).enumerate() {
            assert_eq!(
                got,
                want,
                "Nest {version:?}, request {i}: {}",
                requests()[i].0
            );
        }
    }
}
