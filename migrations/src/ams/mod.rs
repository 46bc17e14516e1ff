//! The ams database's own tables: categories, assets, their transaction
//! ledger and their maintenance records.

mod m0001_assets;

pub(crate) use m0001_assets::Migration as Assets;
