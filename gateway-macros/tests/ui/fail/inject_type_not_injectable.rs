use std::rc::Rc;

use gateway_core::prelude::*;

#[injectable]
struct UsersService {
    #[inject("CACHE")]
    cache: Rc<String>,
}

fn main() {}
