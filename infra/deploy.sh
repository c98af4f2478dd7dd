#!/usr/bin/env bash
# Path 2 (`chalice deploy`): create the tables and the fan-out and push queues with
# CloudFormation, make sure the JWT secret and the Web Push VAPID key exist in SSM, let Chalice
# create the Lambdas, the WebSocket API and the two workers' SQS event source mappings, then turn
# on partial batch responses on those mappings (Chalice 1.34 cannot: its
# create/update_event_source_mapping calls never pass FunctionResponseTypes).
#
#   infra/deploy.sh dev            # deploy (or update) the dev stage
#   infra/deploy.sh dev --delete   # tear it down (the tables with user data are retained)
#   infra/deploy.sh --help         # the options and their defaults
#
# CHAT_ATTACHMENTS_ORIGIN=https://chat.example.com: the web page's origin, the one the attachments
# bucket's CORS rule allows (the stack parameter AttachmentsAllowedOrigin; unset: the stack keeps
# the value it has, none on a first deploy).
set -euo pipefail

usage() {
  cat <<'USAGE'
usage: infra/deploy.sh STAGE [--delete] [--jwt-secret-param NAME] [--vapid-key-param NAME]

  STAGE                    a stage of .chalice/config.json (dev, prod)
  --delete                 tear the stage down (the tables with user data are retained)
  --jwt-secret-param NAME  the SSM SecureString holding the JWT secret, created if missing
                           (env CHAT_JWT_SECRET_PARAM; default /chat-backend/STAGE/jwt-secret)
  --vapid-key-param NAME   the SSM SecureString holding the Web Push VAPID private key, created
                           if missing (env CHAT_VAPID_PRIVATE_KEY_PARAM;
                           default /chat-backend/STAGE/vapid-private-key)
  -h, --help               this text

The functions read the names the stage's CHAT_JWT_SECRET_PARAM and CHAT_VAPID_PRIVATE_KEY_PARAM
in .chalice/config.json give (its policy file must grant them): another name stops the script
before it changes anything. Environment: CHAT_ATTACHMENTS_ORIGIN (the web page's origin, for
the attachments bucket's CORS rule).
USAGE
}

STAGE="" ACTION=deploy
JWT_PARAM="${CHAT_JWT_SECRET_PARAM:-}" VAPID_PARAM="${CHAT_VAPID_PRIVATE_KEY_PARAM:-}"
while [ $# -gt 0 ]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --delete) ACTION=--delete ;;
    --jwt-secret-param | --vapid-key-param)
      [ $# -ge 2 ] && [ -n "$2" ] || { echo "infra/deploy.sh: $1 needs a NAME" >&2; usage >&2; exit 2; }
      if [ "$1" = --jwt-secret-param ]; then JWT_PARAM="$2"; else VAPID_PARAM="$2"; fi
      shift ;;
    --jwt-secret-param=* | --vapid-key-param=*)
      [ -n "${1#*=}" ] || { echo "infra/deploy.sh: ${1%%=*} needs a NAME" >&2; exit 2; }
      if [ "${1%%=*}" = --jwt-secret-param ]; then JWT_PARAM="${1#*=}"; else VAPID_PARAM="${1#*=}"; fi ;;
    -*) echo "infra/deploy.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    *)
      [ -z "$STAGE" ] || { echo "infra/deploy.sh: one STAGE only (got $STAGE and $1)" >&2; exit 2; }
      STAGE="$1" ;;
  esac
  shift
done
[ -n "$STAGE" ] || { usage >&2; exit 2; }
JWT_PARAM="${JWT_PARAM:-/chat-backend/$STAGE/jwt-secret}"
VAPID_PARAM="${VAPID_PARAM:-/chat-backend/$STAGE/vapid-private-key}"
PARAM="$JWT_PARAM"

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CHALICE="${CHALICE:-$ROOT/.venv/bin/chalice}"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
TABLES_STACK="chat-backend-$STAGE-tables"
FUNCTION_PREFIX="chat-backend-$STAGE"  # Chalice names functions {app_name}-{stage}-{handler}
cd "$ROOT"

stage_setting() {  # NAME: that environment variable of the stage in .chalice/config.json ("" if unset)
  "$PYTHON" - "$STAGE" "$1" <<'PY'
import json, sys
config = json.load(open(".chalice/config.json"))
stage, name = sys.argv[1], sys.argv[2]
if stage not in config["stages"]:
    sys.exit(f"infra/deploy.sh: no stage {stage!r} in .chalice/config.json")
env = {**config.get("environment_variables", {}), **config["stages"][stage].get("environment_variables", {})}
print(env.get(name, ""))
PY
}

if [ "$ACTION" = "--delete" ]; then
  "$CHALICE" delete --stage "$STAGE"
  aws cloudformation delete-stack --stack-name "$TABLES_STACK"
  aws cloudformation wait stack-delete-complete --stack-name "$TABLES_STACK"
  echo "Deleted stage $STAGE, its fan-out and push queues included. Retained (delete by hand if you mean it):"
  echo "chat-$STAGE-presence, chat-$STAGE-chats, chat-$STAGE-chat_members, chat-$STAGE-memberships,"
  echo "chat-$STAGE-messages, chat-$STAGE-changes, chat-$STAGE-send_keys, chat-$STAGE-devices,"
  echo "chat-$STAGE-device_tokens, chat-$STAGE-attachments, chat-$STAGE-blocks, chat-$STAGE-reports, the attachments bucket"
  echo "chat-$STAGE-attachments-ACCOUNT-REGION with its files, SSM $PARAM and SSM $VAPID_PARAM."
  exit 0
fi

# The functions read the secrets the stage's config names: creating them under other names would
# leave the functions without them. Checked before anything is changed.
for pair in "CHAT_JWT_SECRET_PARAM:$JWT_PARAM" "CHAT_VAPID_PRIVATE_KEY_PARAM:$VAPID_PARAM"; do
  setting="${pair%%:*}" name="${pair#*:}"
  configured="$(stage_setting "$setting")"
  if [ -n "$configured" ] && [ "$configured" != "$name" ]; then
    echo "$setting of stage $STAGE in .chalice/config.json is \"$configured\", but this deploy uses" >&2
    echo "\"$name\": set it to that (and grant it in the stage's policy file), or drop the option." >&2
    exit 1
  fi
done

OVERRIDES=("TablePrefix=chat-$STAGE")
if [ -n "${CHAT_ATTACHMENTS_ORIGIN:-}" ]; then
  OVERRIDES+=("AttachmentsAllowedOrigin=$CHAT_ATTACHMENTS_ORIGIN")
fi
aws cloudformation deploy --template-file infra/tables.json --stack-name "$TABLES_STACK" \
  --parameter-overrides "${OVERRIDES[@]}" --no-fail-on-empty-changeset

stack_output() {  # OUTPUT_KEY: that output of the tables stack
  aws cloudformation describe-stacks --stack-name "$TABLES_STACK" \
    --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text
}

# The bucket's name holds the account and the region ({TablePrefix}-attachments-ACCOUNT-REGION),
# which .chalice/config.json cannot know: the stage's CHAT_ATTACHMENTS_BUCKET must name it, or be
# empty (attachments refused). A different name would point the functions at a bucket the stage's
# policy does not grant and the stack did not make: stop before deploying them.
BUCKET="$(stack_output AttachmentsBucketName)"
CONFIGURED_BUCKET="$(stage_setting CHAT_ATTACHMENTS_BUCKET)"
if [ -z "$CONFIGURED_BUCKET" ]; then
  echo "Attachments are off (attachment.create is refused): set CHAT_ATTACHMENTS_BUCKET of stage $STAGE"
  echo "in .chalice/config.json to \"$BUCKET\" and run infra/deploy.sh $STAGE again to turn them on."
elif [ "$CONFIGURED_BUCKET" != "$BUCKET" ]; then
  echo "CHAT_ATTACHMENTS_BUCKET of stage $STAGE in .chalice/config.json is \"$CONFIGURED_BUCKET\", but the" >&2
  echo "stack's attachments bucket is \"$BUCKET\": set it to that (or to \"\" for no attachments)." >&2
  exit 1
fi

if ! aws ssm get-parameter --name "$PARAM" >/dev/null 2>&1; then
  echo "Creating the JWT secret $PARAM (SecureString)"
  aws ssm put-parameter --name "$PARAM" --type SecureString \
    --value="$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')" >/dev/null
fi

# Browsers subscribe to Web Push with the public half of this key: made once, never replaced
# here (a new key would orphan every subscription).
if ! aws ssm get-parameter --name "$VAPID_PARAM" >/dev/null 2>&1; then
  echo "Creating the Web Push VAPID key $VAPID_PARAM (SecureString)"
  KEYS="$("$PYTHON" -m infra.vapid_key new)"
  aws ssm put-parameter --name "$VAPID_PARAM" --type SecureString --value="${KEYS%%$'\n'*}" >/dev/null
  echo "Web Push public key (the web page's applicationServerKey): ${KEYS##*$'\n'}"
fi

# Chalice sets the stage's environment_variables (CHAT_FANOUT_QUEUE=chat-$STAGE-fanout,
# CHAT_PUSH_QUEUE=chat-$STAGE-push) before it imports app.py, so the workers' event sources are
# the queues the stack above just made.
"$CHALICE" deploy --stage "$STAGE"

# Without ReportBatchItemFailures, Lambda ignores a worker's {"batchItemFailures": [...]} and
# deletes the whole batch, failed records included. Idempotent: run after every chalice deploy.
report_batch_item_failures() {  # WORKER (function name) QUEUE_OUTPUT (stack output with its queue ARN)
  local worker="$1" output="$2" queue_arn mapping state
  queue_arn="$(stack_output "$output")"
  mapping="$(aws lambda list-event-source-mappings --function-name "$worker" --event-source-arn "$queue_arn" \
    --query 'EventSourceMappings[0].UUID' --output text)"
  if [ -z "$mapping" ] || [ "$mapping" = "None" ]; then
    echo "No event source mapping from $queue_arn to $worker: did chalice deploy the worker?" >&2
    exit 1
  fi
  for _ in $(seq 30); do  # a mapping Chalice just created or updated is busy for a few seconds
    state="$(aws lambda get-event-source-mapping --uuid "$mapping" --query State --output text)"
    case "$state" in Enabled | Disabled) break ;; esac
    sleep 2
  done
  aws lambda update-event-source-mapping --uuid "$mapping" \
    --function-response-types ReportBatchItemFailures >/dev/null
  echo "Worker $worker reports partial batch failures (event source mapping $mapping)"
}
report_batch_item_failures "$FUNCTION_PREFIX-fanout" FanoutQueueArn
report_batch_item_failures "$FUNCTION_PREFIX-push" PushQueueArn
echo "Your WebSocket URL is the 'Websocket API URL' above: wss://<api-id>.execute-api.<region>.amazonaws.com/$STAGE"
