#!/usr/bin/env bash
# Installs the C libraries the hub links (idempotent; Debian, root): SAML signatures are checked by
# libxmlsec1 through the `samael` crate, whose build generates bindings with libclang.
#   pkg-config libssl-dev libxml2-dev libxmlsec1-dev libclang-dev
set -euo pipefail

need=()
for p in pkg-config libssl-dev libxml2-dev libxmlsec1-dev libclang-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "installing build dependencies: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
