#!/usr/bin/env bash
# The README's test command: installs what the tests need and is missing (Debian's Prometheus,
# for the analysis provider's real-server tests; Debian's PostgreSQL, whose initdb and postgres
# the PostgreSQL store's tests run; Debian's Chromium and playwright-core, for the dashboard's
# browser tests), checks the Kubernetes manifests, the Helm chart and the golden copies of the
# objects the kubernetes platform writes against their schemas (scripts/validate-manifests.sh,
# which installs kubernetes-validate and Helm), then runs every test of the workspace.
# Extra arguments go to `cargo test`, e.g. `scripts/test.sh -p bellwether-analysis`.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/prometheus ]; then
  SUDO=
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi
  echo "installing Debian's prometheus (the analysis tests run a real one)" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq prometheus > /dev/null
fi

if ! ls /usr/lib/postgresql/*/bin/initdb > /dev/null 2>&1; then
  SUDO=
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi
  echo "installing Debian's postgresql (the PostgreSQL store's tests run a real server)" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql > /dev/null
fi

scripts/browser-deps.sh

scripts/validate-manifests.sh

if [ "$#" -eq 0 ]; then set -- --workspace; fi
cargo test --locked "$@"
