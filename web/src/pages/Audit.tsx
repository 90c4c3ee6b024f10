// The tenant's audit log (tenant admins): filter by action, status and user.

import { useState, type FormEvent } from "react";
import { api, call, tenantHeader } from "../api/client";
import type { AuditLogRead } from "../api/types";
import { Alert, Badge, PageHeader, Pager, Select, Time, statusTone, useCursorPages, useLoad } from "../components/ui";

/** The audit vocabulary (api.md §6). */
const ACTIONS = [
  "user.register",
  "user.email_verify",
  "user.login",
  "token.refresh",
  "token.reuse_detected",
  "user.logout",
  "user.logout_all",
  "session.revoke",
  "password.change",
  "password.reset_request",
  "password.reset",
  "user.update",
  "invite.create",
  "invite.resend",
  "invite.cancel",
  "invite.accept",
  "member.role_change",
  "member.activate",
  "member.deactivate",
  "member.remove",
  "tenant.create",
  "tenant.delete",
  "identity.assumed",
  "project.create",
  "project.update",
  "project.delete",
];

type AuditStatus = "success" | "failure";
type Filters = { action: string; status: "" | AuditStatus; user_id: string };

export function AuditPage() {
  const [filters, setFilters] = useState<Filters>({ action: "", status: "", user_id: "" });
  const [draft, setDraft] = useState<Filters>(filters);
  const pages = useCursorPages();
  const list = useLoad(
    () =>
      call(
        api.GET("/api/v1/audit/logs", {
          params: {
            header: tenantHeader(),
            query: {
              limit: 25,
              ...(filters.action ? { action: filters.action } : {}),
              ...(filters.status ? { status: filters.status } : {}),
              ...(filters.user_id.trim() ? { user_id: filters.user_id.trim() } : {}),
              ...(pages.cursor ? { cursor: pages.cursor } : {}),
            },
          },
        }),
      ),
    [filters, pages.cursor],
  );

  const apply = (e: FormEvent) => {
    e.preventDefault();
    setFilters(draft);
    pages.first();
  };

  return (
    <section>
      <PageHeader title="Audit log" />
      <form className="toolbar" onSubmit={apply} noValidate aria-label="Filter the audit log">
        <Select label="Action" name="action" value={draft.action} onChange={(e) => setDraft({ ...draft, action: e.target.value })}>
          <option value="">any</option>
          {ACTIONS.map((a) => (
            <option key={a} value={a}>
              {a}
            </option>
          ))}
        </Select>
        <Select label="Status" name="status" value={draft.status} onChange={(e) => setDraft({ ...draft, status: e.target.value as Filters["status"] })}>
          <option value="">any</option>
          <option value="success">success</option>
          <option value="failure">failure</option>
        </Select>
        <div className="field">
          <label htmlFor="audit-user">User id</label>
          <input id="audit-user" name="user_id" value={draft.user_id} placeholder="any"
            onChange={(e) => setDraft({ ...draft, user_id: e.target.value })} />
        </div>
        <button type="submit" className="primary">
          Filter
        </button>
      </form>
      <Alert>{list.error}</Alert>
      {list.data && list.data.items.length === 0 && <p className="muted">No matching entries.</p>}
      {list.data && list.data.items.length > 0 && (
        <table className="table audit" aria-label="Audit log">
          <thead>
            <tr>
              <th>When</th>
              <th>Action</th>
              <th>Status</th>
              <th>User</th>
              <th>Entity</th>
              <th>Client</th>
              <th>Details</th>
            </tr>
          </thead>
          <tbody>
            {list.data.items.map((row) => (
              <AuditRow key={row.id} row={row} />
            ))}
          </tbody>
        </table>
      )}
      {list.data && (
        <Pager label="Audit log" page={pages.page} hasMore={list.data.has_more}
          onNext={() => list.data?.next_cursor && pages.next(list.data.next_cursor)} onPrevious={pages.previous} />
      )}
    </section>
  );
}

// UUIDv7 ids start with their timestamp, so their end tells them apart (the full id is in the title).
const short = (id: string | null | undefined) => (id ? `…${id.slice(-8)}` : "—");

function AuditRow({ row }: { row: AuditLogRead }) {
  return (
    <tr data-testid="audit-row" data-action={row.action}>
      <td>
        <Time value={row.created_at} />
      </td>
      <td className="strong">{row.action}</td>
      <td>
        <Badge tone={statusTone(row.status)}>{row.status}</Badge>
      </td>
      <td>
        <code title={row.user_id ?? undefined}>{short(row.user_id)}</code>
        {row.assumed_by_user_id && (
          <div>
            <Badge tone="warn">assumed by</Badge> <code title={row.assumed_by_user_id}>{short(row.assumed_by_user_id)}</code>
          </div>
        )}
      </td>
      <td>
        {row.entity_type} <code title={row.entity_id ?? undefined}>{short(row.entity_id)}</code>
      </td>
      <td>
        {row.ip_address ?? "—"}
        <div className="muted small-text" title={row.request_id ?? undefined}>
          {row.request_id ? `req ${short(row.request_id)}` : ""}
        </div>
      </td>
      <td>
        {row.error_message && <div className="field-error">{row.error_message}</div>}
        {row.changes && (
          <details>
            <summary>changes</summary>
            <pre>{JSON.stringify(row.changes, null, 2)}</pre>
          </details>
        )}
      </td>
    </tr>
  );
}
