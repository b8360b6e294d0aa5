#!/usr/bin/env bash
# The Pub/Sub topology of the pipeline on Google Cloud (names: tributary/topology.py).
#
#   deploy/topology.sh topics     before the functions: topics, and the Pub/Sub service
#                                 agent's right to publish dead letters
#   deploy/topology.sh policies   after the functions: retry, dead-letter and retention
#                                 policies on the subscriptions Eventarc made for them
#
# Every event-driven function is deployed with an Eventarc trigger, which creates
# (and owns) the push subscription that delivers to it; the policies of
# tributary/topology.py are applied to those subscriptions. The jobs subscription
# (preprocess) retains acknowledged messages for 7 days, so a seek replays a window.
#
# Needs: PROJECT_ID, REGION; optional MAX_DELIVERY_ATTEMPTS (5), MIN_RETRY_DELAY (10s),
# MAX_RETRY_DELAY (600s), ACK_DEADLINE_S (150). Idempotent: run it as often as you like.
set -euo pipefail
: "${PROJECT_ID:?set PROJECT_ID}" "${REGION:?set REGION}"
MAX_DELIVERY_ATTEMPTS="${MAX_DELIVERY_ATTEMPTS:-5}"
MIN_RETRY_DELAY="${MIN_RETRY_DELAY:-10s}"
MAX_RETRY_DELAY="${MAX_RETRY_DELAY:-600s}"
ACK_DEADLINE_S="${ACK_DEADLINE_S:-150}"
RETENTION="7d"

TOPICS=(tributary-jobs tributary-features tributary-predictions tributary-results tributary-dead-letter)
DEAD_LETTER_TOPIC=tributary-dead-letter
# Deployed function name -> does its subscription retain acknowledged messages (replay)?
declare -A RETAIN=(
    [tributary-on-upload]=no
    [tributary-on-query]=no
    [tributary-preprocess]=yes
    [tributary-infer]=no
    [tributary-lookup]=no
)
DEAD_LETTER_FUNCTION=tributary-dead-letter

say() { printf '[topology] %s\n' "$*" >&2; }

pubsub_agent() {
    local number
    number="$(gcloud projects describe "$PROJECT_ID" --format='value(projectNumber)')"
    echo "serviceAccount:service-${number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

topics() {
    for topic in "${TOPICS[@]}"; do
        if gcloud pubsub topics describe "$topic" --project="$PROJECT_ID" >/dev/null 2>&1; then
            say "topic $topic exists"
        else
            gcloud pubsub topics create "$topic" --project="$PROJECT_ID"
        fi
    done
    # Pub/Sub itself moves undeliverable messages: it must be allowed to publish them.
    gcloud pubsub topics add-iam-policy-binding "$DEAD_LETTER_TOPIC" --project="$PROJECT_ID" \
        --member="$(pubsub_agent)" --role=roles/pubsub.publisher >/dev/null
}

# The subscription Eventarc created for a function's trigger.
trigger_subscription() {
    local function="$1" trigger location
    trigger="$(gcloud functions describe "$function" --gen2 --region="$REGION" \
        --project="$PROJECT_ID" --format='value(eventTrigger.trigger)')"
    [ -n "$trigger" ] || { say "function $function has no event trigger"; return 1; }
    location="$(cut -d/ -f4 <<<"$trigger")"
    gcloud eventarc triggers describe "${trigger##*/}" --location="$location" \
        --project="$PROJECT_ID" --format='value(transport.pubsub.subscription)'
}

policies() {
    local agent function subscription
    agent="$(pubsub_agent)"
    for function in "${!RETAIN[@]}"; do
        subscription="$(trigger_subscription "$function")"
        say "$function <- $subscription"
        local retention=(--no-retain-acked-messages)
        if [ "${RETAIN[$function]}" = yes ]; then
            retention=(--retain-acked-messages --message-retention-duration="$RETENTION")
        fi
        gcloud pubsub subscriptions update "$subscription" --project="$PROJECT_ID" \
            --ack-deadline="$ACK_DEADLINE_S" \
            --min-retry-delay="$MIN_RETRY_DELAY" --max-retry-delay="$MAX_RETRY_DELAY" \
            --dead-letter-topic="$DEAD_LETTER_TOPIC" \
            --max-delivery-attempts="$MAX_DELIVERY_ATTEMPTS" \
            "${retention[@]}"
        # Dead lettering acknowledges the source message on the agent's behalf.
        gcloud pubsub subscriptions add-iam-policy-binding "$subscription" \
            --project="$PROJECT_ID" --member="$agent" --role=roles/pubsub.subscriber >/dev/null
    done
    # The dead-letter handler itself retries with backoff but has no dead-letter topic.
    subscription="$(trigger_subscription "$DEAD_LETTER_FUNCTION")"
    gcloud pubsub subscriptions update "$subscription" --project="$PROJECT_ID" \
        --ack-deadline="$ACK_DEADLINE_S" \
        --min-retry-delay="$MIN_RETRY_DELAY" --max-retry-delay="$MAX_RETRY_DELAY" \
        --retain-acked-messages --message-retention-duration="$RETENTION"
}

case "${1:-}" in
    topics) topics ;;
    policies) policies ;;
    *) echo "usage: $0 topics|policies" >&2; exit 2 ;;
esac
