//! The status machine of an asset and the kinds of ledger entry.

use map_contracts::{ams::v1 as pb, events::v1 as ev};

/// Where an asset is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// In storage, available.
    InStock,
    /// Held by a user or a location.
    CheckedOut,
    /// Away for repair.
    InRepair,
    /// Out of service, kept.
    Retired,
    /// Lost or stolen.
    Lost,
    /// Gone for good; final.
    Disposed,
}

impl Status {
    /// Every status.
    pub const ALL: [Status; 6] = [
        Status::InStock,
        Status::CheckedOut,
        Status::InRepair,
        Status::Retired,
        Status::Lost,
        Status::Disposed,
    ];

    /// The stored text.
    pub const fn as_str(self) -> &'static str {
        match self {
            Status::InStock => "in_stock",
            Status::CheckedOut => "checked_out",
            Status::InRepair => "in_repair",
            Status::Retired => "retired",
            Status::Lost => "lost",
            Status::Disposed => "disposed",
        }
    }

    /// The status of stored text (an unknown one reads as in stock, which
    /// no write produces).
    pub fn parse(s: &str) -> Status {
        Status::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .unwrap_or(Status::InStock)
    }

    /// The status of a wire value; `None` for UNSPECIFIED or unknown.
    pub fn from_proto(n: i32) -> Option<Status> {
        Some(match pb::AssetStatus::try_from(n).ok()? {
            pb::AssetStatus::InStock => Status::InStock,
            pb::AssetStatus::CheckedOut => Status::CheckedOut,
            pb::AssetStatus::InRepair => Status::InRepair,
            pb::AssetStatus::Retired => Status::Retired,
            pb::AssetStatus::Lost => Status::Lost,
            pb::AssetStatus::Disposed => Status::Disposed,
            pb::AssetStatus::Unspecified => return None,
        })
    }

    /// The wire value.
    pub fn to_proto(self) -> pb::AssetStatus {
        match self {
            Status::InStock => pb::AssetStatus::InStock,
            Status::CheckedOut => pb::AssetStatus::CheckedOut,
            Status::InRepair => pb::AssetStatus::InRepair,
            Status::Retired => pb::AssetStatus::Retired,
            Status::Lost => pb::AssetStatus::Lost,
            Status::Disposed => pb::AssetStatus::Disposed,
        }
    }

    /// The events' value (the same numbers).
    pub fn to_event(self) -> ev::AssetStatus {
        match self {
            Status::InStock => ev::AssetStatus::InStock,
            Status::CheckedOut => ev::AssetStatus::CheckedOut,
            Status::InRepair => ev::AssetStatus::InRepair,
            Status::Retired => ev::AssetStatus::Retired,
            Status::Lost => ev::AssetStatus::Lost,
            Status::Disposed => ev::AssetStatus::Disposed,
        }
    }

    /// Whether the status machine lets an asset in `self` move to `to`
    /// (the table of AssetService's documentation).
    pub fn moves_to(self, to: Status) -> bool {
        use Status::*;
        matches!(
            (self, to),
            (InStock, CheckedOut | InRepair | Retired | Lost | Disposed)
                | (CheckedOut, InStock | Lost)
                | (InRepair | Retired | Lost, InStock | Disposed)
        )
    }
}

/// The kind of a ledger entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Bought and registered.
    Purchase,
    /// Registered from an existing fleet.
    OpeningBalance,
    /// Handed to a holder.
    Checkout,
    /// Back from a holder, repair, retirement or loss.
    Checkin,
    /// Moved to another department or location.
    Transfer,
    /// Sent to repair.
    Repair,
    /// Taken out of service.
    Retire,
    /// Reported lost.
    Lost,
    /// Disposed of.
    Dispose,
    /// Maintained.
    Maintenance,
    /// Cost corrected.
    CostCorrection,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 11] = [
        Kind::Purchase,
        Kind::OpeningBalance,
        Kind::Checkout,
        Kind::Checkin,
        Kind::Transfer,
        Kind::Repair,
        Kind::Retire,
        Kind::Lost,
        Kind::Dispose,
        Kind::Maintenance,
        Kind::CostCorrection,
    ];

    /// The stored text.
    pub const fn as_str(self) -> &'static str {
        match self {
            Kind::Purchase => "purchase",
            Kind::OpeningBalance => "opening_balance",
            Kind::Checkout => "checkout",
            Kind::Checkin => "checkin",
            Kind::Transfer => "transfer",
            Kind::Repair => "repair",
            Kind::Retire => "retire",
            Kind::Lost => "lost",
            Kind::Dispose => "dispose",
            Kind::Maintenance => "maintenance",
            Kind::CostCorrection => "cost_correction",
        }
    }

    /// The wire value.
    pub fn to_proto(self) -> pb::AssetTransactionType {
        use pb::AssetTransactionType as T;
        match self {
            Kind::Purchase => T::Purchase,
            Kind::OpeningBalance => T::OpeningBalance,
            Kind::Checkout => T::Checkout,
            Kind::Checkin => T::Checkin,
            Kind::Transfer => T::Transfer,
            Kind::Repair => T::Repair,
            Kind::Retire => T::Retire,
            Kind::Lost => T::Lost,
            Kind::Dispose => T::Dispose,
            Kind::Maintenance => T::Maintenance,
            Kind::CostCorrection => T::CostCorrection,
        }
    }

    /// The kind of a wire value; `None` for UNSPECIFIED or unknown.
    pub fn from_proto(n: i32) -> Option<Kind> {
        let t = pb::AssetTransactionType::try_from(n).ok()?;
        Kind::ALL.into_iter().find(|k| k.to_proto() == t)
    }

    /// The kind of stored text.
    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_and_wire_values_round_trip() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), s);
            assert_eq!(Status::from_proto(s.to_proto().into()), Some(s));
            assert_eq!(i32::from(s.to_event()), i32::from(s.to_proto()));
        }
        for k in Kind::ALL {
            assert_eq!(Kind::parse(k.as_str()), Some(k));
            assert_eq!(Kind::from_proto(k.to_proto().into()), Some(k));
        }
        assert_eq!(Status::from_proto(0), None);
        assert_eq!(Kind::from_proto(0), None);
    }

    #[test]
    fn disposed_is_final_and_nothing_moves_to_itself() {
        for s in Status::ALL {
            assert!(!Status::Disposed.moves_to(s));
            assert!(!s.moves_to(s));
        }
        assert!(Status::InStock.moves_to(Status::CheckedOut));
        assert!(!Status::CheckedOut.moves_to(Status::InRepair));
        assert!(!Status::CheckedOut.moves_to(Status::Disposed));
        assert!(Status::Lost.moves_to(Status::InStock));
        assert!(Status::Retired.moves_to(Status::Disposed));
    }
}
