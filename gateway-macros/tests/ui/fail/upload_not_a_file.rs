use gateway_core::prelude::*;

#[injectable]
struct UploadController;

#[controller("upload")]
impl UploadController {
    #[post("")]
    async fn upload(&self, #[uploaded_file("file")] file: String) -> String {
        file
    }
}

fn main() {}
