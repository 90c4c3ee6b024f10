// Superuser console: every tenant with its status, deletion, and assuming a user's identity in a tenant.

import { useState, type FormEvent } from "react";
import { api, call } from "../api/client";
import type { TenantRead } from "../api/types";
import { navigate } from "../router";
import { store, type AdminSession, type TenantSession } from "../session";
import {
  Alert,
  Badge,
  ConfirmButton,
  Field,
  PageHeader,
  Pager,
  Select,
  Submit,
  Time,
  statusTone,
  useAction,
  useCursorPages,
  useLoad,
} from "../components/ui";

const STATUSES = ["", "provisioning", "ready", "failed", "deleting", "deleted"] as const;
type Status = (typeof STATUSES)[number];

export function AdminTenantsPage() {
  const [status, setStatus] = useState<Status>("");
  const pages = useCursorPages();
  const [flash, setFlash] = useState<string | null>(null);
  const list = useLoad(
    () =>
      call(
        api.GET("/api/v1/admin/tenants", {
          params: {
            query: {
              limit: 25,
              ...(status ? { status } : {}),
              ...(pages.cursor ? { cursor: pages.cursor } : {}),
            },
          },
        }),
      ),
    [status, pages.cursor],
  );

  return (
    <section>
      <PageHeader title="All tenants">
        <button type="button" className="small" onClick={list.reload}>
          Refresh
        </button>
      </PageHeader>
      {flash && <Alert kind="success">{flash}</Alert>}
      <div className="toolbar">
        <Select label="Status" name="status" value={status} onChange={(e) => {
          setStatus(e.target.value as Status);
          pages.first();
        }}>
          {STATUSES.map((s) => (
            <option key={s} value={s}>
              {s || "any"}
            </option>
          ))}
        </Select>
      </div>
      <Alert>{list.error}</Alert>
      {list.data && list.data.items.length === 0 && <p className="muted">No tenants.</p>}
      {list.data && list.data.items.length > 0 && (
        <table className="table" aria-label="Tenants">
          <thead>
            <tr>
              <th>Name</th>
              <th>Slug</th>
              <th>Status</th>
              <th>Active</th>
              <th>Created</th>
              <th>Deleted</th>
              <th aria-label="Actions" />
            </tr>
          </thead>
          <tbody>
            {list.data.items.map((t) => (
              <TenantRow key={t.id} tenant={t} onChanged={(m) => {
                setFlash(m);
                list.reload();
              }} />
            ))}
          </tbody>
        </table>
      )}
      {list.data && (
        <Pager label="Tenants" page={pages.page} hasMore={list.data.has_more}
          onNext={() => list.data?.next_cursor && pages.next(list.data.next_cursor)} onPrevious={pages.previous} />
      )}
    </section>
  );
}

function TenantRow({ tenant, onChanged }: { tenant: TenantRead; onChanged: (message: string) => void }) {
  const del = useAction();
  const [assuming, setAssuming] = useState(false);
  const remove = () =>
    void del.run(async () => {
      await call(api.DELETE("/api/v1/admin/tenants/{tenant_id}", { params: { path: { tenant_id: tenant.id } } }));
      onChanged(`Deletion of ${tenant.slug} started.`);
    });
  const usable = tenant.status === "ready" && tenant.is_active;
  const deletable = tenant.status === "ready" || tenant.status === "failed";
  return (
    <>
      <tr data-testid="tenant-row" data-slug={tenant.slug}>
        <td className="strong">{tenant.name}</td>
        <td>
          <code>{tenant.slug}</code>
        </td>
        <td>
          <Badge tone={statusTone(tenant.status)}>{tenant.status}</Badge>
        </td>
        <td>{tenant.is_active ? "yes" : "no"}</td>
        <td>
          <Time value={tenant.created_at} />
        </td>
        <td>
          <Time value={tenant.deleted_at} />
        </td>
        <td className="row-actions">
          {usable && (
            <button type="button" className="small" onClick={() => setAssuming((a) => !a)} aria-expanded={assuming}>
              Assume identity…
            </button>
          )}
          {deletable && (
            <ConfirmButton label="Delete" confirmLabel={`Delete ${tenant.slug} and its data`} busy={del.busy}
              onConfirm={remove} />
          )}
          {del.error && (
            <div className="field-error" role="alert">
              {del.error}
            </div>
          )}
        </td>
      </tr>
      {assuming && (
        <tr className="editing">
          <td colSpan={7}>
            <AssumeIdentity tenant={tenant} onCancel={() => setAssuming(false)} />
          </td>
        </tr>
      )}
    </>
  );
}

function AssumeIdentity({ tenant, onCancel }: { tenant: TenantRead; onCancel: () => void }) {
  const [userId, setUserId] = useState("");
  const [reason, setReason] = useState("");
  const { busy, error, fieldErrors, run } = useAction(["target_user_id", "reason"]);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const operator = store.get().session;
    if (operator?.kind !== "admin" && operator?.kind !== "tenant") return;
    void run(
      async () => {
        const t = await call(
          api.POST("/api/v1/admin/assume-identity", {
            body: { target_user_id: userId.trim(), tenant_id: tenant.id, reason: reason.trim() || null },
          }),
        );
        store.begin({
          kind: "assumed",
          accessToken: t.access_token,
          expiresAt: Date.now() + t.expires_in * 1000,
          tenantSlug: t.tenant_slug,
          tenantId: t.tenant_id,
          userId: t.assumed_user_id,
          userEmail: t.assumed_user_email,
          reason: reason.trim() || null,
          operator: operator as AdminSession | TenantSession,
        });
        navigate("/projects");
      },
      (err) =>
        err.status === 400 && (err.detail.startsWith("Target user") || err.detail.startsWith("Cannot assume"))
          ? { target_user_id: err.detail }
          : null,
    );
  };
  return (
    <form onSubmit={submit} noValidate aria-label={`Assume an identity in ${tenant.slug}`}>
      <p>
        Act as a user of <strong>{tenant.name}</strong> for support. The token lasts 15 minutes, cannot be refreshed,
        and every action is audited with you as the operator. The user's id is in the tenant's audit log and in the
        user's support request.
      </p>
      <Alert>{error}</Alert>
      <div className="row-form">
        <Field label="User id" name="target_user_id" value={userId} onChange={(e) => setUserId(e.target.value)}
          placeholder="0190…" error={fieldErrors.target_user_id} spellCheck={false} required />
        <Field label="Reason (optional, audited)" name="reason" value={reason} maxLength={500}
          onChange={(e) => setReason(e.target.value)} error={fieldErrors.reason} />
      </div>
      <div className="actions">
        <Submit busy={busy}>Assume identity</Submit>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
