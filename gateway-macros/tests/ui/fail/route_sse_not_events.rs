use gateway_core::prelude::*;

#[injectable]
struct EventsController;

#[controller]
impl EventsController {
    // A stream of strings, not of `MessageEvent`s.
    #[sse("events")]
    async fn events(&self) -> impl futures_core::Stream<Item = String> + Send + 'static {
        futures_util::stream::iter(vec!["a".to_owned()])
    }
}

fn main() {}
