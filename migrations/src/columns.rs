//! Column definitions the migrations written from here on share (the
//! earlier ones keep their own copies). Shipped migrations use it, so it is
//! shipped too and never edited (shipped.sha256): a helper needed later
//! goes in a new file.

use sea_orm_migration::prelude::*;

/// Required text.
pub(crate) fn text(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).text().not_null().to_owned()
}

/// Text that is empty unless set.
pub(crate) fn empty_text(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).text().not_null().default("").to_owned()
}

/// A required point in time.
pub(crate) fn time(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col)
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

/// A point in time that may be unset.
pub(crate) fn optional_time(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col)
        .timestamp_with_time_zone()
        .null()
        .to_owned()
}

/// An amount in minor units, zero unless set.
pub(crate) fn minor(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col)
        .big_integer()
        .not_null()
        .default(0)
        .to_owned()
}

/// A 64-bit count or version, required.
pub(crate) fn big(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).big_integer().not_null().to_owned()
}

/// A 32-bit number, zero unless set.
pub(crate) fn int(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col)
        .integer()
        .not_null()
        .default(0)
        .to_owned()
}
