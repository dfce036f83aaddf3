use gateway_core::prelude::*;

struct FilesController;

#[controller]
impl FilesController {
    #[get("files/*path/meta")]
    async fn meta(&self, #[param] path: String) -> String {
        path
    }
}

fn main() {}
