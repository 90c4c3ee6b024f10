//! Requesting workflows through the outbox, inside the caller's transaction: tenant workflows are routed
//! to the tenant's shard queue, user workflows to the jobs queue; both are tracked in `workflow_executions`.

use serde_json::{Value, json};
use sqlx::PgConnection;
use tenantry_domain::workflow_ids::{TENANT_DELETION, TENANT_PROVISIONING, USER_ONBOARDING};
use tenantry_domain::{
    Slug, deletion_workflow_id, jobs_queue, onboarding_workflow_id, provisioning_workflow_id,
    tenant_queue, tenant_shard,
};
use tenantry_settings::Settings;
use tenantry_store::outbox;
use uuid::Uuid;

async fn enqueue(
    conn: &mut PgConnection,
    settings: &Settings,
    tenant_id: Uuid,
    workflow_id: &str,
    workflow_type: &str,
    input: Value,
) -> Result<(), sqlx::Error> {
    let queue = tenant_queue(
        &settings.temporal_queue_prefix,
        tenant_shard(&tenant_id, settings.temporal_queue_shards),
    );
    outbox::enqueue_start(
        conn,
        &outbox::NewStartRequest {
            workflow_id,
            workflow_type,
            task_queue: &queue,
            input,
        },
        Some(outbox::Tracked {
            entity_type: "tenant",
            entity_id: tenant_id,
        }),
    )
    .await?;
    Ok(())
}

/// `TenantProvisioning` (workflows.md §4.1); returns its workflow id.
pub async fn request_provisioning(
    conn: &mut PgConnection,
    settings: &Settings,
    slug: &Slug,
    tenant_id: Uuid,
    owner_user_id: Option<Uuid>,
    owner_invite: Option<Value>,
) -> Result<String, sqlx::Error> {
    let workflow_id = provisioning_workflow_id(slug);
    let input = json!({ "tenant_id": tenant_id, "owner_user_id": owner_user_id, "owner_invite": owner_invite });
    enqueue(
        conn,
        settings,
        tenant_id,
        &workflow_id,
        TENANT_PROVISIONING,
        input,
    )
    .await?;
    Ok(workflow_id)
}

/// `TenantDeletion` (workflows.md §4.2); returns its workflow id.
pub async fn request_deletion(
    conn: &mut PgConnection,
    settings: &Settings,
    tenant_id: Uuid,
) -> Result<String, sqlx::Error> {
    let workflow_id = deletion_workflow_id(&tenant_id);
    let input = json!({ "tenant_id": tenant_id, "purge_unverified_registrant": false });
    enqueue(
        conn,
        settings,
        tenant_id,
        &workflow_id,
        TENANT_DELETION,
        input,
    )
    .await?;
    Ok(workflow_id)
}

/// `UserOnboarding` (workflows.md §4.3) after a user's first verification or a new account created by an
/// invite; `tenant_id` is the tenant they registered, if any. Returns its workflow id.
pub async fn request_onboarding(
    conn: &mut PgConnection,
    settings: &Settings,
    user_id: Uuid,
    tenant_id: Option<Uuid>,
) -> Result<String, sqlx::Error> {
    let workflow_id = onboarding_workflow_id(&user_id);
    outbox::enqueue_start(
        conn,
        &outbox::NewStartRequest {
            workflow_id: &workflow_id,
            workflow_type: USER_ONBOARDING,
            task_queue: &jobs_queue(&settings.temporal_queue_prefix),
            input: json!({ "user_id": user_id, "tenant_id": tenant_id }),
        },
        Some(outbox::Tracked {
            entity_type: "user",
            entity_id: user_id,
        }),
    )
    .await?;
    Ok(workflow_id)
}
