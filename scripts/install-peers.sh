#!/usr/bin/env bash
# Installs the third-party peers the test suite runs against (idempotent; root, Debian).
#   dnsmasq-base   a real DNS server for domain-verification TXT lookups
#   node + npm     for the npm peers in tests/peers: openid-client (a downstream application),
#                  jose (a back-channel logout receiver), oidc-provider (benchmark peer)
#   postgresql     only if no PostgreSQL answers on 127.0.0.1:5432
#   xmlsec1, python3-venv + PyPI pysaml2 (tests/peers/.venv): a real SAML IdP
#   slapd, ldap-utils: a real LDAP directory; samba (AD DC): Active Directory
#   and the C libraries the hub itself links (scripts/build-deps.sh)
set -euo pipefail

"$(cd "$(dirname "$0")" && pwd)/build-deps.sh"

need=()
command -v dnsmasq >/dev/null 2>&1 || [ -x /usr/sbin/dnsmasq ] || need+=(dnsmasq-base)
command -v psql >/dev/null 2>&1 || need+=(postgresql-client)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
# headless Chromium for the browser tests (driven by npm playwright-core)
[ -x /usr/bin/chromium ] || need+=(chromium)
# a real SAML IdP: PyPI pysaml2 signs with the xmlsec1 binary
[ -x /usr/bin/xmlsec1 ] || need+=(xmlsec1)
python3 -c 'import ensurepip, venv' 2>/dev/null || need+=(python3-venv)
# a real LDAP directory: OpenLDAP slapd (started per test from tests/peers/slapd-start.sh) and
# the ldap-utils the tests edit it with; no system database is created
if ! command -v slapd >/dev/null 2>&1 && [ ! -x /usr/sbin/slapd ]; then
  echo "slapd slapd/no_configuration boolean true" | debconf-set-selections
  need+=(slapd)
fi
command -v ldapadd >/dev/null 2>&1 || need+=(ldap-utils)
# Active Directory behaviour: a Samba AD DC (provisioned per test run into a temp dir)
command -v samba-tool >/dev/null 2>&1 || need+=(samba samba-ad-dc samba-ad-provision winbind krb5-user smbclient)
# an independent verifier of the audit log's proofs: Go's own sumdb/note and sumdb/tlog, as
# Debian ships them (built offline in GOPATH mode by the tests)
command -v go >/dev/null 2>&1 || need+=(golang-go)
[ -d /usr/share/gocode/src/golang.org/x/mod/sumdb ] || need+=(golang-golang-x-mod-dev)

if [ ${#need[@]} -gt 0 ]; then
  echo "installing peers: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# npm peers, exactly as locked (package-lock.json records no download addresses; see .npmrc).
here="$(cd "$(dirname "$0")/.." && pwd)"
(cd "$here/tests/peers" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
# PyPI peers, pinned in tests/peers/requirements.txt, in a virtualenv beside them.
if ! cmp -s "$here/tests/peers/requirements.txt" "$here/tests/peers/.venv/installed.txt" 2>/dev/null; then
  python3 -m venv "$here/tests/peers/.venv"
  "$here/tests/peers/.venv/bin/pip" install -q --disable-pip-version-check -r "$here/tests/peers/requirements.txt"
  cp "$here/tests/peers/requirements.txt" "$here/tests/peers/.venv/installed.txt"
fi

# PostgreSQL: use the one already running on 127.0.0.1:5432; start the local cluster if it is down.
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
fi
pg_isready -q -h 127.0.0.1 -p 5432 || { echo "PostgreSQL is not reachable on 127.0.0.1:5432" >&2; exit 1; }
