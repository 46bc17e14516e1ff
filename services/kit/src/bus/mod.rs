//! The event backbone: outbox relay, topology, consumers with an inbox, the
//! AMQP transport and the in-process bus.
