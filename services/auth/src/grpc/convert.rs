//! Domain values to and from the contract's messages.

use map_contracts::auth::v1 as pb;
use map_kit::{authn::RoleRef, wire::time::timestamp};

use crate::{
    api_keys::ApiKey,
    departments::Department,
    entity::{roles, systems},
    users::model::User,
};

pub(crate) fn role_ref(r: pb::RoleRef) -> RoleRef {
    RoleRef {
        system: r.system,
        role: r.role,
    }
}

pub(crate) fn role_refs(roles: Vec<pb::RoleRef>) -> Vec<RoleRef> {
    roles.into_iter().map(role_ref).collect()
}

fn pb_role_ref(r: RoleRef) -> pb::RoleRef {
    pb::RoleRef {
        system: r.system,
        role: r.role,
    }
}

pub(crate) fn user(u: User) -> pb::User {
    pb::User {
        id: u.id,
        email: u.email,
        display_name: u.display_name,
        department: u.department,
        active: u.active,
        roles: u.roles.into_iter().map(pb_role_ref).collect(),
        version: u.version,
        create_time: Some(timestamp(u.created_at)),
        update_time: Some(timestamp(u.updated_at)),
    }
}

pub(crate) fn api_key(k: ApiKey) -> pb::ApiKey {
    pb::ApiKey {
        id: k.id,
        name: k.name,
        roles: k.roles.into_iter().map(pb_role_ref).collect(),
        key_prefix: k.key_prefix,
        creator_user_id: k.creator_user_id.unwrap_or_default(),
        create_time: Some(timestamp(k.created_at)),
        last_use_time: k.last_used_at.map(timestamp),
        revoke_time: k.revoked_at.map(timestamp),
    }
}

pub(crate) fn role(r: roles::Model) -> pb::Role {
    pb::Role {
        system: r.system,
        role: r.role,
        description: r.description,
        builtin: r.builtin,
        create_time: Some(timestamp(r.created_at)),
    }
}

pub(crate) fn system(s: systems::Model) -> pb::System {
    pb::System {
        name: s.name,
        display_name: s.display_name,
    }
}

pub(crate) fn department(d: Department) -> pb::Department {
    pb::Department {
        etag: map_kit::wire::etag::etag(d.version),
        code: d.code,
        name: d.name,
        active: d.active,
        version: d.version,
        create_time: Some(timestamp(d.created_at)),
        update_time: Some(timestamp(d.updated_at)),
    }
}
