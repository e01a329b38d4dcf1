//! A real SAML IdP ([`SamlIdp`]: PyPI `pysaml2`, tests/peers/saml_idp.py, run as a [`NodePeer`]
//! by the peers' virtualenv) with its own signing key in a temporary directory, listening on
//! 127.0.0.1 on a free port; killed by PID when dropped.

use serde_json::Value;

use crate::node::NodePeer;

/// A real SAML IdP (PyPI `pysaml2`, tests/peers/saml_idp.py) with its own signing key.
pub struct SamlIdp {
    _peer: NodePeer,
    pub base: String,
    _dir: tempfile::TempDir,
}

impl SamlIdp {
    /// `users`: login -> {"pw": ..., "attrs": {"mail": [...], ...}}.
    pub fn start(users: Value) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let peer = NodePeer::python(
            "saml_idp.py",
            &[
                ("WORKDIR", dir.path().display().to_string()),
                ("USERS", users.to_string()),
            ],
        );
        let base = peer.ready["base"].as_str().unwrap().to_string();
        Self {
            _peer: peer,
            base,
            _dir: dir,
        }
    }

    pub fn metadata_url(&self) -> String {
        format!("{}/metadata", self.base)
    }

    /// Registers a service provider by its metadata document.
    pub async fn register_sp(&self, metadata_xml: &str) {
        let r = reqwest::Client::new()
            .post(format!("{}/__sp", self.base))
            .body(metadata_xml.to_string())
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{:?}", r.text().await);
    }

    /// Switches how the IdP signs (`{"sign_alg": "sha1"}`) or whom it names as the audience.
    pub async fn mode(&self, mode: Value) {
        let r = reqwest::Client::new()
            .post(format!("{}/__mode", self.base))
            .body(mode.to_string())
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }
}
