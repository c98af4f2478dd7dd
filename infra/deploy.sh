#!/usr/bin/env bash
# Path 2 (`chalice deploy`): create the tables with CloudFormation, make sure the JWT secret
# exists in SSM, then let Chalice create the Lambdas and the WebSocket API.
#
#   infra/deploy.sh dev            # deploy (or update) the dev stage
#   infra/deploy.sh dev --delete   # tear it down (the tables with message data are retained)
set -euo pipefail

STAGE="${1:?usage: infra/deploy.sh STAGE [--delete]}"
ACTION="${2:-deploy}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CHALICE="${CHALICE:-$ROOT/.venv/bin/chalice}"
TABLES_STACK="chat-backend-$STAGE-tables"
PARAM="/chat-backend/$STAGE/jwt-secret"
cd "$ROOT"

if [ "$ACTION" = "--delete" ]; then
  "$CHALICE" delete --stage "$STAGE"
  aws cloudformation delete-stack --stack-name "$TABLES_STACK"
  aws cloudformation wait stack-delete-complete --stack-name "$TABLES_STACK"
  echo "Deleted stage $STAGE. Retained (delete by hand if you mean it): chat-$STAGE-chats,"
  echo "chat-$STAGE-memberships, chat-$STAGE-messages, chat-$STAGE-send_keys and SSM $PARAM."
  exit 0
fi

aws cloudformation deploy --template-file infra/tables.json --stack-name "$TABLES_STACK" \
  --parameter-overrides "TablePrefix=chat-$STAGE" --no-fail-on-empty-changeset

if ! aws ssm get-parameter --name "$PARAM" >/dev/null 2>&1; then
  echo "Creating the JWT secret $PARAM (SecureString)"
  aws ssm put-parameter --name "$PARAM" --type SecureString \
    --value "$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')" >/dev/null
fi

"$CHALICE" deploy --stage "$STAGE"
echo "Your WebSocket URL is the 'Websocket API URL' above: wss://<api-id>.execute-api.<region>.amazonaws.com/$STAGE"
