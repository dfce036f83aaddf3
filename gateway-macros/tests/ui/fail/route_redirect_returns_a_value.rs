use gateway_core::prelude::*;

#[injectable]
struct DocsController;

#[controller]
impl DocsController {
    #[get("docs")]
    #[redirect("https://docs.nestjs.com")]
    async fn docs(&self) -> String {
        "https://docs.nestjs.com/v5/".to_owned()
    }
}

fn main() {}
