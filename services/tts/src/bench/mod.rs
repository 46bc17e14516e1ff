//! TTS's benchmarks (feature `bench`, run by `map bench`; BENCHMARKS.md):
//! [`ticket_queries`] (pages at a million tickets), [`sla_timers`] (SLA
//! timers fired per second and their lag), [`sla_calendar`] (business-time
//! arithmetic against its brute-force oracle).

pub mod sla_calendar;
pub mod sla_timers;
pub mod ticket_queries;
