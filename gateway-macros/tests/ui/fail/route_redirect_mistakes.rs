use gateway_core::prelude::*;

#[injectable]
struct DocsController;

#[controller]
impl DocsController {
    // Not a redirect status.
    #[get("a")]
    #[redirect("https://docs.nestjs.com", 200)]
    async fn a(&self) {}

    // The URL first.
    #[get("b")]
    #[redirect(301)]
    async fn b(&self) {}
}

fn main() {}
