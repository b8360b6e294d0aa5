#!/usr/bin/env bash
# Assemble the source tree every function is deployed from, in $1 (default build/function):
# the code the functions import, requirements.txt (+ constraints.txt), the trained
# models copied from gs://$BUCKET/models/ (served from /workspace/models at run time),
# and, beside it, env.yaml with the functions' settings.
#
# Needs: BUCKET, PROJECT_ID; optional CORS_ORIGINS (comma-separated), MAX_DELIVERY_ATTEMPTS.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${1:-$ROOT/build/function}"
: "${BUCKET:?set BUCKET}" "${PROJECT_ID:?set PROJECT_ID}"

rm -rf "$OUT"
mkdir -p "$OUT"
cp "$ROOT/main.py" "$ROOT/constraints.txt" "$OUT/"
cp "$ROOT/deploy/requirements.txt" "$OUT/requirements.txt"
for package in tributary schemas triggers workers apps; do
    cp -r "$ROOT/$package" "$OUT/$package"
done
find "$OUT" -name '__pycache__' -type d -prune -exec rm -rf {} +
# gcloud uploads everything not ignored; nothing else is needed at run time.
printf '%s\n' '__pycache__/' '*.pyc' > "$OUT/.gcloudignore"

mkdir -p "$OUT/models"
if gcloud storage ls "gs://$BUCKET/models/" >/dev/null 2>&1; then
    gcloud storage rsync --recursive "gs://$BUCKET/models" "$OUT/models"
else
    echo "[stage] no models under gs://$BUCKET/models/: functions will answer model_unavailable" >&2
fi

# Settings of every function (TRIBUTARY_* is read by tributary/config.py only).
cat > "$(dirname "$OUT")/env.yaml" <<YAML
TRIBUTARY_BACKEND: gcp
TRIBUTARY_GCP_PROJECT: "$PROJECT_ID"
TRIBUTARY_BUCKET: "$BUCKET"
TRIBUTARY_MODELS_DIR: /workspace/models
TRIBUTARY_DATA_DIR: /tmp/tributary
TRIBUTARY_LOG_FORMAT: json
TRIBUTARY_MAX_DELIVERY_ATTEMPTS: "${MAX_DELIVERY_ATTEMPTS:-5}"
TRIBUTARY_LEASE_S: "${LEASE_S:-150}"
TRIBUTARY_ACK_DEADLINE_S: "${LEASE_S:-150}"
TRIBUTARY_CORS_ORIGINS: "${CORS_ORIGINS:-}"
YAML
echo "[stage] function source ready in $OUT" >&2
