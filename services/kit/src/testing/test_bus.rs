//! A bus of a test's own, on either transport: the in-process bus or
//! RabbitMQ under a fresh prefix whose queues are deleted afterwards.

use super::{AmqpCleanup, amqp_prefix, amqp_url};
use crate::bus::Bus;

/// Which bus a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// `Bus::in_process` (what `map dev` runs).
    InProcess,
    /// RabbitMQ at `MAP_TEST_AMQP_URL`.
    RabbitMq,
}

/// A bus under a prefix of its own; a RabbitMQ prefix's queues are deleted
/// when it is dropped.
#[derive(Debug)]
pub struct TestBus {
    /// The bus.
    pub bus: Bus,
    /// Declared last: dropped after the bus.
    _cleanup: Option<AmqpCleanup>,
}

impl TestBus {
    /// A bus on `transport`; `None` (a recorded skip, a failure under CI)
    /// for RabbitMQ without `MAP_TEST_AMQP_URL`.
    ///
    /// # Panics
    /// When `MAP_TEST_AMQP_URL` is set but the broker cannot be reached.
    pub async fn new(transport: Transport) -> Option<TestBus> {
        let prefix = amqp_prefix();
        match transport {
            Transport::InProcess => Some(TestBus {
                bus: Bus::in_process(&prefix),
                _cleanup: None,
            }),
            Transport::RabbitMq => {
                let url = amqp_url()?;
                let bus = Bus::connect(Some(&url), &prefix)
                    .await
                    .unwrap_or_else(|e| panic!("MAP_TEST_AMQP_URL is set but: {e}"));
                Some(TestBus {
                    bus,
                    _cleanup: Some(AmqpCleanup::new(&url, &prefix)),
                })
            }
        }
    }
}
