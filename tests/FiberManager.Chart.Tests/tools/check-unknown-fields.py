"""Finds fields that Kubernetes does not know in rendered manifests (a typo such as
`readinesProbe` is silently dropped by the API server unless it validates strictly).

Walks every object against the models of the official Python client (Debian's
python3-kubernetes) and reports each key that is not a field of its type, plus values of the
wrong primitive type. Usage: /usr/bin/python3 check-unknown-fields.py <manifests.yaml>...
Exit status 1 and one line per problem when there is any.

Debian 12's client is 22.6 (Kubernetes 1.22). Two later API additions the chart uses are
described here explicitly, so they are checked rather than skipped:
  * Probe.grpc (GRPCAction: port, service; Kubernetes 1.24+);
  * autoscaling/v2 (GA in 1.23), checked with the autoscaling/v2beta2 models, whose fields
    autoscaling/v2 kept unchanged.
"""
import re
import sys

import kubernetes.client as models
import yaml

# Types newer than the client: {model name: {JSON field: type string}}.
EXTRA_TYPES = {
    "V1GRPCAction": {"port": "int", "service": "str"},
}
# Fields newer than the client on types it has.
EXTRA_FIELDS = {
    "V1Probe": {"grpc": "V1GRPCAction"},
}
# API versions newer than the client, checked with an older version's models.
VERSION_ALIASES = {
    ("autoscaling", "v2"): "V2beta2",
}

problems = []


def fields_of(type_name):
    """The JSON field names of a model and their type strings."""
    if type_name in EXTRA_TYPES:
        return dict(EXTRA_TYPES[type_name])
    cls = getattr(models, type_name, None)
    if cls is None:
        raise KeyError(type_name)
    fields = {cls.attribute_map[attr]: t for attr, t in cls.openapi_types.items()}
    fields.update(EXTRA_FIELDS.get(type_name, {}))
    return fields


def check(value, type_name, path):
    if value is None:
        return
    list_match = re.fullmatch(r"list\[(.+)\]", type_name)
    dict_match = re.fullmatch(r"dict\((\w+), (.+)\)", type_name)
    if list_match:
        if not isinstance(value, list):
            problems.append(f"{path}: expected a list, got {type(value).__name__}")
            return
        for i, item in enumerate(value):
            check(item, list_match.group(1), f"{path}[{i}]")
    elif dict_match:
        if not isinstance(value, dict):
            problems.append(f"{path}: expected a map, got {type(value).__name__}")
            return
        for key, item in value.items():
            check(item, dict_match.group(2), f"{path}.{key}")
    elif type_name == "str":
        if not isinstance(value, str):
            problems.append(f"{path}: expected a string, got {type(value).__name__} {value!r}")
    elif type_name == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            problems.append(f"{path}: expected an integer, got {type(value).__name__} {value!r}")
    elif type_name == "bool":
        if not isinstance(value, bool):
            problems.append(f"{path}: expected a boolean, got {type(value).__name__} {value!r}")
    elif type_name in ("object", "datetime", "date", "float"):
        pass  # int-or-string, quantities, free-form objects, timestamps
    else:
        if not isinstance(value, dict):
            problems.append(f"{path}: expected an object ({type_name}), got {type(value).__name__}")
            return
        try:
            fields = fields_of(type_name)
        except KeyError:
            problems.append(f"{path}: the checker has no model {type_name}")
            return
        for key, item in value.items():
            if key not in fields:
                problems.append(f"{path}.{key}: unknown field (not in {type_name})")
            else:
                check(item, fields[key], f"{path}.{key}")


def model_for(api_version, kind):
    group, _, version = api_version.rpartition("/")
    prefix = VERSION_ALIASES.get((group, version), version[:1].upper() + version[1:])
    return f"{prefix}{kind}"


def main():
    if len(sys.argv) < 2:
        print("usage: check-unknown-fields.py <manifests.yaml>...", file=sys.stderr)
        return 2
    checked = []
    for file in sys.argv[1:]:
        with open(file, encoding="utf-8") as f:
            documents = [d for d in yaml.safe_load_all(f) if d is not None]
        for doc in documents:
            if not isinstance(doc, dict) or "apiVersion" not in doc or "kind" not in doc:
                problems.append(f"{file}: a document without apiVersion and kind: {str(doc)[:80]}")
                continue
            name = f"{doc['kind']}/{(doc.get('metadata') or {}).get('name', '?')}"
            type_name = model_for(doc["apiVersion"], doc["kind"])
            if getattr(models, type_name, None) is None:
                problems.append(f"{file}: {name}: no model {type_name} for {doc['apiVersion']} {doc['kind']}")
                continue
            before = len(problems)
            check(doc, type_name, f"{file}: {name}")
            if len(problems) == before:
                checked.append(name)
    if problems:
        print("\n".join(problems))
        return 1
    print(f"no unknown fields ({len(checked)}): " + ", ".join(checked))
    return 0


if __name__ == "__main__":
    sys.exit(main())
