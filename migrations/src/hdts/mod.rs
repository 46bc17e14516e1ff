//! The hdts database's own tables: the catalogue of help topics.

mod m0001_help_topics;

pub(crate) use m0001_help_topics::Migration as HelpTopics;
