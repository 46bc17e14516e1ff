//! Conversions between the contracts' wire types and the domain's, one
//! place each, with errors naming the request field:
//!
//! - [`time`]: `google.protobuf.Timestamp` ⇄ `DateTime<Utc>`,
//!   `google.protobuf.Duration` ⇄ `std::time::Duration`;
//! - [`date`]: `google.type.Date` ⇄ `NaiveDate` (full dates only);
//! - [`currency`]: amounts a request gives, of an ISO-4217 currency with
//!   a known number of minor digits, zero or more;
//! - [`money`]: `map.common.v1.Money` ⇄ [`Money`](money::Money), integer
//!   minor units and an ISO-4217 code, never floating point;
//! - [`field_mask`]: the paths of an update's `google.protobuf.FieldMask`,
//!   checked against the fields the RPC lets a caller change;
//! - [`etag`]: a resource's etag from its version, and the check that
//!   answers ABORTED for a stale one.
//!
//! ```
//! use chrono::{TimeZone as _, Utc};
//! use map_kit::wire::time;
//!
//! let t = Utc.with_ymd_and_hms(2026, 12, 2, 9, 30, 0).unwrap();
//! let wire = time::timestamp(t);
//! assert_eq!(time::from_timestamp("due_time", &wire).unwrap(), t);
//! ```

pub mod currency;
pub mod date;
pub mod etag;
pub mod field_mask;
pub mod money;
pub mod time;
