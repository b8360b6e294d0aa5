#!/usr/bin/env bash
# Create the Firestore composite indexes of deploy/firestore.indexes.json (the queries
# of the watchdog, replay, `tributary jobs` and the API's job history need them;
# the emulator does not). Existing indexes are left as they are, so re-running is safe.
#
# Needs: PROJECT_ID; the caller needs roles/datastore.indexAdmin.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
: "${PROJECT_ID:?set PROJECT_ID}"

python3 - "$ROOT/deploy/firestore.indexes.json" <<'PY' | while IFS=$'\t' read -r group fields; do
import json
import sys

for index in json.load(open(sys.argv[1]))["indexes"]:
    configs = " ".join(
        f"--field-config=field-path={f['fieldPath']},order={f['order'].lower()}"
        for f in index["fields"]
    )
    print(f"{index['collectionGroup']}\t{configs}")
PY
    echo "index on $group: $fields" >&2
    # shellcheck disable=SC2086  # one flag per field
    if ! out="$(gcloud firestore indexes composite create --project="$PROJECT_ID" \
        --collection-group="$group" --query-scope=COLLECTION $fields --async 2>&1)"; then
        if grep -q "ALREADY_EXISTS\|already exists" <<<"$out"; then
            echo "  exists" >&2
        else
            echo "$out" >&2
            exit 1
        fi
    fi
done
