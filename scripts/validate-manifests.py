"""Validates Kubernetes manifests offline, strictly (an unknown field fails).

Run by scripts/validate-manifests.sh in kubernetes-validate's virtual environment:
    validate-manifests.py KUBERNETES_VERSION SCHEMAS_DIR GOLDEN_DIR FILE...

Each object of a kind whose CustomResourceDefinition is vendored under SCHEMAS_DIR (the Gateway
API's HTTPRoute, Istio's VirtualService and DestinationRule) is checked against that CRD's
openAPIV3Schema for its version, made strict the way the API server's strict field validation
is: an object schema without `x-kubernetes-preserve-unknown-fields` takes no field it does not
name. Its metadata is checked as Kubernetes' ObjectMeta. Every other object is checked by
kubernetes-validate against Kubernetes' own schemas; an object of a kind neither knows fails.
The CRDs' CEL rules (`x-kubernetes-validations`) are not evaluated.

Before the files, deliberately wrong copies of the golden manifests in GOLDEN_DIR (a weight as a
string, an unknown field, ...) are checked: each must fail, or the check itself is broken.
"""

import copy
import glob
import os
import sys

import jsonschema
import kubernetes_validate
from kubernetes_validate.utils import resources_from_file, schema_contents
from referencing import Registry, Resource

DEFINITIONS = "https://kubernetes.io/api/_definitions.json"
OBJECT_META = DEFINITIONS + "#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"

# (golden file, what is wrong, path to the field set, the value set): each copy must fail.
WRONG_COPIES = [
    ("httproute.yaml", "a backend's weight as a string",
     ["spec", "rules", 1, "backendRefs", 0, "weight"], "7500"),
    ("httproute.yaml", "an unknown field in a backendRef",
     ["spec", "rules", 1, "backendRefs", 0, "wieght"], 7500),
    ("httproute.yaml", "an unknown field in the RequestMirror filter",
     ["spec", "rules", 1, "filters", 0, "requestMirror", "share"], 10),
    ("httproute.yaml", "an unknown field in the metadata",
     ["metadata", "label"], {"a": "b"}),
    ("virtualservice.yaml", "a destination's weight as a string",
     ["spec", "http", 1, "route", 0, "weight"], "75"),
    ("virtualservice.yaml", "an unknown field in an HTTP route",
     ["spec", "http", 1, "mirrorShare"], 10),
    ("virtualservice.yaml", "an unknown field in the spec",
     ["spec", "routes"], []),
    ("destinationrule.yaml", "an unknown field in a subset",
     ["spec", "subsets", 0, "selector"], {"a": "b"}),
    ("destinationrule.yaml", "a subset's label value as a number",
     ["spec", "subsets", 0, "labels", "bellwether.dev/revision"], 1),
    ("ingress-canary.yaml", "a port number as a string",
     ["spec", "rules", 0, "http", "paths", 0, "backend", "service", "port", "number"], "8080"),
    ("service-canary.yaml", "an unknown field in a port",
     ["spec", "ports", 0, "portNumber"], 8080),
    ("replicaset.yaml", "replicas as a string",
     ["spec", "replicas"], "3"),
]


def strict(schema):
    """The schema with every object that does not preserve unknown fields closed to them.

    Only `properties`, `items` and `additionalProperties` hold types in a CRD's structural
    schema: its allOf/anyOf/oneOf/not only constrain values, and are left as they are.
    """
    if not isinstance(schema, dict):
        return schema
    schema = {key: strict(value) if key in ("items", "additionalProperties") else value
              for key, value in schema.items()}
    if "properties" in schema:
        schema["properties"] = {name: strict(s) for name, s in schema["properties"].items()}
    if schema.pop("nullable", False) and "type" in schema:
        schema["type"] = [schema["type"], "null"]
    if (schema.get("type") == "object"
            and not schema.get("x-kubernetes-preserve-unknown-fields")
            and "additionalProperties" not in schema):
        schema["additionalProperties"] = False
    return schema


def crd_schemas(directory):
    """(apiVersion, kind) -> the strict schema of every served version of the vendored CRDs."""
    schemas = {}
    for path in sorted(glob.glob(os.path.join(directory, "**", "*.yaml"), recursive=True)):
        for crd in resources_from_file(path):
            if crd.get("kind") != "CustomResourceDefinition":
                continue
            group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
            for version in crd["spec"]["versions"]:
                if not version.get("served"):
                    continue
                api_version = f"{group}/{version['name']}"
                schema = strict(version["schema"]["openAPIV3Schema"])
                schema["properties"] = dict(
                    schema.get("properties", {}),
                    apiVersion={"const": api_version},
                    kind={"const": kind},
                    metadata={"$ref": OBJECT_META},
                )
                schema["required"] = sorted(set(schema.get("required", []))
                                            | {"apiVersion", "kind", "metadata"})
                schemas[(api_version, kind)] = schema
    return schemas


class Checker:
    def __init__(self, kubernetes, schemas_dir):
        self.kubernetes = kubernetes
        self.minor = ".".join(kubernetes.split(".")[:2])
        self.schemas = crd_schemas(schemas_dir)
        definitions = schema_contents(
            f"kubernetes-json-schema/v{self.minor}.0-local-strict/_definitions.json", kubernetes)
        self.registry = Resource.from_contents(definitions) @ Registry()

    def problem(self, obj):
        """Why `obj` is not valid, or None."""
        if not isinstance(obj, dict):
            return "is not an object"
        schema = self.schemas.get((obj.get("apiVersion"), obj.get("kind")))
        try:
            if schema is not None:
                validator = jsonschema.Draft202012Validator(schema, registry=self.registry)
                error = jsonschema.exceptions.best_match(validator.iter_errors(obj))
                if error is not None:
                    return f"{error.json_path}: {error.message}"
                return None
            kubernetes_validate.validate(obj, self.kubernetes, strict=True)
            return None
        except kubernetes_validate.SchemaNotFoundError:
            return (f"has no schema here: {obj.get('kind')} {obj.get('apiVersion')} is neither "
                    f"Kubernetes {self.minor}'s nor a vendored CRD's")
        except kubernetes_validate.ValidationError as error:
            return f"{error.json_path}: {error.message}"


def name(obj):
    if not isinstance(obj, dict):
        return "a document"
    return f"{obj.get('kind')} {(obj.get('metadata') or {}).get('name')}"


def set_at(obj, path, value):
    for step in path[:-1]:
        obj = obj[step]
    obj[path[-1]] = value


def main(kubernetes, schemas_dir, golden_dir, *files):
    checker = Checker(kubernetes, schemas_dir)
    failed = []
    for file, wrong, path, value in WRONG_COPIES:
        [obj] = resources_from_file(os.path.join(golden_dir, file))
        obj = copy.deepcopy(obj)
        set_at(obj, path, value)
        if checker.problem(obj) is None:
            failed.append(f"{golden_dir}/{file} with {wrong} passes the check: the check is broken")
    checked = 0
    for file in files:
        for obj in resources_from_file(file):
            checked += 1
            problem = checker.problem(obj)
            if problem is not None:
                failed.append(f"{file}: {name(obj)} {problem}")
    for line in failed:
        print(line, file=sys.stderr)
    if failed:
        return 1
    kinds = ", ".join(sorted({kind for _, kind in checker.schemas}))
    print(f"{checked} objects valid, {len(WRONG_COPIES)} wrong copies refused "
          f"(Kubernetes {checker.minor}'s schemas; the vendored CRDs of {kinds})")
    return 0


if __name__ == "__main__":
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    sys.exit(main(*sys.argv[1:]))
