//! Audit rows (data-model.md §2.12). Success rows are written inside the business transaction.

use std::net::IpAddr;

use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

/// Who caused an event and from where.
#[derive(Debug, Clone, Default)]
pub struct AuditContext {
    pub request_id: Option<String>,
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
    pub assumed_by_user_id: Option<Uuid>,
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
    .bind(ctx.assumed_by_user_id)
    .bind(row.action)
    .bind(row.entity_type)
    .bind(row.entity_id)
    .bind(&row.changes)
    .bind(ip)
    .bind(user_agent)
    .bind(&ctx.request_id)
    .bind(if row.success { "success" } else { "failure" })
    .bind(error)
    .execute(conn)
    .await?;
    Ok(())
}
