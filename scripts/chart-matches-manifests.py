"""Checks that the Helm chart renders the objects of deploy/kubernetes:
    chart-matches-manifests.py RENDERED MANIFEST...

RENDERED is `helm template bellwether deploy/helm/bellwether` with some values, MANIFEST the
files it must equal (rbac.yaml with sqlite.yaml, or with postgres.yaml). Objects are matched by
kind and name and compared whole but for their labels and selectors, where the chart adds Helm's
own and selects by release: those are checked to select the Deployment's pods instead.
"""

import sys

import yaml


def objects(path):
    with open(path) as f:
        return [o for o in yaml.safe_load_all(f) if o]


def selects(selector, labels, what):
    if not selector or any(labels.get(k) != v for k, v in selector.items()):
        return [f"{what} {selector} does not select the pods labelled {labels}"]
    return []


def normalized(obj, pod_labels):
    """`obj` without labels and selectors, and what is wrong with its selectors."""
    obj = yaml.safe_load(yaml.safe_dump(obj))
    obj["metadata"].pop("labels", None)
    problems = []
    kind = obj["kind"]
    if kind == "Deployment":
        template = obj["spec"]["template"]["metadata"]
        labels = template.pop("labels", {})
        # The chart's checksum of the project file: pods are replaced when it changes.
        template.get("annotations", {}).pop("checksum/project", None)
        if not template.get("annotations"):
            template.pop("annotations", None)
        problems += selects(obj["spec"].pop("selector")["matchLabels"], labels,
                            "the Deployment's selector")
    elif kind == "Service":
        problems += selects(obj["spec"].pop("selector"), pod_labels, "the Service's selector")
    return obj, problems


def main(rendered, *manifests):
    chart = objects(rendered)
    expected = [o for m in manifests for o in objects(m)]
    problems = []
    keyed = {}
    for source, objs in (("chart", chart), ("manifests", expected)):
        pods = {}
        for obj in objs:
            if obj["kind"] == "Deployment":
                pods = obj["spec"]["template"]["metadata"].get("labels", {})
        for obj in objs:
            normal, wrong = normalized(obj, pods)
            problems += [f"{source}: {p}" for p in wrong]
            keyed.setdefault((obj["kind"], obj["metadata"]["name"]), {})[source] = normal
    for (kind, name), sides in sorted(keyed.items()):
        if "chart" not in sides:
            problems.append(f"{kind} {name} is in {', '.join(manifests)} but not rendered")
        elif "manifests" not in sides:
            problems.append(f"{kind} {name} is rendered but not in {', '.join(manifests)}")
        elif sides["chart"] != sides["manifests"]:
            problems.append(f"{kind} {name} differs:\n--- chart\n"
                            + yaml.safe_dump(sides["chart"]) + "--- manifests\n"
                            + yaml.safe_dump(sides["manifests"]))
    for p in problems:
        print(f"{rendered}: {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    sys.exit(main(*sys.argv[1:]))
