//! The emails of api.md §7. User- and tenant-supplied text is HTML-escaped; `already_registered`
//! carries none of it.

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

#[derive(Debug, Clone)]
pub struct Rendered {
    pub kind: &'static str,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    pub action_url: Option<String>,
}

fn page(paragraphs: &[String], link: Option<(&str, &str)>) -> String {
    let mut html = String::from("<!doctype html><html><body style=\"font-family:sans-serif\">");
    for p in paragraphs {
        html.push_str("<p>");
        html.push_str(p);
        html.push_str("</p>");
    }
    if let Some((url, label)) = link {
        html.push_str(&format!(
            "<p><a href=\"{}\">{}</a></p>",
            escape(url),
            escape(label)
        ));
    }
    html.push_str("</body></html>");
    html
}

pub fn verify_email(
    app_url: &str,
    app_name: &str,
    full_name: &str,
    token: &str,
    ttl_hours: u32,
) -> Rendered {
    let url = format!("{app_url}/verify-email?token={token}");
    Rendered {
        kind: "verify_email",
        subject: "Verify your email address".to_owned(),
        body_text: format!(
            "Hello {full_name},\n\nConfirm your email address for {app_name} by opening this link:\n{url}\n\nThe link expires in {ttl_hours} hours."
        ),
        body_html: page(
            &[
                format!("Hello {},", escape(full_name)),
                format!(
                    "Confirm your email address for {} by opening this link.",
                    escape(app_name)
                ),
                format!("The link expires in {ttl_hours} hours."),
            ],
            Some((&url, "Verify my email")),
        ),
        action_url: Some(url),
    }
}

/// Sent to an existing address that someone tried to register again: nothing the registrant typed.
pub fn already_registered(app_url: &str, app_name: &str) -> Rendered {
    let login = format!("{app_url}/login");
    let forgot = format!("{app_url}/forgot-password");
    Rendered {
        kind: "already_registered",
        subject: "You already have an account".to_owned(),
        body_text: format!(
            "Someone tried to create a {app_name} account with this email address, which already has one.\n\nLog in: {login}\nForgot your password? {forgot}\n\nIf this wasn't you, you can ignore this email."
        ),
        body_html: page(
            &[
                format!(
                    "Someone tried to create a {} account with this email address, which already has one.",
                    escape(app_name)
                ),
                format!(
                    "Forgot your password? <a href=\"{}\">Reset it</a>.",
                    escape(&forgot)
                ),
                "If this wasn't you, you can ignore this email.".to_owned(),
            ],
            Some((&login, "Log in")),
        ),
        action_url: Some(login),
    }
}

pub fn invite(
    app_url: &str,
    app_name: &str,
    tenant_name: &str,
    token: &str,
    expire_days: u32,
) -> Rendered {
    let url = format!("{app_url}/accept-invite?token={token}");
    Rendered {
        kind: "invite",
        subject: format!("You've been invited to join {tenant_name}"),
        body_text: format!(
            "You have been invited to join {tenant_name} on {app_name}.\n\nAccept the invitation: {url}\n\nThe invitation expires in {expire_days} days."
        ),
        body_html: page(
            &[
                format!(
                    "You have been invited to join <strong>{}</strong> on {}.",
                    escape(tenant_name),
                    escape(app_name)
                ),
                format!("The invitation expires in {expire_days} days."),
            ],
            Some((&url, "Accept the invitation")),
        ),
        action_url: Some(url),
    }
}

pub fn welcome(app_url: &str, app_name: &str, full_name: &str) -> Rendered {
    let url = format!("{app_url}/login");
    Rendered {
        kind: "welcome",
        subject: format!("Welcome to {app_name}!"),
        body_text: format!("Hello {full_name},\n\nYour {app_name} account is ready. Log in: {url}"),
        body_html: page(
            &[
                format!("Hello {},", escape(full_name)),
                format!("Your {} account is ready.", escape(app_name)),
            ],
            Some((&url, "Log in")),
        ),
        action_url: Some(url),
    }
}

pub fn password_reset(app_url: &str, app_name: &str, token: &str, ttl_minutes: u32) -> Rendered {
    let url = format!("{app_url}/reset-password?token={token}");
    Rendered {
        kind: "password_reset",
        subject: "Reset your password".to_owned(),
        body_text: format!(
            "Someone asked to reset the password of your {app_name} account.\n\nChoose a new password: {url}\n\nThe link expires in {ttl_minutes} minutes. If this wasn't you, ignore this email: your password stays as it is."
        ),
        body_html: page(
            &[
                format!(
                    "Someone asked to reset the password of your {} account.",
                    escape(app_name)
                ),
                format!(
                    "The link expires in {ttl_minutes} minutes. If this wasn't you, ignore this email: your password stays as it is."
                ),
            ],
            Some((&url, "Choose a new password")),
        ),
        action_url: Some(url),
    }
}

/// Sent after a password change or reset, so an owner who did not do it can react.
pub fn password_changed(app_url: &str, app_name: &str) -> Rendered {
    let url = format!("{app_url}/forgot-password");
    Rendered {
        kind: "password_changed",
        subject: "Your password was changed".to_owned(),
        body_text: format!(
            "The password of your {app_name} account was just changed.\n\nIf this wasn't you, reset it now: {url}"
        ),
        body_html: page(
            &[
                format!(
                    "The password of your {} account was just changed.",
                    escape(app_name)
                ),
                "If this wasn't you, reset it now.".to_owned(),
            ],
            Some((&url, "Reset my password")),
        ),
        action_url: Some(url),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_text_is_escaped_in_html() {
        let r = verify_email(
            "http://app",
            "Tenantry",
            "<script>alert(1)</script>",
            "tok",
            24,
        );
        assert!(!r.body_html.contains("<script>"));
        assert!(r.body_html.contains("&lt;script&gt;"));
        assert_eq!(
            r.action_url.as_deref(),
            Some("http://app/verify-email?token=tok")
        );
    }

    #[test]
    fn already_registered_has_fixed_links() {
        let r = already_registered("http://app", "Tenantry");
        assert_eq!(r.subject, "You already have an account");
        assert!(r.body_text.contains("http://app/forgot-password"));
    }
}
