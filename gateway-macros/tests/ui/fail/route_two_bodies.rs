use gateway_core::prelude::*;

struct OrdersController;

#[controller]
impl OrdersController {
    #[post("orders")]
    async fn create(&self, #[body] item: String, #[body] quantity: u32) -> String {
        format!("{item}{quantity}")
    }
}

fn main() {}
