//! Test harness of the end-to-end suite (the `hub_e2e` crate): a fresh database per test
//! (`db`), the hub in-process (`hub`) and as `hub` processes (`hub_process`), loopback networking
//! and polling (`net`), a browser stand-in (`browser`), and real peers started on 127.0.0.1 and
//! stopped by PID (`peers`, `dnsmasq`, `node`, `saml_idp`, `slapd`, `samba`, `scim_server`), and verifiers
//! written in Go against Go's own packages (`go`).
//! Every item is re-exported here, so tests name them `hub_e2e::X`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod browser;
mod db;
mod dnsmasq;
mod go;
mod hub;
mod hub_process;
mod net;
mod node;
mod peers;
mod samba;
mod saml_idp;
mod scim_server;
mod slapd;

pub use self::hub::{Options, Resp, TestHub, random_key};
pub use browser::{Browser, form_action, form_value, pkce, query_param};
pub use db::{TestDb, backend, postgres_base};
pub use dnsmasq::Dnsmasq;
pub use go::go_tool;
pub use hub_process::{HubProcess, hub_binary, hub_command};
pub use net::{Trap, eventually, free_port, free_udp_port, http_client, wait_ready};
pub use node::{NodePeer, run_node};
pub use peers::{ChildGuard, peers_dir};
pub use samba::SambaAd;
pub use saml_idp::SamlIdp;
pub use scim_server::ScimServer;
pub use slapd::Slapd;
