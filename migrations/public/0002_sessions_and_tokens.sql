-- Sessions, one-time tokens and invites. Token columns hold SHA-256 hex of the token, never the token itself.

CREATE TABLE public.refresh_token_families (
    id              uuid        NOT NULL,
    user_id         uuid        NOT NULL,
    -- Null only for superuser console sessions, which never carry refresh tokens.
    tenant_id       uuid,
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_used_at    timestamptz NOT NULL DEFAULT now(),
    idle_expires_at timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL,
    revoked_at      timestamptz,
    revoked_reason  text,
    user_agent      text,
    created_ip      inet,
    last_ip         inet,
    CONSTRAINT refresh_token_families_pkey PRIMARY KEY (id),
    CONSTRAINT ck_refresh_token_families_revoked_reason CHECK (revoked_reason IN (
        'logout', 'logout_all', 'password_change', 'password_reset', 'user_revoked', 'reuse_detected',
        'access_lost', 'member_removed', 'member_deactivated', 'tenant_deleted'
    )),
    CONSTRAINT ck_refresh_token_families_revoked CHECK ((revoked_at IS NULL) = (revoked_reason IS NULL)),
    CONSTRAINT ck_refresh_token_families_user_agent_length CHECK (user_agent IS NULL OR char_length(user_agent) <= 500),
    CONSTRAINT fk_refresh_token_families_user FOREIGN KEY (user_id)
        REFERENCES public.users (id) ON DELETE CASCADE,
    CONSTRAINT fk_refresh_token_families_tenant FOREIGN KEY (tenant_id)
        REFERENCES public.tenants (id) ON DELETE CASCADE
);

CREATE INDEX ix_refresh_token_families_user_active
    ON public.refresh_token_families (user_id, created_at DESC, id DESC) WHERE revoked_at IS NULL;
CREATE INDEX ix_refresh_token_families_tenant_active
    ON public.refresh_token_families (tenant_id) WHERE revoked_at IS NULL;
CREATE INDEX ix_refresh_token_families_expires_at ON public.refresh_token_families (expires_at);
CREATE INDEX ix_refresh_token_families_revoked_at
    ON public.refresh_token_families (revoked_at) WHERE revoked_at IS NOT NULL;
-- The partial index above skips revoked families; deleting a user must still find them to cascade.
CREATE INDEX ix_refresh_token_families_user ON public.refresh_token_families (user_id);

CREATE TABLE public.refresh_tokens (
    id         uuid        NOT NULL,
    family_id  uuid        NOT NULL,
    parent_id  uuid,
    token_hash text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    CONSTRAINT refresh_tokens_pkey PRIMARY KEY (id),
    CONSTRAINT ck_refresh_tokens_token_hash CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    CONSTRAINT uq_refresh_tokens_token_hash UNIQUE (token_hash),
    CONSTRAINT fk_refresh_tokens_family FOREIGN KEY (family_id)
        REFERENCES public.refresh_token_families (id) ON DELETE CASCADE,
    CONSTRAINT fk_refresh_tokens_parent FOREIGN KEY (parent_id)
        REFERENCES public.refresh_tokens (id) ON DELETE SET NULL
);

CREATE INDEX ix_refresh_tokens_family_created ON public.refresh_tokens (family_id, created_at DESC);
-- Retention deletes whole families; each deleted token would otherwise scan the table for children to SET NULL.
CREATE INDEX ix_refresh_tokens_parent ON public.refresh_tokens (parent_id) WHERE parent_id IS NOT NULL;

-- Verification and reset tokens share one shape (requested_ip is written for reset tokens only).
CREATE TABLE public.email_verification_tokens (
    id           uuid        NOT NULL,
    user_id      uuid        NOT NULL,
    token_hash   text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    used_at      timestamptz,
    requested_ip inet,
    CONSTRAINT email_verification_tokens_pkey PRIMARY KEY (id),
    CONSTRAINT ck_email_verification_tokens_token_hash CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    CONSTRAINT uq_email_verification_tokens_token_hash UNIQUE (token_hash),
    CONSTRAINT fk_email_verification_tokens_user FOREIGN KEY (user_id)
        REFERENCES public.users (id) ON DELETE CASCADE
);

CREATE INDEX ix_email_verification_tokens_user_unused
    ON public.email_verification_tokens (user_id) WHERE used_at IS NULL;
CREATE INDEX ix_email_verification_tokens_user ON public.email_verification_tokens (user_id);

CREATE TABLE public.password_reset_tokens (
    id           uuid        NOT NULL,
    user_id      uuid        NOT NULL,
    token_hash   text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    used_at      timestamptz,
    requested_ip inet,
    CONSTRAINT password_reset_tokens_pkey PRIMARY KEY (id),
    CONSTRAINT ck_password_reset_tokens_token_hash CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    CONSTRAINT uq_password_reset_tokens_token_hash UNIQUE (token_hash),
    CONSTRAINT fk_password_reset_tokens_user FOREIGN KEY (user_id)
        REFERENCES public.users (id) ON DELETE CASCADE
);

CREATE INDEX ix_password_reset_tokens_user_unused
    ON public.password_reset_tokens (user_id) WHERE used_at IS NULL;
CREATE INDEX ix_password_reset_tokens_user ON public.password_reset_tokens (user_id);

CREATE TABLE public.tenant_invites (
    id                  uuid        NOT NULL,
    tenant_id           uuid        NOT NULL,
    email               text        NOT NULL,
    token_hash          text        NOT NULL,
    role                text        NOT NULL DEFAULT 'member',
    status              text        NOT NULL DEFAULT 'pending',
    invited_by_user_id  uuid,
    created_at          timestamptz NOT NULL DEFAULT now(),
    expires_at          timestamptz NOT NULL,
    accepted_at         timestamptz,
    cancelled_at        timestamptz,
    accepted_by_user_id uuid,
    CONSTRAINT tenant_invites_pkey PRIMARY KEY (id),
    CONSTRAINT ck_tenant_invites_email_normalized CHECK (email = lower(btrim(email))),
    CONSTRAINT ck_tenant_invites_token_hash CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    CONSTRAINT uq_tenant_invites_token_hash UNIQUE (token_hash),
    CONSTRAINT ck_tenant_invites_role CHECK (role IN ('admin', 'member')),
    CONSTRAINT ck_tenant_invites_status CHECK (status IN ('pending', 'accepted', 'cancelled', 'expired')),
    CONSTRAINT fk_tenant_invites_tenant FOREIGN KEY (tenant_id)
        REFERENCES public.tenants (id) ON DELETE CASCADE,
    CONSTRAINT fk_tenant_invites_invited_by_user FOREIGN KEY (invited_by_user_id)
        REFERENCES public.users (id) ON DELETE SET NULL,
    CONSTRAINT fk_tenant_invites_accepted_by_user FOREIGN KEY (accepted_by_user_id)
        REFERENCES public.users (id) ON DELETE SET NULL
);

-- A unique index, not a constraint, because it is partial; violations still report this name.
CREATE UNIQUE INDEX uq_tenant_invites_pending ON public.tenant_invites (tenant_id, email) WHERE status = 'pending';
CREATE INDEX ix_tenant_invites_tenant_created ON public.tenant_invites (tenant_id, created_at DESC, id DESC);
CREATE INDEX ix_tenant_invites_tenant_status_created ON public.tenant_invites (tenant_id, status, created_at DESC);
CREATE INDEX ix_tenant_invites_pending_expires ON public.tenant_invites (expires_at) WHERE status = 'pending';
CREATE INDEX ix_tenant_invites_invited_by_user ON public.tenant_invites (invited_by_user_id)
    WHERE invited_by_user_id IS NOT NULL;
CREATE INDEX ix_tenant_invites_accepted_by_user ON public.tenant_invites (accepted_by_user_id)
    WHERE accepted_by_user_id IS NOT NULL;
