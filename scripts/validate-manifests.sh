#!/usr/bin/env bash
# Validates every Kubernetes manifest the repository ships (deploy/kubernetes, the objects in
# examples/kubernetes) and the golden copies of the objects the kubernetes platform writes
# (crates/platform-kubernetes/golden), offline and strictly (an unknown field fails): Kubernetes'
# own kinds against its schemas with PyPI's kubernetes-validate (installed in a virtual
# environment under the build directory the first time), the Gateway API's and Istio's against
# their CRDs vendored in deploy/schemas, with the jsonschema kubernetes-validate brings
# (scripts/validate-manifests.py, which first checks that wrong copies of the golden manifests
# fail). The Kubernetes version is the oldest the platform's API bindings target.
set -euo pipefail
cd "$(dirname "$0")/.."

KUBERNETES=1.33.0
venv="${CARGO_TARGET_DIR:-target}/kubernetes-validate"
# A virtual environment's scripts name the path it was made at: one moved or copied with its
# build directory is made again.
if ! "$venv/bin/kubernetes-validate" --version > /dev/null 2>&1; then
  rm -rf "$venv"
  # Debian's python3 makes virtual environments with pip only given python3-venv.
  if ! python3 -c 'import venv, ensurepip' > /dev/null 2>&1; then
    SUDO=
    if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi
    echo "installing Debian's python3-venv (the manifests are checked with a PyPI package)" >&2
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3 python3-venv > /dev/null
  fi
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check kubernetes-validate==1.37.0
fi
golden=crates/platform-kubernetes/golden
mapfile -t examples < <(grep -l '^apiVersion:' examples/kubernetes/*.yaml)
"$venv/bin/python" scripts/validate-manifests.py "$KUBERNETES" deploy/schemas "$golden" \
  deploy/kubernetes/*.yaml "$golden"/*.yaml "${examples[@]}"
