use gateway_core::http::UploadedFile;
use gateway_core::prelude::*;

#[injectable]
struct UploadController;

#[controller("upload")]
impl UploadController {
    #[post("a")]
    async fn no_field(&self, #[uploaded_file] file: UploadedFile) -> usize {
        file.size
    }

    #[post("b")]
    async fn count_on_one(&self, #[uploaded_file("file", max_count = 2)] file: UploadedFile) -> usize {
        file.size
    }

    #[post("c")]
    async fn twice(
        &self,
        #[uploaded_file("file")] a: UploadedFile,
        #[uploaded_file("file", max_size = 0)] b: UploadedFile,
    ) -> usize {
        a.size + b.size
    }

    #[post("d")]
    async fn raw_too(
        &self,
        #[uploaded_file("file")] file: UploadedFile,
        #[raw_body] raw: gateway_core::bytes::Bytes,
    ) -> usize {
        file.size + raw.len()
    }

    #[post("e")]
    async fn not_a_file(&self, #[uploaded_file("file", file_type = 3)] file: String) -> String {
        file
    }
}

fn main() {}
