//! Micro-benchmarks of the hot path's pure parts: the Nest TCP codec (encode and decode, ASCII
//! and non-ASCII payloads, whose UTF-16 length must be counted) and pattern normalization
//! (Nest's `transformPatternToRoute`, on an object pattern built at run time).
//!
//! `cargo bench -p gateway-core --bench codec`

use bytes::BytesMut;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use gateway_core::pattern::Pattern;
use gateway_core::transport::tcp::NestCodec;
use serde_json::json;
use tokio_util::codec::{Decoder, Encoder};

fn packet(text: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "pattern": { "cmd": "get_user" },
        "data": { "id": 42, "name": text, "tags": ["a", "b", "c"] },
        "id": "12345",
    }))
    .unwrap()
}

fn codec(c: &mut Criterion) {
    let payloads = [
        ("ascii", packet(&"Ada Lovelace ".repeat(20))),
        ("non-ascii", packet(&"Ada Lovelace 😀 日本 ".repeat(20))),
    ];
    let mut group = c.benchmark_group("codec");
    for (name, json) in &payloads {
        group.throughput(Throughput::Bytes(json.len() as u64));
        group.bench_function(format!("encode/{name}"), |b| {
            let mut codec = NestCodec::new(usize::MAX);
            let mut out = BytesMut::with_capacity(4096);
            b.iter(|| {
                out.clear();
                codec.encode(json.as_slice(), &mut out).unwrap();
            })
        });
        let mut framed = BytesMut::new();
        NestCodec::new(usize::MAX)
            .encode(json.as_slice(), &mut framed)
            .unwrap();
        group.bench_function(format!("decode/{name}"), |b| {
            let mut codec = NestCodec::new(usize::MAX);
            b.iter_batched(
                || framed.clone(),
                |mut input| codec.decode(&mut input).unwrap().unwrap(),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

fn patterns(c: &mut Criterion) {
    let mut group = c.benchmark_group("pattern");
    group.bench_function("normalize/one key", |b| {
        b.iter(|| Pattern::from(json!({ "cmd": "get_user" })).route().len())
    });
    group.bench_function("normalize/nested, unsorted", |b| {
        b.iter(|| {
            Pattern::from(
                json!({ "role": "user", "cmd": "get", "_id": 1, "meta": { "v": 2, "a": [1, 2] } }),
            )
            .route()
            .len()
        })
    });
    group.finish();
}

criterion_group!(benches, codec, patterns);
criterion_main!(benches);
