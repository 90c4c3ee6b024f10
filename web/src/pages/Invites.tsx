// Invites (tenant admins): invite by email with a role, list by status, resend, cancel.

import { useState, type FormEvent } from "react";
import { api, call, tenantHeader } from "../api/client";
import type { InviteRead, Role } from "../api/types";
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

const STATUSES = ["pending", "accepted", "cancelled", "expired", "all"] as const;
type Status = (typeof STATUSES)[number];

export function InvitesPage() {
  const [status, setStatus] = useState<Status>("pending");
  const pages = useCursorPages();
  const [flash, setFlash] = useState<string | null>(null);
  const list = useLoad(
    () =>
      call(
        api.GET("/api/v1/invites", {
          params: {
            header: tenantHeader(),
            query: { status, limit: 25, ...(pages.cursor ? { cursor: pages.cursor } : {}) },
          },
        }),
      ),
    [status, pages.cursor],
  );
  const changed = (message: string) => {
    setFlash(message);
    if (pages.page === 1) list.reload();
    else pages.first();
  };

  return (
    <section>
      <PageHeader title="Invites" />
      <CreateInvite onSent={changed} />
      {flash && <Alert kind="success">{flash}</Alert>}
      <div className="toolbar">
        <Select label="Show" name="status" value={status} onChange={(e) => {
          setStatus(e.target.value as Status);
          pages.first();
        }}>
          {STATUSES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </Select>
      </div>
      <Alert>{list.error}</Alert>
      {list.data && list.data.items.length === 0 && <p className="muted">No {status === "all" ? "" : status} invites.</p>}
      {list.data && list.data.items.length > 0 && (
        <table className="table" aria-label="Invites">
          <thead>
            <tr>
              <th>Email</th>
              <th>Role</th>
              <th>Status</th>
              <th>Sent</th>
              <th>Expires</th>
              <th aria-label="Actions" />
            </tr>
          </thead>
          <tbody>
            {list.data.items.map((i) => (
              <InviteRow key={i.id} invite={i} onChanged={changed} />
            ))}
          </tbody>
        </table>
      )}
      {list.data && (
        <Pager label="Invites" page={pages.page} hasMore={list.data.has_more}
          onNext={() => list.data?.next_cursor && pages.next(list.data.next_cursor)} onPrevious={pages.previous} />
      )}
    </section>
  );
}

function CreateInvite({ onSent }: { onSent: (message: string) => void }) {
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<Role>("member");
  const { busy, error, fieldErrors, run } = useAction(["email", "role"]);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void run(
      async () => {
        const r = await call(api.POST("/api/v1/invites", { params: { header: tenantHeader() }, body: { email, role } }));
        setEmail("");
        onSent(`${r.message}: ${r.email} (${r.role}).`);
      },
      (err) => (err.status === 409 ? { email: err.detail } : null),
    );
  };
  return (
    <form onSubmit={submit} noValidate className="card create-form" aria-label="Invite someone">
      <h2>Invite someone</h2>
      <Alert>{error}</Alert>
      <div className="row-form">
        <Field label="Email" name="email" type="email" value={email} onChange={(e) => setEmail(e.target.value)}
          error={fieldErrors.email} required />
        <Select label="Role" name="role" value={role} onChange={(e) => setRole(e.target.value as Role)} error={fieldErrors.role}>
          <option value="member">member</option>
          <option value="admin">admin</option>
        </Select>
      </div>
      <Submit busy={busy}>Send invite</Submit>
    </form>
  );
}

function InviteRow({ invite, onChanged }: { invite: InviteRead; onChanged: (message: string) => void }) {
  const action = useAction();
  const params = { header: tenantHeader(), path: { invite_id: invite.id } };
  const resend = () =>
    void action.run(async () => {
      const r = await call(api.PUT("/api/v1/invites/{invite_id}", { params }));
      onChanged(`${r.message}: ${r.email}.`);
    });
  const cancel = () =>
    void action.run(async () => {
      const r = await call(api.DELETE("/api/v1/invites/{invite_id}", { params }));
      onChanged(`${r.message}: ${invite.email}.`);
    });
  const open = invite.status === "pending";
  return (
    <tr data-testid="invite-row" data-email={invite.email}>
      <td className="strong">{invite.email}</td>
      <td>{invite.role}</td>
      <td>
        <Badge tone={statusTone(invite.status)}>{invite.status}</Badge>
      </td>
      <td>
        <Time value={invite.created_at} />
      </td>
      <td>
        <Time value={invite.expires_at} />
      </td>
      <td className="row-actions">
        {invite.status !== "accepted" && (
          <button type="button" className="small" disabled={action.busy} onClick={resend}>
            Resend
          </button>
        )}
        {open && (
          <ConfirmButton label="Cancel" confirmLabel={`Cancel invite for ${invite.email}`} busy={action.busy}
            onConfirm={cancel} />
        )}
        {action.error && (
          <div className="field-error" role="alert">
            {action.error}
          </div>
        )}
      </td>
    </tr>
  );
}
