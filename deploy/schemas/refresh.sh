#!/usr/bin/env bash
# Vendors the CustomResourceDefinitions of the route objects bellwether edits, unchanged, from
# checkouts of their projects at a release tag:
#   deploy/schemas/refresh.sh GATEWAY_API_CHECKOUT ISTIO_API_CHECKOUT
# (kubernetes-sigs/gateway-api and istio/api). Then update the versions in README.md and run
# scripts/validate-manifests.sh.
set -euo pipefail
if [ $# -ne 2 ]; then
  echo "usage: $0 GATEWAY_API_CHECKOUT ISTIO_API_CHECKOUT" >&2
  exit 2
fi
gateway=$1 istio=$2
here=$(dirname "$0")
mkdir -p "$here/gateway-api" "$here/istio"

cp "$gateway/config/crd/standard/gateway.networking.k8s.io_httproutes.yaml" \
  "$here/gateway-api/httproutes.yaml"
cp "$gateway/LICENSE" "$here/gateway-api/LICENSE"

# Istio generates its CRDs into one multi-document file: the ones used are taken whole.
for plural in destinationrules virtualservices; do
  awk -v name="  name: $plural.networking.istio.io" '
    BEGIN { RS = "\n---\n" }
    index("\n" $0 "\n", "\n" name "\n") { print; found = 1 }
    END { exit !found }
  ' "$istio/kubernetes/customresourcedefinitions.gen.yaml" > "$here/istio/$plural.yaml" || {
    echo "no CRD $plural.networking.istio.io in $istio/kubernetes/customresourcedefinitions.gen.yaml" >&2
    exit 1
  }
done
cp "$istio/LICENSE" "$here/istio/LICENSE"
