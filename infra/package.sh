#!/usr/bin/env bash
# Path 1 (CloudFormation): package the app with the tables, the attachments bucket and the fan-out
# and push queues merged in, ready for
# `aws cloudformation package` + `deploy`. No AWS credentials needed for this step.
#
#   infra/package.sh dev build/dev        # then follow the printed commands
set -euo pipefail

STAGE="${1:?usage: infra/package.sh STAGE OUTPUT_DIR}"
OUT="${2:?usage: infra/package.sh STAGE OUTPUT_DIR}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
CHALICE="${CHALICE:-$ROOT/.venv/bin/chalice}"
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-${AWS_REGION:-us-east-1}}"

cd "$ROOT"
# The SSM parameters the stage's functions read, as .chalice/config.json names them.
stage_setting() {  # NAME: the stage's environment variable NAME
  "$PYTHON" - "$STAGE" "$1" <<'PY'
import json, sys
stage, name = sys.argv[1], sys.argv[2]
config = json.load(open(".chalice/config.json"))
if stage not in config["stages"]:
    sys.exit(f"infra/package.sh: .chalice/config.json has no stage {stage!r} (it has {', '.join(config['stages'])})")
print({**config.get("environment_variables", {}), **config["stages"][stage].get("environment_variables", {})}[name])
PY
}
JWT_PARAM="$(stage_setting CHAT_JWT_SECRET_PARAM)"
VAPID_PARAM="$(stage_setting CHAT_VAPID_PRIVATE_KEY_PARAM)"
mkdir -p "$OUT"
"$PYTHON" -m infra.merge_template --stage "$STAGE" "$OUT/merge.json"
rm -rf "$OUT/package"
"$CHALICE" package --stage "$STAGE" --merge-template "$OUT/merge.json" "$OUT/package"
"$PYTHON" -m infra.merge_template --check "$OUT/package/sam.json"

cat <<NEXT
Packaged stage $STAGE into $OUT/package (sam.json + deployment.zip). To deploy (the template is
over the 51,200 bytes CloudFormation takes inline, so deploy uploads it to the bucket too):

  aws s3 mb s3://YOUR-BUCKET        # once: where CloudFormation uploads the code
  aws cloudformation package --template-file $OUT/package/sam.json \\
      --s3-bucket YOUR-BUCKET --output-template-file $OUT/packaged.yaml
  aws cloudformation deploy --template-file $OUT/packaged.yaml --s3-bucket YOUR-BUCKET \\
      --stack-name chat-backend-$STAGE --capabilities CAPABILITY_IAM \\
      --parameter-overrides TablePrefix=chat-$STAGE AttachmentsAllowedOrigin=https://YOUR-WEB-PAGE

(AttachmentsAllowedOrigin: the origin the web page is served from, the only one whose browsers
may upload and download attachments; leave it out for no browser uploads.)

Push to phones needs the SNS platform applications' ARNs as well (docs/deploy.md):
  ApnsPlatformApplicationArn=arn:aws:sns:REGION:ACCOUNT:app/APNS/chat-$STAGE-apns
  FcmPlatformApplicationArn=arn:aws:sns:REGION:ACCOUNT:app/GCM/chat-$STAGE-fcm

Once per stage, before clients connect, the secrets the functions read from SSM (this stack
does not make them): the JWT secret your sign-in service signs tokens with, and the Web Push
VAPID key (the second command prints it: line 1 private, line 2 the public key for the page).

  aws ssm put-parameter --name $JWT_PARAM --type SecureString \\
      --value="\$(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')"
  .venv/bin/python -m infra.vapid_key new
  aws ssm put-parameter --name $VAPID_PARAM --type SecureString --value="PRIVATE-KEY"
NEXT
