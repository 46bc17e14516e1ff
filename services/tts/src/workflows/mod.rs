//! Workflows (`map.tts.v1.WorkflowService`): versioned definitions of the
//! steps a ticket goes through. A workflow has immutable, numbered revisions;
//! one at most is PUBLISHED and used by new tickets, which keep the revision
//! they started with. At most one workflow is published per selector
//! (department, category, sub-category) — a unique index says so, so two
//! concurrent publishes cannot both win — and [`Workflows::select`] picks a
//! new ticket's workflow from the most specific selector down to the
//! default workflow, recording which rule matched.
//!
//! Every change bumps the workflow's version (its etag) in one write
//! transaction; creates and publishes are idempotent per `request_id`
//! (`map_kit::idempotency`).

pub mod definition;
pub mod model;
pub mod roles;

use std::{collections::BTreeSet, sync::Arc};

use map_contracts::tts::v1 as pb;
use map_kit::{
    FieldViolation, System,
    clock::Clock,
    db::Db,
    directory,
    idempotency::Idempotent,
    paging::{PageSize, Pager, after},
    wire::etag::check_etag,
};
use sea_orm::{
    ActiveModelTrait as _, ActiveValue::Set, ColumnTrait as _, Condition, ConnectionTrait,
    DatabaseTransaction, EntityTrait as _, QueryFilter as _, QueryOrder as _, QuerySelect as _,
    sea_query::Expr,
};
use serde::{Deserialize, Serialize};

use self::{
    definition::{Definition, Selector},
    model::{Revision, State},
    roles::RoleCatalog,
};
use crate::{
    TtsError,
    entity::{workflow_revisions as revisions, workflows},
    error::is_unique_violation,
};

/// Which selector rule chose a ticket's workflow, most specific first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchRule {
    /// Department, category and sub-category.
    SubCategory,
    /// Department and category.
    Category,
    /// Category, any department.
    CategoryAnyDepartment,
    /// The default workflow (every part empty).
    Default,
}

/// What ListWorkflows asks.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ListQuery {
    /// Only these states (empty: any).
    pub states: Vec<&'static str>,
    /// Only this department code selector.
    pub department_code: String,
    /// Only this category selector.
    pub category: String,
    /// Every revision of this workflow instead of each latest revision.
    pub workflow_id: String,
    /// `name`, `create_time desc` or (with `workflow_id`) `revision desc`.
    pub order_by: String,
}

/// The part of a revision UpdateWorkflow replaces, by update_mask path.
pub const UPDATE_PATHS: [&str; 8] = [
    "name",
    "description",
    "department_code",
    "category",
    "sub_category",
    "steps",
    "transitions",
    "initial_step_id",
];

/// The workflow service's domain.
#[derive(Debug, Clone)]
pub struct Workflows {
    db: Db,
    roles: Arc<dyn RoleCatalog>,
    clock: Clock,
    pager: Pager,
}

impl Workflows {
    /// The catalogue of Auth's TTS roles it checks steps against (canned
    /// responses check their teams against it too).
    pub(crate) fn role_catalog(&self) -> Arc<dyn RoleCatalog> {
        self.roles.clone()
    }

    /// Over `db`, checking roles with `roles`.
    pub fn new(db: Db, roles: Arc<dyn RoleCatalog>, clock: Clock, pager: Pager) -> Workflows {
        Workflows {
            db,
            roles,
            clock,
            pager,
        }
    }

    /// Every violation of `def` (including `extra`, found while decoding the
    /// request), checked against Auth's roles.
    async fn validate(
        &self,
        def: &Definition,
        mut extra: Vec<FieldViolation>,
    ) -> Result<(), TtsError> {
        let roles = self.roles.roles().await?;
        extra.extend(definition::violations(def, &|r| {
            roles.iter().any(|k| k == r)
        }));
        if extra.is_empty() {
            Ok(())
        } else {
            Err(TtsError::InvalidArgument(extra))
        }
    }

    /// CreateWorkflow: revision 1, DRAFT. `extra` are decoding violations.
    pub async fn create(
        &self,
        key: &Idempotent,
        def: Definition,
        extra: Vec<FieldViolation>,
    ) -> Result<pb::CreateWorkflowResponse, TtsError> {
        self.validate(&def, extra).await?;
        let txn = self.db.begin_write().await?;
        if let Some(first) = key.replay(&txn).await? {
            return Ok(first);
        }
        ensure_department(&txn, &def.selector.department_code).await?;
        let now = self.clock.now();
        let id = uuid::Uuid::now_v7().to_string();
        let inserted = workflows::ActiveModel {
            id: Set(id.clone()),
            name: Set(def.name.trim().to_owned()),
            name_normalized: Set(normalize(&def.name)),
            version: Set(1),
            latest_revision: Set(1),
            published_revision: Set(None),
            published_selector: Set(None),
            archived: Set(false),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&txn)
        .await
        .map_err(|e| name_taken_or(e, &def.name))?;
        let revision = insert_revision(&txn, &inserted, 1, &def, now).await?;
        let response = pb::CreateWorkflowResponse {
            workflow: Some(revision.to_proto()),
        };
        key.record(&txn, &response, now).await?;
        txn.commit().await?;
        tracing::info!(workflow_id = %id, "workflow created");
        Ok(response)
    }

    /// GetWorkflow: `revision` 0 is the latest.
    pub async fn get(&self, workflow_id: &str, revision: i32) -> Result<Revision, TtsError> {
        check_id("workflow_id", workflow_id)?;
        if revision < 0 {
            return Err(TtsError::invalid(
                "revision",
                "must be 0 (the latest) or a revision number",
            ));
        }
        read(self.db.conn(), workflow_id, revision).await
    }

    /// ListWorkflows.
    pub async fn list(
        &self,
        q: &ListQuery,
        page_size: i32,
        page_token: &str,
    ) -> Result<(Vec<Revision>, String), TtsError> {
        let size = PageSize::parse(page_size)?;
        if !q.workflow_id.is_empty() {
            check_id("workflow_id", &q.workflow_id)?;
        }
        let order = match (q.order_by.trim(), q.workflow_id.is_empty()) {
            ("" | "name" | "name asc", true) => Order::Name,
            ("create_time desc", _) => Order::Newest,
            ("" | "revision desc", false) => Order::Revision,
            _ => {
                return Err(TtsError::invalid(
                    "order_by",
                    "supported: \"name\", \"create_time desc\", and with workflow_id \"revision desc\"",
                ));
            }
        };
        let cursor: Option<Cursor> = self.pager.open("workflows", q, page_token)?;
        let mut find = revisions::Entity::find();
        if q.workflow_id.is_empty() {
            find = find.filter(Expr::cust(
                "(workflow_id, revision) IN (SELECT id, latest_revision FROM workflows)",
            ));
        } else {
            find = find.filter(revisions::Column::WorkflowId.eq(q.workflow_id.clone()));
        }
        if !q.states.is_empty() {
            find = find.filter(revisions::Column::State.is_in(q.states.iter().copied()));
        }
        if !q.department_code.is_empty() {
            find = find.filter(revisions::Column::DepartmentCode.eq(q.department_code.clone()));
        }
        if !q.category.is_empty() {
            find = find.filter(revisions::Column::Category.eq(q.category.clone()));
        }
        find = match order {
            Order::Name => {
                if let Some(Cursor::Name(name, id)) = cursor {
                    find = find.filter(after(vec![
                        (revisions::Column::Name, name.into()),
                        (revisions::Column::WorkflowId, id.into()),
                    ]));
                }
                find.order_by_asc(revisions::Column::Name)
                    .order_by_asc(revisions::Column::WorkflowId)
            }
            Order::Newest => {
                if let Some(Cursor::Newest(at, id, rev)) = cursor {
                    find = find.filter(
                        Condition::any()
                            .add(revisions::Column::CreatedAt.lt(at))
                            .add(
                                Condition::all()
                                    .add(revisions::Column::CreatedAt.eq(at))
                                    .add(
                                        Condition::any()
                                            .add(revisions::Column::WorkflowId.lt(id.clone()))
                                            .add(
                                                Condition::all()
                                                    .add(revisions::Column::WorkflowId.eq(id))
                                                    .add(revisions::Column::Revision.lt(rev)),
                                            ),
                                    ),
                            ),
                    );
                }
                find.order_by_desc(revisions::Column::CreatedAt)
                    .order_by_desc(revisions::Column::WorkflowId)
                    .order_by_desc(revisions::Column::Revision)
            }
            Order::Revision => {
                if let Some(Cursor::Revision(rev)) = cursor {
                    find = find.filter(revisions::Column::Revision.lt(rev));
                }
                find.order_by_desc(revisions::Column::Revision)
            }
        };
        let rows = find.limit(size.fetch()).all(self.db.conn()).await?;
        let (rows, token) = self
            .pager
            .page("workflows", q, rows, size, |r| match order {
                Order::Name => Cursor::Name(r.name.clone(), r.workflow_id.clone()),
                Order::Newest => Cursor::Newest(r.created_at, r.workflow_id.clone(), r.revision),
                Order::Revision => Cursor::Revision(r.revision),
            });
        let ids: BTreeSet<String> = rows.iter().map(|r| r.workflow_id.clone()).collect();
        let parents = workflows::Entity::find()
            .filter(workflows::Column::Id.is_in(ids))
            .all(self.db.conn())
            .await?;
        let listed = rows
            .into_iter()
            .map(|r| {
                let w = parents
                    .iter()
                    .find(|w| w.id == r.workflow_id)
                    .ok_or(TtsError::NotFound("workflow"))?;
                Revision::from_rows(w, r)
            })
            .collect::<Result<_, _>>()?;
        Ok((listed, token))
    }

    /// UpdateWorkflow: a new DRAFT revision from the latest one with the
    /// `paths` of `patch` replaced; `etag` must be current.
    pub async fn update(
        &self,
        workflow_id: &str,
        etag: &str,
        paths: &BTreeSet<&'static str>,
        patch: Definition,
        extra: Vec<FieldViolation>,
    ) -> Result<Revision, TtsError> {
        check_id("workflow.id", workflow_id)?;
        if etag.is_empty() {
            return Err(TtsError::invalid(
                "workflow.etag",
                "is required (the etag you read)",
            ));
        }
        let latest = read(self.db.conn(), workflow_id, 0).await?;
        let mut def = latest.definition.clone();
        let wanted = |p: &str| paths.contains(p);
        if wanted("name") {
            def.name = patch.name;
        }
        if wanted("description") {
            def.description = patch.description;
        }
        if wanted("department_code") {
            def.selector.department_code = patch.selector.department_code;
        }
        if wanted("category") {
            def.selector.category = patch.selector.category;
        }
        if wanted("sub_category") {
            def.selector.sub_category = patch.selector.sub_category;
        }
        if wanted("steps") {
            def.graph.steps = patch.graph.steps;
        }
        if wanted("transitions") {
            def.graph.transitions = patch.graph.transitions;
        }
        if wanted("initial_step_id") {
            def.graph.initial_step_id = patch.graph.initial_step_id;
        }
        // Decoding violations of paths not replaced are not about this change.
        let extra = extra
            .into_iter()
            .filter(|f| paths.iter().any(|p| f.field.starts_with(p)))
            .collect();
        self.validate(&def, extra).await?;
        let txn = self.db.begin_write().await?;
        let w = workflow(&txn, workflow_id).await?;
        check_etag(System::Tts, "workflow.etag", etag, w.version)?;
        if w.archived {
            return Err(TtsError::precondition(
                "WORKFLOW_ARCHIVED",
                "the workflow is archived; create a new one",
            ));
        }
        ensure_department(&txn, &def.selector.department_code).await?;
        let now = self.clock.now();
        let next = w.latest_revision + 1;
        let bumped = bump(&txn, &w, now, |a| {
            a.latest_revision = Set(next);
            a.name = Set(def.name.trim().to_owned());
            a.name_normalized = Set(normalize(&def.name));
        })
        .await
        .map_err(|e| match e {
            TtsError::Db(e) => name_taken_or(e, &def.name),
            other => other,
        })?;
        let revision = insert_revision(&txn, &bumped, next, &def, now).await?;
        txn.commit().await?;
        tracing::info!(%workflow_id, revision = next, "workflow revision drafted");
        Ok(revision)
    }

    /// PublishWorkflow: the DRAFT `revision` becomes the one new tickets
    /// use; the previously published one is archived.
    pub async fn publish(
        &self,
        key: &Idempotent,
        workflow_id: &str,
        revision: i32,
        etag: &str,
    ) -> Result<pb::PublishWorkflowResponse, TtsError> {
        check_id("workflow_id", workflow_id)?;
        if revision <= 0 {
            return Err(TtsError::invalid(
                "revision",
                "is required (the revision to publish)",
            ));
        }
        let draft = read(self.db.conn(), workflow_id, revision).await?;
        if draft.state == State::Draft {
            // Roles may have been removed from Auth since the draft was made.
            self.validate(&draft.definition, Vec::new()).await?;
        }
        let txn = self.db.begin_write().await?;
        if let Some(first) = key.replay(&txn).await? {
            return Ok(first);
        }
        let w = workflow(&txn, workflow_id).await?;
        if !etag.is_empty() {
            check_etag(System::Tts, "etag", etag, w.version)?;
        }
        let row = revisions::Entity::find_by_id((workflow_id.to_owned(), revision))
            .one(&txn)
            .await?
            .ok_or(TtsError::NotFound("workflow revision"))?;
        if row.state != State::Draft.as_str() {
            return Err(TtsError::precondition(
                "NOT_DRAFT",
                format!("revision {revision} is {}, not a draft", row.state),
            ));
        }
        ensure_department(&txn, &row.department_code).await?;
        let selector = Selector {
            department_code: row.department_code.clone(),
            category: row.category.clone(),
            sub_category: row.sub_category.clone(),
        };
        let in_use = workflows::Entity::find()
            .filter(workflows::Column::PublishedSelector.eq(selector.key()))
            .filter(workflows::Column::Id.ne(workflow_id.to_owned()))
            .one(&txn)
            .await?;
        if let Some(other) = in_use {
            return Err(selector_in_use(&other.name));
        }
        let now = self.clock.now();
        if let Some(previous) = w.published_revision {
            set_state(&txn, workflow_id, previous, State::Archived, now).await?;
        }
        set_state(&txn, workflow_id, revision, State::Published, now).await?;
        let bumped = bump(&txn, &w, now, |a| {
            a.published_revision = Set(Some(revision));
            a.published_selector = Set(Some(selector.key()));
        })
        .await
        .map_err(|e| match e {
            TtsError::Db(e) if is_unique_violation(&e) => selector_in_use("another workflow"),
            other => other,
        })?;
        let published = read(&txn, workflow_id, revision).await?;
        debug_assert_eq!(published.version, bumped.version);
        let matched_help_topics = crate::topics::matching(&txn, &selector)
            .await?
            .into_iter()
            .map(|t| pb::MatchedHelpTopic {
                id: t.id,
                name: t.name,
            })
            .collect::<Vec<_>>();
        if matched_help_topics.is_empty() {
            tracing::warn!(
                %workflow_id,
                category = %selector.category,
                sub_category = %selector.sub_category,
                "published workflow matches no help topic TTS knows"
            );
        }
        let response = pb::PublishWorkflowResponse {
            workflow: Some(published.to_proto()),
            matched_help_topics,
        };
        key.record(&txn, &response, now).await?;
        txn.commit().await?;
        tracing::info!(%workflow_id, revision, "workflow published");
        Ok(response)
    }

    /// ArchiveWorkflow: no new ticket matches it any more.
    pub async fn archive(&self, workflow_id: &str, etag: &str) -> Result<Revision, TtsError> {
        check_id("workflow_id", workflow_id)?;
        let txn = self.db.begin_write().await?;
        let w = workflow(&txn, workflow_id).await?;
        if w.archived {
            return read(&txn, workflow_id, 0).await;
        }
        if !etag.is_empty() {
            check_etag(System::Tts, "etag", etag, w.version)?;
        }
        let now = self.clock.now();
        let open = revisions::Entity::find()
            .filter(revisions::Column::WorkflowId.eq(workflow_id.to_owned()))
            .filter(revisions::Column::State.ne(State::Archived.as_str()))
            .all(&txn)
            .await?;
        for r in open {
            set_state(&txn, workflow_id, r.revision, State::Archived, now).await?;
        }
        bump(&txn, &w, now, |a| {
            a.archived = Set(true);
            a.published_revision = Set(None);
            a.published_selector = Set(None);
        })
        .await?;
        let latest = read(&txn, workflow_id, 0).await?;
        txn.commit().await?;
        tracing::info!(%workflow_id, "workflow archived");
        Ok(latest)
    }

    /// Revision `revision` of workflow `id`, in any state (a ticket keeps
    /// the revision it started on).
    pub async fn read_revision<C: ConnectionTrait>(
        conn: &C,
        id: &str,
        revision: i32,
    ) -> Result<Revision, TtsError> {
        read(conn, id, revision).await
    }

    /// The published workflow for a new ticket of `department_code`,
    /// `category` and `sub_category`: the most specific selector that has
    /// one, down to the default workflow; `None` when not even a default is
    /// published (the ticket goes to triage).
    pub async fn select<C: ConnectionTrait>(
        conn: &C,
        department_code: &str,
        category: &str,
        sub_category: &str,
    ) -> Result<Option<(Revision, MatchRule)>, TtsError> {
        let candidates = [
            (
                department_code,
                category,
                sub_category,
                MatchRule::SubCategory,
            ),
            (department_code, category, "", MatchRule::Category),
            ("", category, "", MatchRule::CategoryAnyDepartment),
            ("", "", "", MatchRule::Default),
        ];
        for (d, c, s, rule) in candidates {
            // A part the ticket lacks cannot make a more specific match.
            let specific = (rule == MatchRule::SubCategory && (s.is_empty() || c.is_empty()))
                || (matches!(rule, MatchRule::Category) && (c.is_empty() || d.is_empty()))
                || (rule == MatchRule::CategoryAnyDepartment && c.is_empty());
            if specific {
                continue;
            }
            let key = Selector {
                department_code: d.to_owned(),
                category: c.to_owned(),
                sub_category: s.to_owned(),
            }
            .key();
            let Some(w) = workflows::Entity::find()
                .filter(workflows::Column::PublishedSelector.eq(key))
                .one(conn)
                .await?
            else {
                continue;
            };
            let Some(revision) = w.published_revision else {
                continue;
            };
            let row = revisions::Entity::find_by_id((w.id.clone(), revision))
                .one(conn)
                .await?
                .ok_or(TtsError::NotFound("workflow revision"))?;
            return Ok(Some((Revision::from_rows(&w, row)?, rule)));
        }
        Ok(None)
    }
}

#[derive(Debug, Clone, Copy)]
enum Order {
    Name,
    Newest,
    Revision,
}

/// Where the previous page ended.
#[derive(Debug, Serialize, Deserialize)]
enum Cursor {
    Name(String, String),
    Newest(chrono::DateTime<chrono::Utc>, String, i32),
    Revision(i32),
}

fn normalize(name: &str) -> String {
    name.trim().to_lowercase()
}

fn check_id(field: &str, id: &str) -> Result<(), TtsError> {
    let mut v = map_kit::Violations::default();
    v.uuid(field, id);
    v.finish().map_err(TtsError::from)
}

fn name_taken_or(e: sea_orm::DbErr, name: &str) -> TtsError {
    if is_unique_violation(&e) {
        TtsError::AlreadyExists {
            reason: "WORKFLOW_NAME_TAKEN",
            message: format!("a workflow named {:?} exists", name.trim()),
        }
    } else {
        TtsError::Db(e)
    }
}

fn selector_in_use(other: &str) -> TtsError {
    TtsError::precondition(
        "SELECTOR_IN_USE",
        format!(
            "{other:?} is published for the same department, category and sub-category; archive it first"
        ),
    )
}

/// NOT_FOUND unless `code` is empty or an active department in the directory.
async fn ensure_department<C: ConnectionTrait>(conn: &C, code: &str) -> Result<(), TtsError> {
    if code.is_empty() || directory::read::department_is_active(conn, code).await? {
        Ok(())
    } else {
        Err(TtsError::NotFound("department"))
    }
}

async fn workflow<C: ConnectionTrait>(conn: &C, id: &str) -> Result<workflows::Model, TtsError> {
    workflows::Entity::find_by_id(id.to_owned())
        .one(conn)
        .await?
        .ok_or(TtsError::NotFound("workflow"))
}

/// Revision `revision` (0: the latest) of workflow `id`.
async fn read<C: ConnectionTrait>(conn: &C, id: &str, revision: i32) -> Result<Revision, TtsError> {
    let w = workflow(conn, id).await?;
    let number = if revision == 0 {
        w.latest_revision
    } else {
        revision
    };
    let row = revisions::Entity::find_by_id((id.to_owned(), number))
        .one(conn)
        .await?
        .ok_or(TtsError::NotFound("workflow revision"))?;
    Revision::from_rows(&w, row)
}

async fn insert_revision(
    txn: &DatabaseTransaction,
    w: &workflows::Model,
    revision: i32,
    def: &Definition,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Revision, TtsError> {
    let graph = serde_json::to_string(&def.graph)
        .map_err(|e| TtsError::from(map_kit::ApiError::Internal(Box::new(e))))?;
    let row = revisions::ActiveModel {
        workflow_id: Set(w.id.clone()),
        revision: Set(revision),
        state: Set(State::Draft.as_str().to_owned()),
        name: Set(def.name.trim().to_owned()),
        description: Set(def.description.clone()),
        department_code: Set(def.selector.department_code.clone()),
        category: Set(def.selector.category.clone()),
        sub_category: Set(def.selector.sub_category.clone()),
        graph: Set(graph),
        created_at: Set(now),
        published_at: Set(None),
        archived_at: Set(None),
    }
    .insert(txn)
    .await?;
    Revision::from_rows(w, row)
}

async fn set_state(
    txn: &DatabaseTransaction,
    id: &str,
    revision: i32,
    state: State,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), TtsError> {
    let mut a = revisions::ActiveModel {
        workflow_id: Set(id.to_owned()),
        revision: Set(revision),
        state: Set(state.as_str().to_owned()),
        ..Default::default()
    };
    match state {
        State::Published => a.published_at = Set(Some(now)),
        State::Archived => a.archived_at = Set(Some(now)),
        State::Draft => {}
    }
    a.update(txn).await?;
    Ok(())
}

/// Applies `change` and the next version to `w`, only if nobody changed it
/// since it was read (ABORTED otherwise).
async fn bump(
    txn: &DatabaseTransaction,
    w: &workflows::Model,
    now: chrono::DateTime<chrono::Utc>,
    change: impl FnOnce(&mut workflows::ActiveModel),
) -> Result<workflows::Model, TtsError> {
    let mut a = workflows::ActiveModel {
        version: Set(w.version + 1),
        updated_at: Set(now),
        ..Default::default()
    };
    change(&mut a);
    let result = workflows::Entity::update_many()
        .set(a)
        .filter(workflows::Column::Id.eq(w.id.clone()))
        .filter(workflows::Column::Version.eq(w.version))
        .exec(txn)
        .await?;
    if result.rows_affected != 1 {
        return Err(TtsError::EtagMismatch);
    }
    workflow(txn, &w.id).await
}
