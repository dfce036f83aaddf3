//! A controller written by a `macro_rules!`, with methods passed in by its caller: the
//! generated code's locals stay visible to the caller's tokens (routes with parameters, bodies
//! and message handlers among them).
use gateway_core::prelude::*;

macro_rules! controller_with {
    ($name:ident, { $($extra:tt)* }) => {
        #[injectable]
        pub struct $name;

        #[controller]
        impl $name {
            #[get("own")]
            async fn own(&self) -> &'static str {
                "own"
            }

            $($extra)*
        }
    };
}

controller_with!(Written, {
    #[get("users/:id")]
    async fn user(&self, #[param] id: u64, #[query] q: serde_json::Value) -> Result<u64, HttpException> {
        let _ = q;
        Ok(id)
    }

    #[post("echo")]
    async fn echo(&self, #[body] body: serde_json::Value) -> serde_json::Value {
        body
    }

    #[message_pattern("sum")]
    async fn sum(&self, data: Vec<i64>, ctx: MessageContext) -> i64 {
        let _ = ctx;
        data.iter().sum()
    }
});

#[module(controllers = [Written])]
struct WrittenModule;

fn main() {
    assert_eq!(Written::META.routes.len(), 3);
    assert_eq!(Written::META.patterns.len(), 1);
}
