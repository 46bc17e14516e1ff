//! SLAs: when a ticket's first response and resolution are due, counted in
//! business time, and what happens when they are not met.
//!
//! - [`calendar`]: business hours, holidays and time zones, and the
//!   business-time arithmetic over them (exact, and proportional to the days
//!   spanned);
//! - [`clock`]: one clock as pure arithmetic — counting, paused, suspended
//!   or stopped; its warning and breach instants;
//! - [`stored`]: how calendars and policies keep their hours, holidays and
//!   escalation levels; [`matching`]: which policy a ticket follows (the
//!   most specific active one);
//! - [`clocks`]: a ticket's clocks kept in line with the ticket in the
//!   transaction that changes it, their timers re-armed with them;
//! - [`timers`]: warnings, breaches and escalation levels fired exactly
//!   once; [`escalation`]: the consumer that reassigns escalated tickets;
//! - [`view`]: a ticket's SLA as GetTicket and the lists show it;
//! - [`calendars`]: calendars as records — created, read, listed, updated
//!   (SlaService), every bad field named;
//! - [`policies`]: policies as records — created, read, listed, updated
//!   (SlaService), one active per priority and scope; [`order_by`]: the SLA
//!   lists' `order_by` in one spelling;
//! - [`report`]: met, breached and open resolution clocks of a period's
//!   tickets per priority, workflow or team, with mean and p90 business
//!   time to first response and resolution, and its CSV export.

pub mod calendar;
pub mod calendars;
pub mod clock;
pub mod clocks;
pub mod escalation;
pub mod matching;
pub mod order_by;
pub mod policies;
pub mod report;
pub mod stored;
pub mod timers;
pub mod view;
