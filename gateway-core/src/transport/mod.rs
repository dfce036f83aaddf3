//! Transports: how packets travel between a client proxy and a microservice.
//!
//! One module per transport. Each speaks its Nest counterpart's wire format exactly
//! (see `shared/nest-wire.md`); the packet shapes they share live in `packet`.

pub mod tcp;

#[cfg(any(feature = "nats", feature = "redis", feature = "mqtt", feature = "rmq"))]
pub mod broker;
#[cfg(feature = "mqtt")]
pub mod mqtt;
#[cfg(feature = "nats")]
pub mod nats;
#[cfg(feature = "redis")]
pub mod redis;
#[cfg(feature = "rmq")]
pub mod rmq;
