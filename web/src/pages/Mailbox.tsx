// Development mailbox (GET /dev/mailbox, development and test only): the emails the app "sent" to one address.
// Their links open this console's own pages, whatever APP_URL the server was given.

import { useEffect, useState, type FormEvent } from "react";
import { ApiError, mailbox } from "../api/client";
import type { MailboxMessage } from "../api/types";
import { Link, href, navigate, useLocation } from "../router";
import { Alert, Badge, PageHeader, Time } from "../components/ui";

/** The console page a message's link leads to. */
export function consoleLink(m: MailboxMessage): string | null {
  const withToken = (path: string) => (m.token ? href(path, { token: m.token }) : null);
  switch (m.kind) {
    case "verify_email":
      return withToken("/verify-email");
    case "invite":
      return withToken("/accept-invite");
    case "password_reset":
      return withToken("/reset-password");
    case "welcome":
    case "already_registered":
      return "/login";
    case "password_changed":
      return "/forgot-password";
  }
  if (!m.action_url) return null;
  try {
    const u = new URL(m.action_url);
    return u.pathname + u.search;
  } catch {
    return null;
  }
}

export function MailboxPage() {
  const { query } = useLocation();
  const to = query.get("to") ?? "";
  const [input, setInput] = useState(to);
  const [messages, setMessages] = useState<MailboxMessage[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [unavailable, setUnavailable] = useState(false);
  const [tick, setTick] = useState(0);

  useEffect(() => setInput(to), [to]);

  useEffect(() => {
    if (!to) return;
    let live = true;
    let timer = 0;
    const load = async () => {
      try {
        const items = await mailbox(to);
        if (!live) return;
        setMessages(items);
        setError(null);
      } catch (e) {
        if (!live) return;
        if (e instanceof ApiError && e.status === 404) {
          setUnavailable(true);
          return;
        }
        setError(e instanceof ApiError ? e.detail : String(e));
      }
      // New messages appear as soon as their transaction commits: keep looking while the page is open.
      timer = window.setTimeout(() => void load(), 3000);
    };
    void load();
    return () => {
      live = false;
      window.clearTimeout(timer);
    };
  }, [to, tick]);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    setMessages(null);
    navigate(href("/mailbox", { to: input.trim() }));
    setTick((t) => t + 1);
  };

  return (
    <section>
      <PageHeader title="Development mailbox" />
      <p className="lead">
        Emails the app sent, as stored in the outbox. Available when the server runs with APP_ENV development or test.
      </p>
      {unavailable ? (
        <Alert>This server has no development mailbox (it runs in production mode).</Alert>
      ) : (
        <>
          <form onSubmit={submit} className="inline-form" noValidate>
            <label htmlFor="mailbox-to">Address</label>
            <input id="mailbox-to" name="to" type="email" value={input} onChange={(e) => setInput(e.target.value)}
              placeholder="someone@example.com" />
            <button type="submit" className="primary">
              Show messages
            </button>
          </form>
          <Alert>{error}</Alert>
          {to && messages && messages.length === 0 && <p className="muted">No messages for {to} yet.</p>}
          {messages && messages.length > 0 && (
            <ul className="mail-list" aria-label={`Messages for ${to}`}>
              {messages.map((m) => {
                const link = consoleLink(m);
                return (
                  <li key={m.id} className="card mail">
                    <div className="mail-head">
                      <strong className="mail-subject">{m.subject}</strong>
                      <Badge>{m.kind}</Badge>
                      <span className="muted">
                        <Time value={m.created_at} /> · {m.sent_at ? "sent" : "queued"}
                      </span>
                    </div>
                    {link && (
                      <Link className="button primary small" to={link}>
                        Open link: {m.subject}
                      </Link>
                    )}
                    <details>
                      <summary>Message text</summary>
                      <pre className="mail-body">{m.body_text}</pre>
                    </details>
                  </li>
                );
              })}
            </ul>
          )}
        </>
      )}
    </section>
  );
}
