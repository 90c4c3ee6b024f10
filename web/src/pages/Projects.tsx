// Projects of the tenant: keyset-paginated list, create, rename, edit description, delete. The API's 409 and
// 422 messages are shown at the field they concern.

import { useRef, useState, type FormEvent } from "react";
import { api, call, idempotencyKey, tenantHeader } from "../api/client";
import type { ProjectRead } from "../api/types";
import {
  Alert,
  ConfirmButton,
  Field,
  PageHeader,
  Pager,
  Submit,
  TextArea,
  Time,
  useAction,
  useCursorPages,
  useLoad,
  type ErrorMapper,
} from "../components/ui";

const PAGE_SIZE = 20;
const FIELDS = ["name", "description"] as const;
/** A name conflict is about the name. */
const nameConflict: ErrorMapper = (e) => (e.status === 409 ? { name: e.detail } : null);

export function ProjectsPage() {
  const pages = useCursorPages();
  const list = useLoad(
    () =>
      call(
        api.GET("/api/v1/projects", {
          params: { header: tenantHeader(), query: { limit: PAGE_SIZE, ...(pages.cursor ? { cursor: pages.cursor } : {}) } },
        }),
      ),
    [pages.cursor],
  );
  const [flash, setFlash] = useState<string | null>(null);

  const replace = (p: ProjectRead) =>
    list.setData((d) => (d ? { ...d, items: d.items.map((x) => (x.id === p.id ? p : x)) } : d));
  const remove = (id: string) => list.setData((d) => (d ? { ...d, items: d.items.filter((x) => x.id !== id) } : d));

  return (
    <section>
      <PageHeader title="Projects" />
      <CreateProject
        onCreated={(p) => {
          setFlash(`Project “${p.name}” created.`);
          if (pages.page === 1) list.reload();
          else pages.first();
        }}
      />
      {flash && <Alert kind="success">{flash}</Alert>}
      <Alert>{list.error}</Alert>
      {list.data && list.data.items.length === 0 && pages.page === 1 && (
        <p className="muted">No projects yet: create the first one above.</p>
      )}
      {list.data && list.data.items.length > 0 && (
        <table className="table" aria-label="Projects">
          <thead>
            <tr>
              <th>Name</th>
              <th>Description</th>
              <th>Created</th>
              <th>Updated</th>
              <th aria-label="Actions" />
            </tr>
          </thead>
          <tbody>
            {list.data.items.map((p) => (
              <ProjectRow key={p.id} project={p} onChanged={replace} onDeleted={(id) => {
                remove(id);
                setFlash(`Project “${p.name}” deleted.`);
              }} />
            ))}
          </tbody>
        </table>
      )}
      {list.data && (
        <Pager label="Projects" page={pages.page} hasMore={list.data.has_more}
          onNext={() => list.data?.next_cursor && pages.next(list.data.next_cursor)} onPrevious={pages.previous} />
      )}
    </section>
  );
}

function CreateProject({ onCreated }: { onCreated: (p: ProjectRead) => void }) {
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const key = useRef<{ body: string; key: string } | null>(null);
  const { busy, error, fieldErrors, run } = useAction(FIELDS);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const body = { name, description: description.trim() ? description : null };
    const json = JSON.stringify(body);
    if (key.current?.body !== json) key.current = { body: json, key: idempotencyKey() };
    const idem = key.current.key;
    void run(async () => {
      const p = await call(
        api.POST("/api/v1/projects", { params: { header: { ...tenantHeader(), "Idempotency-Key": idem } }, body }),
      );
      setName("");
      setDescription("");
      key.current = null;
      onCreated(p);
    }, nameConflict);
  };

  return (
    <form onSubmit={submit} noValidate className="card create-form" aria-label="New project">
      <h2>New project</h2>
      <Alert>{error}</Alert>
      <Field label="Name" name="name" value={name} onChange={(e) => setName(e.target.value)} error={fieldErrors.name}
        maxLength={400} required />
      <TextArea label="Description (optional)" name="description" value={description} rows={2}
        onChange={(e) => setDescription(e.target.value)} error={fieldErrors.description} />
      <Submit busy={busy}>Create project</Submit>
    </form>
  );
}

function ProjectRow({
  project,
  onChanged,
  onDeleted,
}: {
  project: ProjectRead;
  onChanged: (p: ProjectRead) => void;
  onDeleted: (id: string) => void;
}) {
  const [editing, setEditing] = useState(false);
  const [name, setName] = useState(project.name);
  const [description, setDescription] = useState(project.description ?? "");
  const save = useAction(FIELDS);
  const del = useAction();

  const startEdit = () => {
    setName(project.name);
    setDescription(project.description ?? "");
    save.reset();
    setEditing(true);
  };

  const submit = (e: FormEvent) => {
    e.preventDefault();
    // Only what changed: an omitted member stays as it is; an empty description clears it.
    const body: { name?: string; description?: string | null } = {};
    if (name !== project.name) body.name = name;
    if (description !== (project.description ?? "")) body.description = description.trim() ? description : null;
    if (Object.keys(body).length === 0) {
      setEditing(false);
      return;
    }
    void save.run(async () => {
      const p = await call(
        api.PATCH("/api/v1/projects/{project_id}", {
          params: { header: tenantHeader(), path: { project_id: project.id } },
          body,
        }),
      );
      onChanged(p);
      setEditing(false);
    }, nameConflict);
  };

  const remove = () =>
    void del.run(async () => {
      await call(
        api.DELETE("/api/v1/projects/{project_id}", {
          params: { header: tenantHeader(), path: { project_id: project.id } },
        }),
      );
      onDeleted(project.id);
    });

  if (editing) {
    return (
      <tr className="editing">
        <td colSpan={5}>
          <form onSubmit={submit} noValidate aria-label={`Edit project ${project.name}`}>
            <Alert>{save.error}</Alert>
            <div className="row-form">
              <Field label="Name" name="name" value={name} onChange={(e) => setName(e.target.value)}
                error={save.fieldErrors.name} autoFocus />
              <TextArea label="Description" name="description" value={description} rows={2}
                onChange={(e) => setDescription(e.target.value)} error={save.fieldErrors.description} />
            </div>
            <div className="actions">
              <Submit busy={save.busy}>Save</Submit>
              <button type="button" onClick={() => setEditing(false)}>
                Cancel
              </button>
            </div>
          </form>
        </td>
      </tr>
    );
  }
  return (
    <tr data-testid="project-row">
      <td className="strong">{project.name}</td>
      <td>{project.description ?? <span className="muted">—</span>}</td>
      <td>
        <Time value={project.created_at} />
      </td>
      <td>
        <Time value={project.updated_at} />
      </td>
      <td className="row-actions">
        <button type="button" className="small" onClick={startEdit} aria-label={`Edit ${project.name}`}>
          Edit
        </button>
        <ConfirmButton label="Delete" confirmLabel={`Delete “${project.name}”`} busy={del.busy} onConfirm={remove} />
        {del.error && (
          <div className="field-error" role="alert">
            {del.error}
          </div>
        )}
      </td>
    </tr>
  );
}
