//! Audit rows (data-model.md §2.12). Success rows are written inside the business transaction.

use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

/// The operator behind an assumed identity (api.md §5.7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssumedActor {
    pub operator_user_id: Uuid,
    pub reason: Option<String>,
}

/// Filled once the request's bearer token is known. Shared, so a context taken before authentication still
/// stamps every row written after it.
#[derive(Debug, Clone, Default)]
pub struct ActingSlot(Arc<OnceLock<AssumedActor>>);

impl ActingSlot {
    pub fn set(&self, actor: AssumedActor) {
        let _ = self.0.set(actor);
    }

    pub fn get(&self) -> Option<&AssumedActor> {
        self.0.get()
    }
}

/// Who caused an event and from where.
#[derive(Debug, Clone, Default)]
pub struct AuditContext {
    pub request_id: Option<String>,
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
    pub acting: ActingSlot,
}

impl AuditContext {
    pub fn assumed_by(&self) -> Option<Uuid> {
        self.acting.get().map(|a| a.operator_user_id)
    }
}

/// Rows caused through an assumed identity carry `changes._assumed_identity`.
fn stamped_changes(ctx: &AuditContext, changes: Option<&Value>) -> Option<Value> {
    let Some(actor) = ctx.acting.get() else {
        return changes.cloned();
    };
    let mut obj = match changes {
        Some(Value::Object(m)) => m.clone(),
        Some(other) => {
            let mut m = serde_json::Map::new();
            m.insert("value".to_owned(), other.clone());
            m
        }
        None => serde_json::Map::new(),
    };
    obj.insert(
        "_assumed_identity".to_owned(),
        serde_json::json!({ "operator_user_id": actor.operator_user_id, "reason": actor.reason }),
    );
    Some(Value::Object(obj))
}

#[derive(Debug, Clone)]
pub struct NewAudit<'a> {
    pub tenant_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
    pub action: &'a str,
    pub entity_type: &'a str,
    pub entity_id: Option<Uuid>,
    pub changes: Option<Value>,
    pub success: bool,
    pub error_message: Option<&'a str>,
}

impl<'a> NewAudit<'a> {
    /// A success row of `action` about the `entity_type` row `entity_id`; no tenant, user or changes yet.
    pub fn success(
        action: &'a str,
        entity_type: &'a str,
        entity_id: impl Into<Option<Uuid>>,
    ) -> Self {
        Self {
            tenant_id: None,
            user_id: None,
            action,
            entity_type,
            entity_id: entity_id.into(),
            changes: None,
            success: true,
            error_message: None,
        }
    }

    /// A failure row of `action` on an `entity_type`, with its error message; no tenant, user, entity or
    /// changes yet.
    pub fn failure(
        action: &'a str,
        entity_type: &'a str,
        error_message: impl Into<Option<&'a str>>,
    ) -> Self {
        Self {
            tenant_id: None,
            user_id: None,
            action,
            entity_type,
            entity_id: None,
            changes: None,
            success: false,
            error_message: error_message.into(),
        }
    }

    /// The tenant the row belongs to.
    pub fn tenant(mut self, tenant_id: impl Into<Option<Uuid>>) -> Self {
        self.tenant_id = tenant_id.into();
        self
    }

    /// The user who caused the event.
    pub fn by(mut self, user_id: impl Into<Option<Uuid>>) -> Self {
        self.user_id = user_id.into();
        self
    }

    /// The row the event is about.
    pub fn entity(mut self, entity_id: impl Into<Option<Uuid>>) -> Self {
        self.entity_id = entity_id.into();
        self
    }

    /// What the event changed.
    pub fn changes(mut self, changes: Value) -> Self {
        self.changes = Some(changes);
        self
    }
}

pub async fn insert(
    conn: &mut PgConnection,
    ctx: &AuditContext,
    row: &NewAudit<'_>,
) -> Result<(), sqlx::Error> {
    let user_agent: Option<String> = ctx
        .user_agent
        .as_ref()
        .map(|u| u.chars().take(500).collect());
    let error: Option<String> = row.error_message.map(|e| e.chars().take(1000).collect());
    let ip = ctx.ip.map(sqlx::types::ipnetwork::IpNetwork::from);
    sqlx::query(
        "INSERT INTO public.audit_logs (id, tenant_id, user_id, assumed_by_user_id, action, entity_type, entity_id, \
           changes, ip_address, user_agent, request_id, status, error_message) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(Uuid::now_v7())
    .bind(row.tenant_id)
    .bind(row.user_id)
    .bind(ctx.assumed_by())
    .bind(row.action)
    .bind(row.entity_type)
    .bind(row.entity_id)
    .bind(stamped_changes(ctx, row.changes.as_ref()))
    .bind(ip)
    .bind(user_agent)
    .bind(&ctx.request_id)
    .bind(if row.success { "success" } else { "failure" })
    .bind(error)
    .execute(conn)
    .await?;
    Ok(())
}

/// An audit row as the API lists it (api.md §3 AuditLogRead).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuditRow {
    pub id: Uuid,
    pub tenant_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
    pub assumed_by_user_id: Option<Uuid>,
    pub action: String,
    pub entity_type: String,
    pub entity_id: Option<Uuid>,
    pub changes: Option<Value>,
    pub ip_address: Option<sqlx::types::ipnetwork::IpNetwork>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    pub status: String,
    pub error_message: Option<String>,
    pub created_at: time::OffsetDateTime,
}

/// Optional narrowing of a tenant's audit rows; every member left `None` is not filtered on.
#[derive(Debug, Clone, Copy, Default)]
pub struct AuditFilter<'a> {
    pub action: Option<&'a str>,
    pub user_id: Option<Uuid>,
    /// `success` or `failure`.
    pub status: Option<&'a str>,
    /// `(entity_type, entity_id)`.
    pub entity: Option<(&'a str, Uuid)>,
}

/// Rows of one tenant, newest first by `(created_at, id)`, strictly after `after`, at most `limit`.
/// The tenant is not optional: every API query on this table is scoped to the caller's tenant
/// (data-model.md §2.12). Only the given filters become predicates, so each query matches one of the
/// table's `(tenant_id, …)` indexes.
pub async fn list_for_tenant(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    filter: &AuditFilter<'_>,
    after: Option<(time::OffsetDateTime, Uuid)>,
    limit: i64,
) -> Result<Vec<AuditRow>, sqlx::Error> {
    let mut q = sqlx::QueryBuilder::<sqlx::Postgres>::new(
        "SELECT id, tenant_id, user_id, assumed_by_user_id, action, entity_type, entity_id, changes, \
           ip_address, user_agent, request_id, status, error_message, created_at \
         FROM public.audit_logs WHERE tenant_id = ",
    );
    q.push_bind(tenant_id);
    if let Some(action) = filter.action {
        q.push(" AND action = ").push_bind(action);
    }
    if let Some(user_id) = filter.user_id {
        q.push(" AND user_id = ").push_bind(user_id);
    }
    if let Some(status) = filter.status {
        q.push(" AND status = ").push_bind(status);
    }
    if let Some((entity_type, entity_id)) = filter.entity {
        q.push(" AND entity_type = ")
            .push_bind(entity_type)
            .push(" AND entity_id = ")
            .push_bind(entity_id);
    }
    if let Some((at, id)) = after {
        q.push(" AND (created_at, id) < (")
            .push_bind(at)
            .push(", ")
            .push_bind(id)
            .push(")");
    }
    q.push(" ORDER BY created_at DESC, id DESC LIMIT ")
        .push_bind(limit);
    q.build_query_as::<AuditRow>().fetch_all(conn).await
}
