#!/usr/bin/env bash
# Static checks of deploy/ (Docker does not run on these machines, nor can Helm be installed):
#   hadolint    the container image build files
#   yamllint    every YAML file (the chart's templates are checked once rendered)
#   check-jsonschema with the vendored Compose specification: deploy/compose.yaml
#   render_chart.py: the Helm chart rendered (its template subset) and validated against the
#                    Kubernetes 1.37 schemas (kubernetes-validate)
#   that the chart and the compose file tell the hub how many proxies append X-Forwarded-For
# and that every file the compose file and the image builds refer to exists. The topology itself
# (two replicas on one PostgreSQL, a directory, an IdP) runs as plain processes in the test suite
# (tests/e2e/replicas.rs).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"
venv=deploy/check/.venv
if ! cmp -s deploy/check/requirements.txt "$venv/installed.txt" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r deploy/check/requirements.txt
  cp deploy/check/requirements.txt "$venv/installed.txt"
fi
"$venv/bin/hadolint" deploy/Dockerfile deploy/samples/ldap.Dockerfile deploy/samples/idp.Dockerfile
"$venv/bin/yamllint" -c deploy/check/yamllint.yaml deploy/compose.yaml deploy/helm/hub/Chart.yaml deploy/helm/hub/values.yaml
"$venv/bin/check-jsonschema" --builtin-schema vendor.compose-spec deploy/compose.yaml
rendered="$("$venv/bin/python" deploy/check/render_chart.py deploy/helm/hub --print)"
tail -n 1 <<<"$rendered"
# Behind a proxy the OAuth throttles and caps must count the client's address, not the proxy's.
grep -A1 -- '- name: HUB_OIDC__TRUSTED_PROXY_HOPS' <<<"$rendered" | grep -q "value: '1'" \
  || { echo "deploy: the chart does not set HUB_OIDC__TRUSTED_PROXY_HOPS (oidc.trustedProxyHops)" >&2; exit 1; }
grep -q 'HUB_OIDC__TRUSTED_PROXY_HOPS: "1"' deploy/compose.yaml \
  || { echo "deploy: the compose file does not set HUB_OIDC__TRUSTED_PROXY_HOPS for its nginx" >&2; exit 1; }
# Files the image builds copy and the compose file mounts.
for f in Cargo.toml Cargo.lock config/example.toml tests/peers/slapd-start.sh tests/peers/upstream-op.mjs \
         deploy/compose/nginx.conf deploy/samples/people.ldif deploy/samples/idp/package.json \
         deploy/samples/idp/package-lock.json deploy/samples/idp/.npmrc; do
  [ -f "$f" ] || { echo "deploy: missing $f" >&2; exit 1; }
done
grep -q '"oidc-provider"' deploy/samples/idp/package-lock.json || { echo "deploy: the sample IdP's lock file lacks oidc-provider" >&2; exit 1; }
echo "deploy files OK"
