use gateway_core::prelude::*;

#[derive(Clone)]
struct Cache;

#[injectable]
struct UsersService {
    // `@Optional()` needs somewhere to say "absent".
    #[optional]
    cache: Cache,
}

fn main() {}
