"""Parses Kubernetes manifests and checks the fields Vernier relies on."""
import sys

import yaml

kinds = {}
for path in sys.argv[1:]:
    with open(path) as f:
        for doc in yaml.safe_load_all(f):
            assert doc.get("apiVersion") and doc.get("kind"), f"{path}: apiVersion and kind required"
            kinds[doc["kind"]] = doc

server = kinds["StatefulSet"]["spec"]
assert server["replicas"] == 1, "one server per database"
assert server["volumeClaimTemplates"], "the server keeps its database on a volume claim"
worker = kinds["Deployment"]["spec"]["template"]["spec"]["containers"][0]
assert "nvidia.com/gpu" in worker["resources"]["limits"], "workers ask for GPUs"
assert any(e["name"] == "VERNIER_SERVER" for e in worker["env"])
assert kinds["Service"]["spec"]["ports"][0]["port"] == 50051
print("k8s manifests ok")
