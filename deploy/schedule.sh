#!/usr/bin/env bash
# Cloud Scheduler runs the watchdog (tributary-watchdog, entry point `watchdog` in
# main.py), which restarts or fails jobs that stopped making progress.
#
# The function is deployed --no-allow-unauthenticated. Here its invoker role goes to
# the scheduler's service account alone, and the scheduler job calls the function
# with an OIDC token of that account (audience: the function's URL), which IAM
# checks before the request reaches the code. Anyone else gets 403 from the platform.
#
# Needs: PROJECT_ID, REGION, SCHEDULER_SA; optional WATCHDOG_SCHEDULE ("* * * * *").
# Idempotent: creates the scheduler job, or updates it to match.
set -euo pipefail
: "${PROJECT_ID:?set PROJECT_ID}" "${REGION:?set REGION}" "${SCHEDULER_SA:?set SCHEDULER_SA}"
WATCHDOG_SCHEDULE="${WATCHDOG_SCHEDULE:-* * * * *}"
FUNCTION=tributary-watchdog
JOB=tributary-watchdog

say() { printf '[schedule] %s\n' "$*" >&2; }

url="$(gcloud functions describe "$FUNCTION" --gen2 --region="$REGION" \
    --project="$PROJECT_ID" --format='value(serviceConfig.uri)')"
[ -n "$url" ] || { say "function $FUNCTION is not deployed"; exit 1; }

gcloud functions add-invoker-policy-binding "$FUNCTION" --region="$REGION" \
    --project="$PROJECT_ID" --member="serviceAccount:$SCHEDULER_SA" >/dev/null

verb=create
if gcloud scheduler jobs describe "$JOB" --location="$REGION" --project="$PROJECT_ID" \
    >/dev/null 2>&1; then
    verb=update
fi
say "$verb $JOB: POST $url on '$WATCHDOG_SCHEDULE' as $SCHEDULER_SA"
# No retries: the next run comes within a minute and sweeps whatever is still overdue.
gcloud scheduler jobs "$verb" http "$JOB" --location="$REGION" --project="$PROJECT_ID" \
    --schedule="$WATCHDOG_SCHEDULE" --time-zone=Etc/UTC \
    --uri="$url" --http-method=POST \
    --oidc-service-account-email="$SCHEDULER_SA" --oidc-token-audience="$url" \
    --attempt-deadline=120s --max-retry-attempts=0
