//! Multipart uploads: Nest's `FileInterceptor` / `FilesInterceptor` (multer, memory storage)
//! with `@UploadedFile(new ParseFilePipe(..))`, as `#[uploaded_file]` and `#[uploaded_files]`
//! route arguments, with multer's and Nest's answers.

use std::collections::HashMap;

use axum::body::Body as HttpBody;
use axum::http::header;
use axum::http::request::Parts;
use bytes::{Bytes, BytesMut};
use serde::Serialize;

use super::HttpException;

/// An uploaded file, held in memory: Nest's `Express.Multer.File` (multer's memory storage).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct UploadedFile {
    /// The form field it came in (`file`).
    pub fieldname: String,
    /// The file's name on the client (`avatar.png`).
    pub originalname: String,
    /// The transfer encoding multer reports (`7bit`).
    pub encoding: String,
    /// The content type the client gave (`image/png`).
    pub mimetype: String,
    /// Its size in bytes.
    pub size: usize,
    /// Its content.
    #[serde(skip)]
    pub buffer: Bytes,
}

/// How one `#[uploaded_file]` / `#[uploaded_files]` field is read and checked.
#[derive(Debug, Clone, Copy)]
pub struct FileField {
    /// The form field (`FileInterceptor('file')`).
    pub name: &'static str,
    /// The most files it takes (1 for `#[uploaded_file]`, `FilesInterceptor`'s `maxCount`).
    pub max_count: usize,
    /// The largest file, in bytes (multer's `limits.fileSize`): over it, 413 `File too large`.
    pub max_size: usize,
    /// The types its content may have (none: any), checked by its magic numbers as Nest's
    /// `FileTypeValidator` does: another is 400 `Validation failed (..)`.
    pub file_types: &'static [&'static str],
}

/// The largest file taken when the route names no `max_size`: multer's memory storage
/// takes any size; we do not buffer without bound.
pub const DEFAULT_MAX_FILE_SIZE: usize = 10 << 20;
/// The longest text field (multer's `fieldSize` default, 1 MB).
const MAX_FIELD_SIZE: usize = 1 << 20;
/// The most parts a form may have.
const MAX_PARTS: usize = 1000;

/// A multipart form, read: files by field, and the text fields in order.
#[derive(Debug, Default)]
pub struct Multipart {
    files: HashMap<&'static str, Vec<UploadedFile>>,
    fields: Vec<(String, String)>,
}

fn bad_request(message: &str) -> HttpException {
    HttpException::bad_request(message.to_owned())
}

impl Multipart {
    /// Reads the request's multipart body for `expected` file fields, as multer does: a
    /// request that is not `multipart/form-data` has no files and no fields; a file in another
    /// field, or one too many, is 400 `Unexpected file field - <field>`; a file over its field's size is 413
    /// `File too large`; a malformed form is busboy's 400; a form still arriving after the
    /// body deadline is 408, the connection closed.
    pub async fn read(
        parts: &Parts,
        body: HttpBody,
        expected: &[FileField],
    ) -> Result<Multipart, HttpException> {
        let deadline = super::extract::body_deadline(parts);
        tokio::time::timeout(deadline, Self::read_form(parts, body, expected))
            .await
            .unwrap_or_else(|_| Err(HttpException::request_timeout(()).closing()))
    }

    async fn read_form(
        parts: &Parts,
        body: HttpBody,
        expected: &[FileField],
    ) -> Result<Multipart, HttpException> {
        let Some(content_type) = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
        else {
            return Ok(Multipart::default());
        };
        let essence = content_type.split(';').next().unwrap_or("").trim();
        if !essence.eq_ignore_ascii_case("multipart/form-data") {
            return Ok(Multipart::default());
        }
        let boundary = multer::parse_boundary(content_type)
            .map_err(|_| bad_request("Multipart: Boundary not found"))?;
        let mut form = multer::Multipart::new(body.into_data_stream(), boundary);
        let mut read = Multipart::default();
        let mut count = 0;
        while let Some(mut field) = form.next_field().await.map_err(malformed)? {
            count += 1;
            if count > MAX_PARTS {
                return Err(bad_request("Too many parts"));
            }
            let name = field.name().unwrap_or_default().to_owned();
            if field.file_name().is_none() {
                let value = read_limited(&mut field, MAX_FIELD_SIZE)
                    .await?
                    .ok_or_else(|| bad_request(&format!("Field value too long - {name}")))?;
                read.fields
                    .push((name, String::from_utf8_lossy(&value).into_owned()));
                continue;
            }
            let unexpected = || bad_request(&format!("Unexpected file field - {name}"));
            let Some(spec) = expected.iter().find(|f| f.name == name) else {
                return Err(unexpected());
            };
            let files = read.files.entry(spec.name).or_default();
            if files.len() >= spec.max_count {
                return Err(unexpected());
            }
            let originalname = field.file_name().unwrap_or_default().to_owned();
            let mimetype = field
                .content_type()
                .map_or("application/octet-stream".to_owned(), |m| m.to_string());
            let buffer = read_limited(&mut field, spec.max_size)
                .await?
                .ok_or_else(|| HttpException::payload_too_large("File too large"))?;
            files.push(UploadedFile {
                fieldname: name,
                originalname,
                encoding: "7bit".to_owned(),
                mimetype,
                size: buffer.len(),
                buffer,
            });
        }
        for spec in expected {
            for file in read.files.get(spec.name).into_iter().flatten() {
                check_type(file, spec)?;
            }
        }
        Ok(read)
    }

    /// The files of field `name`, taken out.
    pub fn take(&mut self, name: &str) -> Vec<UploadedFile> {
        self.files.remove(name).unwrap_or_default()
    }

    /// The text fields, in order (what Nest's `@Body()` sees of a multipart form).
    pub fn fields(&self) -> &[(String, String)] {
        &self.fields
    }
}

/// The field's bytes, or `None` past `max`.
async fn read_limited(
    field: &mut multer::Field<'_>,
    max: usize,
) -> Result<Option<Bytes>, HttpException> {
    let mut buffer = BytesMut::new();
    while let Some(chunk) = field.chunk().await.map_err(malformed)? {
        if buffer.len() + chunk.len() > max {
            return Ok(None);
        }
        buffer.extend_from_slice(&chunk);
    }
    Ok(Some(buffer.freeze()))
}

/// busboy's messages for a form that does not parse.
fn malformed(error: multer::Error) -> HttpException {
    use multer::Error::*;
    match error {
        ReadHeaderFailed(_) | DecodeHeaderName { .. } | DecodeHeaderValue { .. } => {
            bad_request("Multipart: Malformed part header")
        }
        _ => bad_request("Multipart: Unexpected end of form"),
    }
}

/// Nest's `FileTypeValidator`: the type is told by the content's magic numbers, and matches a
/// listed type when equal to it, or when it holds it up to a name's end (`png` accepts
/// `image/png`, `image/png` does not accept `image/pngx`), as Nest's string pattern does
/// (several types are listed rather than written as one regular expression); the message
/// shows the client's claimed type.
fn check_type(file: &UploadedFile, spec: &FileField) -> Result<(), HttpException> {
    if spec.file_types.is_empty() {
        return Ok(());
    }
    let detected = infer::get(&file.buffer).map(|kind| kind.mime_type());
    if detected.is_some_and(|mime| spec.file_types.iter().any(|t| matches_type(mime, t))) {
        return Ok(());
    }
    Err(bad_request(&format!(
        "Validation failed (current file type is {}, expected type is {})",
        file.mimetype,
        spec.file_types.join("|")
    )))
}

fn matches_type(mime: &str, expected: &str) -> bool {
    if mime == expected {
        return true;
    }
    mime.match_indices(expected).any(|(at, _)| {
        let after = mime[at + expected.len()..].chars().next();
        !after.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '-')
    })
}

/// What a `#[uploaded_file]` / `#[uploaded_files]` argument can be: one file (required:
/// Nest's `ParseFilePipe`, 400 `File is required` without it), `Option<UploadedFile>`
/// (`fileIsRequired: false`), or `Vec<UploadedFile>` (`@UploadedFiles()`).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot hold uploaded files",
    label = "an uploaded file argument is `UploadedFile`, `Option<UploadedFile>` or `Vec<UploadedFile>`"
)]
pub trait FromUpload: Sized {
    /// The argument from the field's files.
    fn from_upload(files: Vec<UploadedFile>) -> Result<Self, HttpException>;
}

impl FromUpload for UploadedFile {
    fn from_upload(files: Vec<UploadedFile>) -> Result<Self, HttpException> {
        files
            .into_iter()
            .next()
            .ok_or_else(|| bad_request("File is required"))
    }
}

impl FromUpload for Option<UploadedFile> {
    fn from_upload(files: Vec<UploadedFile>) -> Result<Self, HttpException> {
        Ok(files.into_iter().next())
    }
}

impl FromUpload for Vec<UploadedFile> {
    fn from_upload(files: Vec<UploadedFile>) -> Result<Self, HttpException> {
        Ok(files)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_match_as_nests_validator() {
        assert!(matches_type("image/png", "image/png"));
        assert!(!matches_type("image/pngx", "image/png"));
        assert!(matches_type("image/png", "png"));
        assert!(!matches_type("image/jpeg", "image/png"));
    }
}
