// Small building blocks shared by the pages: form fields with their API error, submit state, notices,
// keyset pagination, timestamps.

import {
  useCallback,
  useEffect,
  useId,
  useRef,
  useState,
  type InputHTMLAttributes,
  type ReactNode,
  type SelectHTMLAttributes,
  type TextareaHTMLAttributes,
} from "react";
import { ApiError } from "../api/client";

/** Maps an error to field messages the form shows next to its inputs (e.g. a 409 on `name`). */
export type ErrorMapper = (e: ApiError) => Record<string, string> | null;

/**
 * Runs one form submission or row action: busy state, and the API's answer split into per-field messages
 * (422 entries whose field is one of `fields`, plus whatever `map` assigns) and a form-level message.
 */
export function useAction(fields: readonly string[] = []) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({});
  const mounted = useRef(true);
  useEffect(() => {
    mounted.current = true;
    return () => {
      mounted.current = false;
    };
  }, []);

  const run = useCallback(
    async <T,>(fn: () => Promise<T>, map?: ErrorMapper): Promise<T | undefined> => {
      setBusy(true);
      setError(null);
      setFieldErrors({});
      try {
        return await fn();
      } catch (e) {
        if (!mounted.current) return undefined;
        const err = e instanceof ApiError ? e : new ApiError(0, e instanceof Error ? e.message : String(e));
        const byField: Record<string, string> = {};
        let unplaced = false;
        for (const fe of err.errors) {
          if (fields.includes(fe.field)) byField[fe.field] = byField[fe.field] ? `${byField[fe.field]}; ${fe.message}` : fe.message;
          else unplaced = true;
        }
        const mapped = map?.(err);
        if (mapped) Object.assign(byField, mapped);
        setFieldErrors(byField);
        if (Object.keys(byField).length === 0 || unplaced) setError(err.detail);
        return undefined;
      } finally {
        if (mounted.current) setBusy(false);
      }
    },
    [], // `fields` is a constant list per form

  );

  const reset = useCallback(() => {
    setError(null);
    setFieldErrors({});
  }, []);

  return { busy, error, fieldErrors, run, reset, setError };
}

type FieldProps = InputHTMLAttributes<HTMLInputElement> & {
  label: string;
  name: string;
  error?: string | undefined;
  hint?: ReactNode;
};

export function Field({ label, name, error, hint, ...input }: FieldProps) {
  const id = useId();
  const describedBy = [error ? `${id}-error` : null, hint ? `${id}-hint` : null].filter(Boolean).join(" ");
  return (
    <div className={`field${error ? " field-invalid" : ""}`}>
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        name={name}
        aria-invalid={error ? true : undefined}
        aria-describedby={describedBy || undefined}
        {...input}
      />
      {hint && (
        <div className="hint" id={`${id}-hint`}>
          {hint}
        </div>
      )}
      {error && (
        <div className="field-error" id={`${id}-error`} role="alert" data-field={name}>
          {error}
        </div>
      )}
    </div>
  );
}

type TextAreaProps = TextareaHTMLAttributes<HTMLTextAreaElement> & {
  label: string;
  name: string;
  error?: string | undefined;
};

export function TextArea({ label, name, error, ...area }: TextAreaProps) {
  const id = useId();
  return (
    <div className={`field${error ? " field-invalid" : ""}`}>
      <label htmlFor={id}>{label}</label>
      <textarea
        id={id}
        name={name}
        aria-invalid={error ? true : undefined}
        aria-describedby={error ? `${id}-error` : undefined}
        {...area}
      />
      {error && (
        <div className="field-error" id={`${id}-error`} role="alert" data-field={name}>
          {error}
        </div>
      )}
    </div>
  );
}

type SelectProps = SelectHTMLAttributes<HTMLSelectElement> & {
  label: string;
  name: string;
  error?: string | undefined;
  children: ReactNode;
};

export function Select({ label, name, error, children, ...select }: SelectProps) {
  const id = useId();
  return (
    <div className={`field${error ? " field-invalid" : ""}`}>
      <label htmlFor={id}>{label}</label>
      <select id={id} name={name} aria-invalid={error ? true : undefined} {...select}>
        {children}
      </select>
      {error && (
        <div className="field-error" role="alert" data-field={name}>
          {error}
        </div>
      )}
    </div>
  );
}

export function Alert({ kind = "error", children }: { kind?: "error" | "info" | "success"; children: ReactNode }) {
  if (!children) return null;
  return (
    <div className={`alert alert-${kind}`} role={kind === "error" ? "alert" : "status"}>
      {children}
    </div>
  );
}

export function Submit({ busy, children, className }: { busy: boolean; children: ReactNode; className?: string }) {
  return (
    <button type="submit" className={className ?? "primary"} disabled={busy} aria-busy={busy || undefined}>
      {busy ? "Working…" : children}
    </button>
  );
}

/** A destructive action that asks for a second click ("Delete" → "Confirm delete" / "Keep"). */
export function ConfirmButton({
  label,
  confirmLabel,
  onConfirm,
  busy = false,
  className = "danger",
}: {
  label: string;
  confirmLabel: string;
  onConfirm: () => void;
  busy?: boolean;
  className?: string;
}) {
  const [asking, setAsking] = useState(false);
  if (!asking) {
    return (
      <button type="button" className={`${className} small`} disabled={busy} onClick={() => setAsking(true)}>
        {label}
      </button>
    );
  }
  return (
    <span className="confirm">
      <button
        type="button"
        className="danger small"
        disabled={busy}
        onClick={() => {
          setAsking(false);
          onConfirm();
        }}
      >
        {confirmLabel}
      </button>
      <button type="button" className="small" onClick={() => setAsking(false)}>
        Keep
      </button>
    </span>
  );
}

/** Keyset pagination (api.md §0.5): a stack of the cursors that led to the current page. */
export function useCursorPages() {
  const [stack, setStack] = useState<(string | null)[]>([null]);
  const cursor = stack[stack.length - 1] ?? null;
  return {
    cursor,
    page: stack.length,
    next: (c: string) => setStack((s) => [...s, c]),
    previous: () => setStack((s) => (s.length > 1 ? s.slice(0, -1) : s)),
    first: () => setStack([null]),
  };
}

export function Pager({
  page,
  hasMore,
  onNext,
  onPrevious,
  label,
}: {
  page: number;
  hasMore: boolean;
  onNext: () => void;
  onPrevious: () => void;
  label: string;
}) {
  if (page === 1 && !hasMore) return null;
  return (
    <nav className="pager" aria-label={`${label} pages`}>
      <button type="button" className="small" disabled={page === 1} onClick={onPrevious}>
        ← Newer
      </button>
      <span>Page {page}</span>
      <button type="button" className="small" disabled={!hasMore} onClick={onNext}>
        Older →
      </button>
    </nav>
  );
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

export function Time({ value }: { value: string | null | undefined }) {
  if (!value) return <span className="muted">—</span>;
  const d = new Date(value);
  return (
    <time dateTime={value} title={value}>
      {Number.isNaN(d.getTime()) ? value : dateTime.format(d)}
    </time>
  );
}

export function Badge({ tone = "neutral", children }: { tone?: string; children: ReactNode }) {
  return <span className={`badge badge-${tone}`}>{children}</span>;
}

export function statusTone(status: string): string {
  switch (status) {
    case "ready":
    case "success":
    case "accepted":
    case "active":
      return "good";
    case "failed":
    case "failure":
    case "deleted":
    case "inactive":
      return "bad";
    case "provisioning":
    case "pending":
    case "deleting":
      return "warn";
    default:
      return "neutral";
  }
}

export function PageHeader({ title, children }: { title: string; children?: ReactNode }) {
  useEffect(() => {
    document.title = `${title} · Tenantry`;
  }, [title]);
  return (
    <div className="page-header">
      <h1>{title}</h1>
      {children && <div className="page-actions">{children}</div>}
    </div>
  );
}

/** A loader for a page of data: loading state, error, and a reload trigger. */
export function useLoad<T>(load: () => Promise<T>, deps: readonly unknown[]) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setLoading(true);
    setError(null);
    load()
      .then((d) => {
        if (live) setData(d);
      })
      .catch((e: unknown) => {
        if (live) setError(e instanceof ApiError ? e.detail : String(e));
      })
      .finally(() => {
        if (live) setLoading(false);
      });
    return () => {
      live = false;
    };
    // `load` is a fresh closure on every render; `deps` says when it means something new.
  }, [...deps, tick]);
  return { data, setData, error, loading, reload: () => setTick((t) => t + 1) };
}
