//! `POST /auth/register` (api.md §5.1): one transaction writes user, tenant, verification token, email,
//! execution record and provisioning start request. An existing email gets an answer indistinguishable
//! from a fresh registration.

use serde_json::json;
use tenantry_domain::{Email, FullName, NewPassword, SchemaName, Slug, TenantName};
use tenantry_store::audit::{self, AuditContext, NewAudit};
use tenantry_store::{is_unique_violation, tenants, tokens, users};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::context::{Services, UserView};
use crate::email::queue::{Recipient, queue};
use crate::email::templates;
use crate::error::{ServiceError, ServiceResult};
use crate::workflow_requests::request_provisioning;

pub struct RegisterCommand {
    pub email: Email,
    pub password: NewPassword,
    pub full_name: FullName,
    pub tenant_name: TenantName,
    pub slug: Slug,
}

#[derive(Debug)]
pub struct Registered {
    pub user: UserView,
    pub workflow_id: String,
    pub tenant_slug: String,
}

pub fn slug_conflict(slug: &str) -> ServiceError {
    ServiceError::Conflict(format!("Tenant with slug '{slug}' already exists"))
}

impl Services {
    pub async fn register(
        &self,
        cmd: RegisterCommand,
        ctx: &AuditContext,
    ) -> ServiceResult<Registered> {
        let schema = SchemaName::from_slug(&cmd.slug);
        {
            let mut conn = self.db.read().await?;
            if tenants::slug_taken(&mut conn, cmd.slug.as_str(), schema.as_str()).await? {
                return Err(slug_conflict(cmd.slug.as_str()));
            }
        }
        // Hashed on both paths, so an existing email costs the same.
        let hashed = self
            .passwords
            .hash(cmd.password.expose().to_owned())
            .await?;

        let mut tx = self.db.begin().await?;
        let user_id = Uuid::now_v7();
        let tenant_id = Uuid::now_v7();
        let created = users::insert_if_absent(
            &mut tx,
            &users::NewUser {
                id: user_id,
                email: cmd.email.as_str(),
                hashed_password: &hashed,
                full_name: cmd.full_name.as_str(),
                verified: false,
                is_superuser: false,
            },
        )
        .await?;
        let owner = created.as_ref().map(|u| u.id);
        let inserted = tenants::insert(
            &mut tx,
            &tenants::NewTenant {
                id: tenant_id,
                name: cmd.tenant_name.as_str(),
                slug: cmd.slug.as_str(),
                origin: "registration",
                registered_by_user_id: owner,
                claimed: false,
            },
        )
        .await;
        if let Err(e) = inserted {
            // A concurrent registration took the slug between the check and the insert.
            return Err(if is_unique_violation(&e) {
                slug_conflict(cmd.slug.as_str())
            } else {
                e.into()
            });
        }

        let settings = &self.settings;
        match &created {
            Some(user) => {
                self.queue_verification(
                    &mut tx,
                    user.id,
                    user.email.as_str(),
                    user.full_name.as_str(),
                    Some(tenant_id),
                )
                .await?
            }
            None => {
                let existing = users::by_email(&mut tx, cmd.email.as_str())
                    .await?
                    .ok_or_else(|| {
                        ServiceError::Internal("email conflict without a user".to_owned())
                    })?;
                if existing.email_verified_at.is_none() {
                    self.queue_verification(
                        &mut tx,
                        existing.id,
                        existing.email.as_str(),
                        existing.full_name.as_str(),
                        None,
                    )
                    .await?;
                } else {
                    let rendered =
                        templates::already_registered(&settings.app_url, &settings.app_name);
                    queue(
                        &mut tx,
                        settings,
                        &rendered,
                        &Recipient {
                            to: existing.email.as_str(),
                            user_id: Some(existing.id),
                            tenant_id: None,
                        },
                        None,
                        None,
                    )
                    .await?;
                }
            }
        }

        let workflow_id =
            request_provisioning(&mut tx, settings, &cmd.slug, tenant_id, owner, None).await?;
        audit::insert(
            &mut tx,
            ctx,
            &match owner {
                Some(id) => NewAudit::success("user.register", "user", id).by(id),
                None => NewAudit::failure("user.register", "user", "Email already registered"),
            }
            .tenant(tenant_id)
            .changes(json!({ "tenant_slug": cmd.slug.as_str() })),
        )
        .await?;
        tx.commit().await?;

        let user = match &created {
            Some(u) => UserView::from(u),
            // Indistinguishable from a fresh account: a new id that is never stored.
            None => UserView {
                id: Uuid::now_v7(),
                email: cmd.email.as_str().to_owned(),
                full_name: cmd.full_name.as_str().to_owned(),
                is_active: true,
                is_superuser: false,
                created_at: OffsetDateTime::now_utc(),
            },
        };
        Ok(Registered {
            user,
            workflow_id,
            tenant_slug: cmd.slug.as_str().to_owned(),
        })
    }

    pub(crate) async fn queue_verification(
        &self,
        conn: &mut sqlx::PgConnection,
        user_id: Uuid,
        email: &str,
        full_name: &str,
        tenant_id: Option<Uuid>,
    ) -> ServiceResult<()> {
        let settings = &self.settings;
        let token = crate::tokens::new_token();
        tokens::issue_verification(
            conn,
            user_id,
            &tenantry_domain::token_hash(&token),
            settings.email_verification_expire_hours,
        )
        .await?;
        let rendered = templates::verify_email(
            &settings.app_url,
            &settings.app_name,
            full_name,
            &token,
            settings.email_verification_expire_hours,
        );
        queue(
            conn,
            settings,
            &rendered,
            &Recipient {
                to: email,
                user_id: Some(user_id),
                tenant_id,
            },
            Some(&token),
            None,
        )
        .await?;
        Ok(())
    }
}
