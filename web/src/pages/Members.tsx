// Members of the tenant: roles, deactivation and removal for admins (the API refuses to leave a tenant without
// an active admin, and that refusal is shown on the row), and leaving the tenant for everyone.

import { useState } from "react";
import { api, call, tenantHeader } from "../api/client";
import type { MemberRead, Role } from "../api/types";
import { navigate } from "../router";
import { store } from "../session";
import { useStore } from "../useStore";
import { Alert, Badge, ConfirmButton, PageHeader, Pager, Time, useAction, useCursorPages, useLoad } from "../components/ui";

export function MembersPage() {
  const { me } = useStore();
  const isAdmin = me?.isAdmin ?? false;
  const pages = useCursorPages();
  const [showInactive, setShowInactive] = useState(true);
  const list = useLoad(
    () =>
      call(
        api.GET("/api/v1/members", {
          params: {
            header: tenantHeader(),
            query: {
              limit: 50,
              include_inactive: isAdmin && showInactive,
              ...(pages.cursor ? { cursor: pages.cursor } : {}),
            },
          },
        }),
      ),
    [pages.cursor, isAdmin, showInactive],
  );

  const replace = (m: MemberRead) =>
    list.setData((d) => (d ? { ...d, items: d.items.map((x) => (x.user_id === m.user_id ? m : x)) } : d));
  const remove = (id: string) =>
    list.setData((d) => (d ? { ...d, items: d.items.filter((x) => x.user_id !== id) } : d));

  return (
    <section>
      <PageHeader title="Members">
        {isAdmin && (
          <label className="checkbox">
            <input type="checkbox" checked={showInactive} onChange={(e) => setShowInactive(e.target.checked)} /> Show
            deactivated members
          </label>
        )}
      </PageHeader>
      <Alert>{list.error}</Alert>
      {list.data && (
        <table className="table" aria-label="Members">
          <thead>
            <tr>
              <th>Name</th>
              <th>Email</th>
              <th>Role</th>
              <th>Status</th>
              <th>Joined</th>
              <th aria-label="Actions" />
            </tr>
          </thead>
          <tbody>
            {list.data.items.map((m) => (
              <MemberRow key={m.user_id} member={m} isAdmin={isAdmin} isMe={m.user_id === me?.user.id}
                onChanged={replace} onRemoved={remove} />
            ))}
          </tbody>
        </table>
      )}
      {list.data && (
        <Pager label="Members" page={pages.page} hasMore={list.data.has_more}
          onNext={() => list.data?.next_cursor && pages.next(list.data.next_cursor)} onPrevious={pages.previous} />
      )}
    </section>
  );
}

function MemberRow({
  member,
  isAdmin,
  isMe,
  onChanged,
  onRemoved,
}: {
  member: MemberRead;
  isAdmin: boolean;
  isMe: boolean;
  onChanged: (m: MemberRead) => void;
  onRemoved: (id: string) => void;
}) {
  const action = useAction();
  const header = tenantHeader();

  const patch = (body: { role?: Role; is_active?: boolean }) =>
    void action.run(async () => {
      const m = await call(
        api.PATCH("/api/v1/members/{user_id}", { params: { header, path: { user_id: member.user_id } }, body }),
      );
      onChanged(m);
      // Demoting yourself changes what you may do here.
      if (isMe) store.setMe(null);
    });

  const removeMember = () =>
    void action.run(async () => {
      await call(api.DELETE("/api/v1/members/{user_id}", { params: { header, path: { user_id: member.user_id } } }));
      if (isMe) {
        // Leaving revokes this user's sessions in the tenant.
        store.end({ kind: "info", text: `You left ${header["X-Tenant-Slug"]}.` });
        navigate("/login");
        return;
      }
      onRemoved(member.user_id);
    });

  return (
    <tr data-testid="member-row" data-email={member.email}>
      <td className="strong">
        {member.full_name} {isMe && <Badge>you</Badge>}
      </td>
      <td>{member.email}</td>
      <td>
        {isAdmin ? (
          <select aria-label={`Role of ${member.email}`} value={member.role} disabled={action.busy}
            onChange={(e) => patch({ role: e.target.value as Role })}>
            <option value="admin">admin</option>
            <option value="member">member</option>
          </select>
        ) : (
          <Badge tone={member.role === "admin" ? "warn" : "neutral"}>{member.role}</Badge>
        )}
      </td>
      <td>
        <Badge tone={member.is_active ? "good" : "bad"}>{member.is_active ? "active" : "deactivated"}</Badge>
      </td>
      <td>
        <Time value={member.created_at} />
      </td>
      <td className="row-actions">
        {isAdmin && (
          <button type="button" className="small" disabled={action.busy}
            onClick={() => patch({ is_active: !member.is_active })}>
            {member.is_active ? "Deactivate" : "Activate"}
          </button>
        )}
        {(isAdmin || isMe) && (
          <ConfirmButton label={isMe ? "Leave" : "Remove"} busy={action.busy} onConfirm={removeMember}
            confirmLabel={isMe ? "Leave this organisation" : `Remove ${member.email}`} />
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
