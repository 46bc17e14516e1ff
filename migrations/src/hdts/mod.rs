//! The hdts database's own tables: the catalogue of help topics, and the
//! help-desk tickets with their mirror of TTS, their replies, ratings and
//! attachments, and the assets they are about.

mod m0001_help_topics;
mod m0002_tickets;
mod m0003_replies;
mod m0004_ratings;
mod m0005_attachments;
mod m0006_asset_tags;

pub(crate) use m0001_help_topics::Migration as HelpTopics;
pub(crate) use m0002_tickets::Migration as Tickets;
pub(crate) use m0003_replies::Migration as Replies;
pub(crate) use m0004_ratings::Migration as Ratings;
pub(crate) use m0005_attachments::Migration as Attachments;
pub(crate) use m0006_asset_tags::Migration as AssetTags;
