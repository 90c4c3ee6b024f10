-- Workflow lifecycle records, the workflow start outbox and the email outbox.

CREATE TABLE public.workflow_executions (
    id            uuid        NOT NULL,
    workflow_id   text        NOT NULL,
    workflow_type text        NOT NULL,
    entity_type   text        NOT NULL,
    -- No FK: execution records outlive the entities they describe.
    entity_id     uuid        NOT NULL,
    status        text        NOT NULL DEFAULT 'pending',
    run_id        text,
    error_message text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    started_at    timestamptz,
    completed_at  timestamptz,
    CONSTRAINT workflow_executions_pkey PRIMARY KEY (id),
    CONSTRAINT uq_workflow_executions_workflow_id UNIQUE (workflow_id),
    CONSTRAINT ck_workflow_executions_workflow_type
        CHECK (workflow_type IN ('TenantProvisioning', 'TenantDeletion', 'UserOnboarding')),
    CONSTRAINT ck_workflow_executions_entity_type CHECK (entity_type IN ('tenant', 'user')),
    CONSTRAINT ck_workflow_executions_status CHECK (status IN ('pending', 'running', 'completed', 'failed')),
    CONSTRAINT ck_workflow_executions_error_message_length
        CHECK (error_message IS NULL OR char_length(error_message) <= 1000)
);

CREATE INDEX ix_workflow_executions_entity
    ON public.workflow_executions (entity_type, entity_id, created_at DESC);

CREATE TABLE public.workflow_start_requests (
    id              uuid        NOT NULL,
    workflow_id     text        NOT NULL,
    workflow_type   text        NOT NULL,
    task_queue      text        NOT NULL,
    input           jsonb       NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    attempts        integer     NOT NULL DEFAULT 0,
    last_error      text,
    dispatched_at   timestamptz,
    CONSTRAINT workflow_start_requests_pkey PRIMARY KEY (id),
    -- Writers insert with ON CONFLICT (workflow_id) DO NOTHING.
    CONSTRAINT uq_workflow_start_requests_workflow_id UNIQUE (workflow_id),
    CONSTRAINT ck_workflow_start_requests_last_error_length
        CHECK (last_error IS NULL OR char_length(last_error) <= 1000)
);

CREATE INDEX ix_workflow_start_requests_due
    ON public.workflow_start_requests (next_attempt_at) WHERE dispatched_at IS NULL;

-- Waking the relay from a trigger means no writer can forget to; NOTIFY is delivered only on commit and
-- identical notifications within one transaction are collapsed, so a per-row trigger costs nothing extra.
CREATE FUNCTION public.tenantry_notify_outbox() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM pg_catalog.pg_notify('tenantry_outbox', '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER trg_workflow_start_requests_notify
    AFTER INSERT ON public.workflow_start_requests
    FOR EACH ROW EXECUTE FUNCTION public.tenantry_notify_outbox();

CREATE TABLE public.email_outbox (
    id           uuid        NOT NULL,
    kind         text        NOT NULL,
    to_email     text        NOT NULL,
    subject      text        NOT NULL,
    body_text    text,
    body_html    text,
    action_url   text,
    -- Plaintext token: written only in development/test so tests can read it back.
    action_token text,
    dedupe_key   text,
    user_id      uuid,
    tenant_id    uuid,
    created_at   timestamptz NOT NULL DEFAULT now(),
    sent_at      timestamptz,
    failed_at    timestamptz,
    scrubbed_at  timestamptz,
    attempts     integer     NOT NULL DEFAULT 0,
    last_error   text,
    CONSTRAINT email_outbox_pkey PRIMARY KEY (id),
    CONSTRAINT ck_email_outbox_kind CHECK (kind IN (
        'verify_email', 'already_registered', 'welcome', 'invite', 'password_reset', 'password_changed'
    )),
    CONSTRAINT ck_email_outbox_to_email_normalized CHECK (to_email = lower(btrim(to_email))),
    CONSTRAINT uq_email_outbox_dedupe_key UNIQUE (dedupe_key),
    CONSTRAINT fk_email_outbox_user FOREIGN KEY (user_id)
        REFERENCES public.users (id) ON DELETE SET NULL,
    CONSTRAINT fk_email_outbox_tenant FOREIGN KEY (tenant_id)
        REFERENCES public.tenants (id) ON DELETE SET NULL
);

CREATE INDEX ix_email_outbox_to_email_created ON public.email_outbox (to_email, created_at DESC);
CREATE INDEX ix_email_outbox_created_at ON public.email_outbox (created_at);
CREATE INDEX ix_email_outbox_user ON public.email_outbox (user_id) WHERE user_id IS NOT NULL;
