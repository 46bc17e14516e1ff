//! Assets and ledger entries on the wire and in events.

use map_contracts::{ams::v1 as pb, common::v1::Money, events::v1 as ev};
use map_kit::wire::{date::date, etag::etag, time::timestamp};

use super::{Asset, Kind, Status, Transaction};

fn money(amount_minor: i64, currency: &str) -> Money {
    Money {
        amount_minor,
        currency_code: currency.to_owned(),
    }
}

/// The asset on the wire.
pub fn to_proto(a: &Asset) -> pb::Asset {
    pb::Asset {
        id: a.id.clone(),
        number: a.number.clone(),
        name: a.name.clone(),
        serial: a.serial.clone(),
        category_code: a.category_code.clone(),
        department_code: a.department_code.clone(),
        location: a.location.clone(),
        status: Status::parse(&a.status).to_proto().into(),
        holder_user_id: a.holder_user_id.clone().unwrap_or_default(),
        holder_deactivated: a.holder_deactivated,
        purchase_cost: Some(money(a.cost_minor, &a.currency)),
        purchase_date: Some(date(a.purchase_date)),
        expected_return_time: a.expected_return_at.map(timestamp),
        notes: a.notes.clone(),
        supplier: a.supplier.clone(),
        purchase_reference: a.purchase_reference.clone(),
        etag: etag(a.version),
        version: a.version,
        create_time: Some(timestamp(a.created_at)),
        update_time: Some(timestamp(a.updated_at)),
        holder_location: a.holder_location.clone().unwrap_or_default(),
        warranty_end_date: a.warranty_end_date.map(date),
        model: a.model.clone(),
        opening_balance: a.opening_balance,
    }
}

/// The events' snapshot of `a`, whose category is named `category_name`;
/// `holder` is the holder's reference when it is held by a user.
pub fn snapshot(a: &Asset, category_name: &str, holder: Option<ev::UserRef>) -> ev::AssetSnapshot {
    ev::AssetSnapshot {
        id: a.id.clone(),
        number: a.number.clone(),
        name: a.name.clone(),
        serial: a.serial.clone(),
        category_code: a.category_code.clone(),
        category_name: category_name.to_owned(),
        department_code: a.department_code.clone(),
        location: a.location.clone(),
        status: Status::parse(&a.status).to_event().into(),
        holder,
        holder_deactivated: a.holder_deactivated,
        purchase_cost: Some(money(a.cost_minor, &a.currency)),
        purchase_date: Some(date(a.purchase_date)),
        expected_return_time: a.expected_return_at.map(timestamp),
        supplier: a.supplier.clone(),
        purchase_reference: a.purchase_reference.clone(),
        notes: a.notes.clone(),
        version: a.version,
        create_time: Some(timestamp(a.created_at)),
        update_time: Some(timestamp(a.updated_at)),
        holder_location: a.holder_location.clone().unwrap_or_default(),
        warranty_end_date: a.warranty_end_date.map(date),
        model: a.model.clone(),
        opening_balance: a.opening_balance,
    }
}

fn status(s: &str) -> i32 {
    if s.is_empty() {
        pb::AssetStatus::Unspecified.into()
    } else {
        Status::parse(s).to_proto().into()
    }
}

/// The ledger entry on the wire.
pub fn transaction_to_proto(t: &Transaction) -> pb::AssetTransaction {
    pb::AssetTransaction {
        id: t.id.clone(),
        asset_id: t.asset_id.clone(),
        asset_number: t.asset_number.clone(),
        r#type: Kind::parse(&t.kind)
            .map_or(pb::AssetTransactionType::Unspecified, Kind::to_proto)
            .into(),
        actor_user_id: t.actor_user_id.clone(),
        time: Some(timestamp(t.at)),
        from_status: status(&t.from_status),
        to_status: status(&t.to_status),
        holder_user_id: t.holder_user_id.clone(),
        from_department_code: t.from_department_code.clone(),
        to_department_code: t.to_department_code.clone(),
        from_location: t.from_location.clone(),
        to_location: t.to_location.clone(),
        amount: t.amount_minor.map(|a| money(a, &t.currency)),
        expected_return_time: t.expected_return_at.map(timestamp),
        note: t.note.clone(),
        disposal_method: disposal_method(&t.disposal_method).into(),
        checkout_transaction_id: t.checkout_transaction_id.clone(),
        holder_location: t.holder_location.clone(),
        previous_amount: t.previous_amount_minor.map(|a| money(a, &t.currency)),
        maintenance_record_id: t.maintenance_record_id.clone(),
    }
}

/// The stored text of a disposal method; `None` for UNSPECIFIED.
pub fn stored_disposal(m: pb::DisposalMethod) -> Option<&'static str> {
    Some(match m {
        pb::DisposalMethod::Sold => "sold",
        pb::DisposalMethod::Scrapped => "scrapped",
        pb::DisposalMethod::Donated => "donated",
        pb::DisposalMethod::Lost => "lost",
        pb::DisposalMethod::Unspecified => return None,
    })
}

/// The wire value of a stored disposal method.
pub fn disposal_method(s: &str) -> pb::DisposalMethod {
    [
        pb::DisposalMethod::Sold,
        pb::DisposalMethod::Scrapped,
        pb::DisposalMethod::Donated,
        pb::DisposalMethod::Lost,
    ]
    .into_iter()
    .find(|m| stored_disposal(*m) == Some(s))
    .unwrap_or(pb::DisposalMethod::Unspecified)
}
