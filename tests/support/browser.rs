//! A browser stand-in ([`Browser`]: a cookie jar, no automatic redirects) and the helpers of
//! browser flows: PKCE pairs, query parameters, and values read from HTML forms. It starts
//! nothing; its connections close when it is dropped.

use base64::Engine;
use reqwest::StatusCode;

use crate::hub::TestHub;

/// A browser stand-in: a cookie jar, no automatic redirects.
pub struct Browser {
    pub client: reqwest::Client,
}

impl Default for Browser {
    fn default() -> Self {
        Self::new()
    }
}

impl Browser {
    pub fn new() -> Self {
        hub::install_crypto_provider();
        Self {
            client: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }

    /// GET /oauth2/authorize with `params`; returns status, Location and body.
    pub async fn authorize(
        &self,
        hub: &TestHub,
        params: &[(&str, &str)],
    ) -> (StatusCode, Option<String>, String) {
        let r = self
            .client
            .get(format!("{}/oauth2/authorize", hub.url))
            .query(params)
            .send()
            .await
            .unwrap();
        let loc = r
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_string());
        (r.status(), loc, r.text().await.unwrap())
    }

    /// Signs in on the hub's development form reached at `login_location`; returns the
    /// redirect back to the application.
    pub async fn sign_in(&self, hub: &TestHub, login_location: &str, email: &str) -> String {
        let url = url::Url::parse(&format!("{}{login_location}", hub.url)).unwrap();
        let request = url
            .query_pairs()
            .find(|(k, _)| k == "request")
            .unwrap()
            .1
            .to_string();
        let page = self.client.get(url.as_str()).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        let r = self
            .client
            .post(format!("{}/login", hub.url))
            .form(&[("request", request.as_str()), ("email", email)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{:?}", r.text().await);
        r.headers()["location"].to_str().unwrap().to_string()
    }
}

/// A PKCE verifier and its S256 challenge.
pub fn pkce() -> (String, String) {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let verifier = URL_SAFE_NO_PAD.encode(uuid::Uuid::new_v4().as_bytes().repeat(2));
    let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
    (verifier, URL_SAFE_NO_PAD.encode(digest))
}

/// A query parameter of a URL.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.to_string())
}

/// The value of a hidden `<input name=NAME value=...>` in an HTML form.
pub fn form_value(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\""))?;
    let tag_start = html[..at].rfind('<')?;
    let tag_end = at + html[at..].find('>')?;
    let tag = &html[tag_start..tag_end];
    let v = tag.find("value=\"")? + "value=\"".len();
    let end = v + tag[v..].find('"')?;
    Some(
        tag[v..end]
            .replace("&quot;", "\"")
            .replace("&#x27;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
}

/// The `action` of the first form in an HTML page.
pub fn form_action(html: &str) -> Option<String> {
    let at = html.find("<form")?;
    let a = at + html[at..].find("action=\"")? + "action=\"".len();
    let end = a + html[a..].find('"')?;
    Some(html[a..end].replace("&amp;", "&"))
}
