//! The tts database's own tables: workflows and their revisions.

mod m0001_workflows;

pub(crate) use m0001_workflows::Migration as Workflows;
