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
