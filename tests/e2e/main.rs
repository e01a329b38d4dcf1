//! End-to-end tests: the hub in-process (and as processes) on a fresh database of the suite's
//! backend (`HUB_TEST_DATABASE=sqlite|postgres`), driven over HTTP and through its CLI.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod admin_api;
mod audit_log;
mod bad_input;
mod cli;
mod consent;
mod console;
mod console_reauth;
mod console_xss;
mod crash;
mod deprovision;
mod domains;
mod emails;
mod enumeration;
mod evidence;
mod federation;
mod flood;
mod isolation;
mod jobs;
mod ldap;
mod ldap_changes;
mod leaks;
mod oidc_hardening;
mod oidc_interaction;
mod oidc_peers;
mod oidc_provider;
mod oidc_tokens;
mod operator;
mod operator_people;
mod outbound;
mod outbound_scim;
mod processes;
mod replicas;
mod saml;
mod scim;
mod scim_client;
mod scim_names;
mod scim_patch;
mod scim_protocol;
mod spaces;
mod transparency;
mod witness;
