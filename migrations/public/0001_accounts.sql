-- Accounts and tenants: users, tenants, memberships and the tenant-schema migration summary.
-- Everything is schema-qualified so the file behaves the same whatever search_path the session has.

CREATE TABLE public.users (
    id                uuid        NOT NULL,
    email             text        NOT NULL,
    hashed_password   text        NOT NULL,
    full_name         text        NOT NULL,
    is_active         boolean     NOT NULL DEFAULT true,
    is_superuser      boolean     NOT NULL DEFAULT false,
    email_verified_at timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_pkey PRIMARY KEY (id),
    -- A plain unique index is case-insensitive only because every stored email is already normalized.
    CONSTRAINT ck_users_email_normalized CHECK (email = lower(btrim(email))),
    CONSTRAINT ck_users_email_length CHECK (char_length(email) <= 254),
    CONSTRAINT ck_users_full_name_length CHECK (char_length(full_name) BETWEEN 1 AND 100),
    CONSTRAINT uq_users_email UNIQUE (email)
);

CREATE TABLE public.tenants (
    id                    uuid        NOT NULL,
    name                  text        NOT NULL,
    slug                  text        NOT NULL,
    -- The only place a schema name is derived; code reads it, never recomputes it.
    schema_name           text        NOT NULL GENERATED ALWAYS AS ('tenant_' || replace(slug, '-', '_')) STORED,
    status                text        NOT NULL DEFAULT 'provisioning',
    is_active             boolean     NOT NULL DEFAULT true,
    origin                text        NOT NULL,
    registered_by_user_id uuid,
    claimed_at            timestamptz,
    billing_customer_id   text,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    deleted_at            timestamptz,
    CONSTRAINT tenants_pkey PRIMARY KEY (id),
    CONSTRAINT ck_tenants_name_length CHECK (char_length(name) BETWEEN 1 AND 100),
    CONSTRAINT ck_tenants_slug_format CHECK (
        char_length(slug) BETWEEN 1 AND 56 AND slug ~ '^[a-z][a-z0-9]*([-_][a-z0-9]+)*$'
    ),
    -- Same substrings the schema-name validator refuses, so an existing tenant always has a valid schema name.
    CONSTRAINT ck_tenants_slug_reserved CHECK (replace(slug, '-', '_') !~ '(pg_|public|information_schema)'),
    CONSTRAINT ck_tenants_status CHECK (status IN ('provisioning', 'ready', 'failed', 'deleting', 'deleted')),
    CONSTRAINT ck_tenants_origin CHECK (origin IN ('registration', 'admin')),
    CONSTRAINT ck_tenants_deleted CHECK ((status IN ('deleting', 'deleted')) = (deleted_at IS NOT NULL)),
    CONSTRAINT ck_tenants_active CHECK (
        (status <> 'ready' OR is_active)
        AND (status NOT IN ('failed', 'deleting', 'deleted') OR NOT is_active)
    ),
    CONSTRAINT uq_tenants_slug UNIQUE (slug),
    -- Guards normalized collisions: `acme-corp` and `acme_corp` would share one schema.
    CONSTRAINT uq_tenants_schema_name UNIQUE (schema_name),
    CONSTRAINT fk_tenants_registered_by_user FOREIGN KEY (registered_by_user_id)
        REFERENCES public.users (id) ON DELETE SET NULL
);

CREATE INDEX ix_tenants_created_at_id ON public.tenants (created_at DESC, id DESC);
CREATE INDEX ix_tenants_live_status_created_at ON public.tenants (status, created_at) WHERE deleted_at IS NULL;
-- Scanned by the registration reaper.
CREATE INDEX ix_tenants_unclaimed_registrations ON public.tenants (created_at)
    WHERE origin = 'registration' AND claimed_at IS NULL AND deleted_at IS NULL;
-- The reaper hard-deletes users; without this each delete scans tenants to apply ON DELETE SET NULL.
CREATE INDEX ix_tenants_registered_by_user ON public.tenants (registered_by_user_id)
    WHERE registered_by_user_id IS NOT NULL;

CREATE TABLE public.user_tenant_membership (
    user_id    uuid        NOT NULL,
    tenant_id  uuid        NOT NULL,
    role       text        NOT NULL DEFAULT 'member',
    is_active  boolean     NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    -- Application code maps a unique violation on this name to "already a member".
    CONSTRAINT user_tenant_membership_pkey PRIMARY KEY (user_id, tenant_id),
    CONSTRAINT ck_user_tenant_membership_role CHECK (role IN ('admin', 'member')),
    CONSTRAINT fk_user_tenant_membership_user FOREIGN KEY (user_id)
        REFERENCES public.users (id) ON DELETE CASCADE,
    CONSTRAINT fk_user_tenant_membership_tenant FOREIGN KEY (tenant_id)
        REFERENCES public.tenants (id) ON DELETE CASCADE
);

CREATE INDEX ix_user_tenant_membership_tenant_created
    ON public.user_tenant_membership (tenant_id, created_at DESC, user_id DESC);
-- Last-admin rule counts active admins per tenant.
CREATE INDEX ix_user_tenant_membership_active_admins
    ON public.user_tenant_membership (tenant_id) WHERE role = 'admin' AND is_active;
CREATE INDEX ix_user_tenant_membership_active_user
    ON public.user_tenant_membership (user_id) WHERE is_active;

-- A summary for progress and status only: each tenant schema's own _tenantry_migrations ledger is the truth.
CREATE TABLE public.tenant_schema_versions (
    tenant_id       uuid        NOT NULL,
    schema_name     text        NOT NULL,
    version         bigint      NOT NULL DEFAULT 0,
    migrated_at     timestamptz,
    last_attempt_at timestamptz,
    last_error      text,
    CONSTRAINT tenant_schema_versions_pkey PRIMARY KEY (tenant_id),
    CONSTRAINT fk_tenant_schema_versions_tenant FOREIGN KEY (tenant_id)
        REFERENCES public.tenants (id) ON DELETE CASCADE
);

CREATE INDEX ix_tenant_schema_versions_version ON public.tenant_schema_versions (version);
