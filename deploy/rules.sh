#!/usr/bin/env bash
# Publish deploy/firestore.rules and deploy/storage.rules through the Firebase Rules API:
# each file becomes a ruleset, then the release the service reads points at it
# (cloud.firestore for the default database; firebase.storage/<bucket> for the bucket).
#
# Needs: PROJECT_ID, BUCKET; the caller needs roles/firebaserules.admin.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
: "${PROJECT_ID:?set PROJECT_ID}" "${BUCKET:?set BUCKET}"
TOKEN="$(gcloud auth print-access-token)"
export ROOT PROJECT_ID BUCKET TOKEN

python3 - <<'PY'
import json
import os
import urllib.error
import urllib.request

API = "https://firebaserules.googleapis.com/v1"
project, bucket, root = os.environ["PROJECT_ID"], os.environ["BUCKET"], os.environ["ROOT"]


def call(method, path, body=None):
    request = urllib.request.Request(
        f"{API}/{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={
            "Authorization": f"Bearer {os.environ['TOKEN']}",
            "Content-Type": "application/json",
            "X-Goog-User-Project": project,
        },
    )
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read() or b"{}")


def publish(filename, release):
    with open(os.path.join(root, "deploy", filename)) as handle:
        source = {"files": [{"name": filename, "content": handle.read()}]}
    ruleset = call("POST", f"projects/{project}/rulesets", {"source": source})["name"]
    name = f"projects/{project}/releases/{release}"
    try:
        call("PATCH", name, {"release": {"name": name, "rulesetName": ruleset}})
    except urllib.error.HTTPError as exc:
        if exc.code != 404:
            raise
        call("POST", f"projects/{project}/releases", {"name": name, "rulesetName": ruleset})
    print(f"[rules] {release} -> {ruleset}")


publish("firestore.rules", "cloud.firestore")
publish("storage.rules", f"firebase.storage/{bucket}")
PY
