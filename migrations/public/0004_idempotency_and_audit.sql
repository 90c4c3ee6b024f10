-- Idempotency keys and the audit log.

CREATE TABLE public.idempotency_keys (
    scope            text        NOT NULL,
    key              text        NOT NULL,
    fingerprint      text        NOT NULL,
    state            text        NOT NULL DEFAULT 'in_progress',
    -- An in_progress row past this instant belongs to a crashed request and may be taken over.
    locked_until     timestamptz NOT NULL,
    response_status  integer,
    response_headers jsonb,
    response_body    bytea,
    created_at       timestamptz NOT NULL DEFAULT now(),
    expires_at       timestamptz NOT NULL,
    CONSTRAINT idempotency_keys_pkey PRIMARY KEY (scope, key),
    -- 1..255 visible ASCII (0x21..0x7E), the same rule the API applies to the header.
    CONSTRAINT ck_idempotency_keys_key_format CHECK (char_length(key) BETWEEN 1 AND 255 AND key ~ '^[!-~]+$'),
    CONSTRAINT ck_idempotency_keys_state CHECK (state IN ('in_progress', 'completed'))
);

CREATE INDEX ix_idempotency_keys_expires_at ON public.idempotency_keys (expires_at);

CREATE TABLE public.audit_logs (
    id                 uuid        NOT NULL,
    tenant_id          uuid,
    user_id            uuid,
    assumed_by_user_id uuid,
    action             text        NOT NULL,
    entity_type        text        NOT NULL,
    entity_id          uuid,
    changes            jsonb,
    ip_address         inet,
    user_agent         text,
    request_id         text,
    status             text        NOT NULL DEFAULT 'success',
    error_message      text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT audit_logs_pkey PRIMARY KEY (id),
    CONSTRAINT ck_audit_logs_user_agent_length CHECK (user_agent IS NULL OR char_length(user_agent) <= 500),
    CONSTRAINT ck_audit_logs_request_id_length CHECK (request_id IS NULL OR char_length(request_id) <= 64),
    CONSTRAINT ck_audit_logs_status CHECK (status IN ('success', 'failure')),
    CONSTRAINT ck_audit_logs_error_message_length CHECK (error_message IS NULL OR char_length(error_message) <= 1000),
    CONSTRAINT fk_audit_logs_tenant FOREIGN KEY (tenant_id)
        REFERENCES public.tenants (id) ON DELETE CASCADE,
    CONSTRAINT fk_audit_logs_user FOREIGN KEY (user_id)
        REFERENCES public.users (id) ON DELETE SET NULL,
    CONSTRAINT fk_audit_logs_assumed_by_user FOREIGN KEY (assumed_by_user_id)
        REFERENCES public.users (id) ON DELETE SET NULL
);

CREATE INDEX ix_audit_logs_tenant_created ON public.audit_logs (tenant_id, created_at DESC, id DESC);
CREATE INDEX ix_audit_logs_tenant_entity
    ON public.audit_logs (tenant_id, entity_type, entity_id, created_at DESC, id DESC);
CREATE INDEX ix_audit_logs_tenant_action ON public.audit_logs (tenant_id, action, created_at DESC);
CREATE INDEX ix_audit_logs_tenant_user ON public.audit_logs (tenant_id, user_id, created_at DESC);
CREATE INDEX ix_audit_logs_user ON public.audit_logs (user_id, created_at DESC);
CREATE INDEX ix_audit_logs_created_at ON public.audit_logs (created_at);
-- Deleting a user scans this table for ON DELETE SET NULL; the column is almost always null.
CREATE INDEX ix_audit_logs_assumed_by_user ON public.audit_logs (assumed_by_user_id)
    WHERE assumed_by_user_id IS NOT NULL;
