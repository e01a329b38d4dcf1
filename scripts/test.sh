#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs the peers it needs, checks formatting and
# lints, builds once (one shared target dir), then runs every test twice: on SQLite and on the
# PostgreSQL at 127.0.0.1:5432 (a fresh database per test, dropped afterwards).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-peers.sh

export HUB_TEST_RUN_ID="${HUB_TEST_RUN_ID:-r$$}"
export HUB_TEST_POSTGRES_URL="${HUB_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

drop_test_databases() {
  psql "$HUB_TEST_POSTGRES_URL/postgres" -Atq -c \
    "SELECT datname FROM pg_database WHERE datname LIKE 'hubtest\\_${HUB_TEST_RUN_ID}\\_%'" 2>/dev/null |
    while read -r db; do
      [ -n "$db" ] && psql "$HUB_TEST_POSTGRES_URL/postgres" -q -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
    done
}
trap drop_test_databases EXIT

if command -v cargo-nextest >/dev/null 2>&1; then
  run_tests() { cargo nextest run --workspace --locked --no-fail-fast; }
else
  run_tests() { cargo test --workspace --locked --no-fail-fast; }
fi

scripts/check-deploy.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# The e2e tests run the `hub` binary too; build it with the test profile's artifacts.
cargo build --workspace --bins --locked

echo "== test suite on SQLite"
HUB_TEST_DATABASE=sqlite run_tests
echo "== test suite on PostgreSQL ($HUB_TEST_POSTGRES_URL)"
HUB_TEST_DATABASE=postgres run_tests
