//! The console's markup building blocks, on maud: its `html!` escapes every value spliced into
//! a page, in text and in (always double-quoted) attribute values alike, so a name, an email or
//! an audit detail is text whatever it holds. `Href` is the only way to put a link or a form
//! target on a page: a path the hub owns with encoded segments, never a tenant's URL, so no
//! `javascript:` (or any other scheme or host) can appear. Nothing here writes unescaped text.

use std::fmt::Display;

use maud::{Markup, Render, html};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// What a path segment or fragment keeps as it is: RFC 3986 unreserved characters but `.`
/// (so no segment can become a `..` a browser would resolve).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'~');

/// A link or form target on the hub itself: one of the hub's own absolute paths (a `'static`
/// constant), then percent-encoded path segments, query pairs and a fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Href(String);

impl Href {
    /// The hub's own path `path` (anything that is not an absolute path of this host, which no
    /// caller writes, stays on the console).
    pub fn to(path: &'static str) -> Href {
        let own = path.starts_with('/') && !path.starts_with("//") && !path.contains(['\\', ':']);
        Href(if own { path } else { "/console" }.to_string())
    }

    /// Appends `/value` as one path segment, encoded (an empty, `.` or `..` value names nothing).
    pub fn seg(mut self, value: impl Display) -> Href {
        let value = value.to_string();
        self.0.push('/');
        if value.is_empty() || value == "." || value == ".." {
            self.0.push('-');
        } else {
            self.0.extend(utf8_percent_encode(&value, SEGMENT));
        }
        self
    }

    /// Appends the constant path segment `/segment`.
    pub fn lit(mut self, segment: &'static str) -> Href {
        self.0.push('/');
        self.0.extend(utf8_percent_encode(segment, SEGMENT));
        self
    }

    /// Adds `key=value` to the query, form-encoded.
    pub fn query(mut self, key: &'static str, value: impl Display) -> Href {
        self.0.push(if self.0.contains('?') { '&' } else { '?' });
        self.0
            .extend(url::form_urlencoded::byte_serialize(key.as_bytes()));
        self.0.push('=');
        self.0.extend(url::form_urlencoded::byte_serialize(
            value.to_string().as_bytes(),
        ));
        self
    }

    /// Ends with the fragment `#value`, encoded.
    pub fn fragment(mut self, value: impl Display) -> Href {
        self.0.push('#');
        self.0
            .extend(utf8_percent_encode(&value.to_string(), SEGMENT));
        self
    }

    #[cfg(test)]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Render for Href {
    fn render_to(&self, buffer: &mut String) {
        // Escaped like any attribute value (`&` of the query becomes `&amp;`).
        self.0.as_str().render_to(buffer);
    }
}

/// A form of one button that posts to `to` with the CSRF field `csrf`; with `confirm`, the
/// console's script asks that question first.
pub fn button(to: &Href, csrf: &Markup, confirm: Option<&str>, label: impl Render) -> Markup {
    html! {
        form method="post" action=(to) class="inline" data-confirm=[confirm] {
            (csrf)
            button type="submit" { (label) }
        }
    }
}

/// A table's header row, one column per label.
pub fn head(labels: &[&str]) -> Markup {
    html! {
        thead { tr { @for l in labels { th scope="col" { (l) } } } }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn links_stay_on_the_hub_whatever_their_parts_hold() {
        let h = Href::to("/console/setup/spaces")
            .seg("javascript:alert(1)")
            .lit("delete");
        assert_eq!(
            h.as_str(),
            "/console/setup/spaces/javascript%3Aalert%281%29/delete"
        );
        for part in ["..", ".", ""] {
            assert_eq!(Href::to("/console").seg(part).as_str(), "/console/-");
        }
        assert_eq!(
            Href::to("/console").seg("a/../b").as_str(),
            "/console/a%2F%2E%2E%2Fb"
        );
        assert_eq!(Href::to("javascript:alert(1)").as_str(), "/console");
        assert_eq!(Href::to("//evil.example").as_str(), "/console");
        let q = Href::to("/console/audit")
            .query("after", 7)
            .query("action", "\"><script>")
            .fragment("event-8");
        assert_eq!(
            q.as_str(),
            "/console/audit?after=7&action=%22%3E%3Cscript%3E#event-8"
        );
        let a = html! { a href=(q) { "x" } }.into_string();
        assert_eq!(
            a,
            "<a href=\"/console/audit?after=7&amp;action=%22%3E%3Cscript%3E#event-8\">x</a>"
        );
    }

    #[test]
    fn a_button_form_escapes_its_question_and_label() {
        let csrf = html! { input type="hidden" name="csrf" value="t"; };
        let b = button(
            &Href::to("/console/x"),
            &csrf,
            Some("Delete \"><img src=x onerror=alert(1)>?"),
            "<b>Delete</b>",
        )
        .into_string();
        assert_eq!(
            b,
            "<form method=\"post\" action=\"/console/x\" class=\"inline\" \
             data-confirm=\"Delete &quot;&gt;&lt;img src=x onerror=alert(1)&gt;?\">\
             <input type=\"hidden\" name=\"csrf\" value=\"t\">\
             <button type=\"submit\">&lt;b&gt;Delete&lt;/b&gt;</button></form>"
        );
    }

    /// The hub's HTML leaves through two frames, the console's `page` and the sign-in flows'
    /// `login::pages::page`, which take maud markup; no file writes unescaped text.
    #[test]
    fn html_goes_out_only_through_the_frames_and_nothing_is_raw() {
        let raw = ["Pre", "Escaped"].concat();
        let response = ["Html", "("].concat();
        let frames = ["console/mod.rs", "login/pages.rs"];
        let mut dirs = vec![std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")];
        let mut seen = 0;
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                    continue;
                }
                let Ok(text) = std::fs::read_to_string(&path) else {
                    continue;
                };
                seen += 1;
                let name = path.display().to_string().replace('\\', "/");
                assert!(!text.contains(&raw), "{name} writes unescaped markup");
                assert!(
                    !text.contains(&response) || frames.iter().any(|f| name.ends_with(f)),
                    "{name} answers with HTML outside the pages' frames"
                );
            }
        }
        assert!(seen > 50, "the sources were read");
    }
}
