#!/usr/bin/env bash
# Path 2 (`chalice deploy`): create the tables and the fan-out queues with CloudFormation, make
# sure the JWT secret exists in SSM, let Chalice create the Lambdas, the WebSocket API and the
# fan-out worker's SQS event source mapping, then turn on partial batch responses on that
# mapping (Chalice 1.34 cannot: its create/update_event_source_mapping calls never pass
# FunctionResponseTypes).
#
#   infra/deploy.sh dev            # deploy (or update) the dev stage
#   infra/deploy.sh dev --delete   # tear it down (the tables with message data are retained)
set -euo pipefail

STAGE="${1:?usage: infra/deploy.sh STAGE [--delete]}"
ACTION="${2:-deploy}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CHALICE="${CHALICE:-$ROOT/.venv/bin/chalice}"
TABLES_STACK="chat-backend-$STAGE-tables"
WORKER="chat-backend-$STAGE-fanout"  # Chalice names functions {app_name}-{stage}-{handler}
PARAM="/chat-backend/$STAGE/jwt-secret"
cd "$ROOT"

if [ "$ACTION" = "--delete" ]; then
  "$CHALICE" delete --stage "$STAGE"
  aws cloudformation delete-stack --stack-name "$TABLES_STACK"
  aws cloudformation wait stack-delete-complete --stack-name "$TABLES_STACK"
  echo "Deleted stage $STAGE, its fan-out queues included. Retained (delete by hand if you mean it):"
  echo "chat-$STAGE-chats, chat-$STAGE-chat_members, chat-$STAGE-memberships, chat-$STAGE-messages,"
  echo "chat-$STAGE-send_keys and SSM $PARAM."
  exit 0
fi

aws cloudformation deploy --template-file infra/tables.json --stack-name "$TABLES_STACK" \
  --parameter-overrides "TablePrefix=chat-$STAGE" --no-fail-on-empty-changeset

if ! aws ssm get-parameter --name "$PARAM" >/dev/null 2>&1; then
  echo "Creating the JWT secret $PARAM (SecureString)"
  aws ssm put-parameter --name "$PARAM" --type SecureString \
    --value "$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')" >/dev/null
fi

# Chalice sets the stage's environment_variables (CHAT_FANOUT_QUEUE=chat-$STAGE-fanout) before it
# imports app.py, so the worker's event source is the queue the stack above just made.
"$CHALICE" deploy --stage "$STAGE"

# Without ReportBatchItemFailures, Lambda ignores the worker's {"batchItemFailures": [...]} and
# deletes the whole batch, failed shards included. Idempotent: run after every chalice deploy.
QUEUE_ARN="$(aws cloudformation describe-stacks --stack-name "$TABLES_STACK" \
  --query "Stacks[0].Outputs[?OutputKey=='FanoutQueueArn'].OutputValue" --output text)"
MAPPING="$(aws lambda list-event-source-mappings --function-name "$WORKER" --event-source-arn "$QUEUE_ARN" \
  --query 'EventSourceMappings[0].UUID' --output text)"
if [ -z "$MAPPING" ] || [ "$MAPPING" = "None" ]; then
  echo "No event source mapping from $QUEUE_ARN to $WORKER: did chalice deploy the fan-out worker?" >&2
  exit 1
fi
for _ in $(seq 30); do  # a mapping Chalice just created or updated is busy for a few seconds
  STATE="$(aws lambda get-event-source-mapping --uuid "$MAPPING" --query State --output text)"
  case "$STATE" in Enabled | Disabled) break ;; esac
  sleep 2
done
aws lambda update-event-source-mapping --uuid "$MAPPING" \
  --function-response-types ReportBatchItemFailures >/dev/null
echo "Fan-out worker $WORKER reports partial batch failures (event source mapping $MAPPING)"
echo "Your WebSocket URL is the 'Websocket API URL' above: wss://<api-id>.execute-api.<region>.amazonaws.com/$STAGE"
