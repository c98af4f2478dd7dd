#!/usr/bin/env bash
# Path 1 (CloudFormation): package the app with the tables and the fan-out and push queues merged in,
# ready for `aws cloudformation package` + `deploy`. No AWS credentials needed for this step.
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
mkdir -p "$OUT"
"$PYTHON" -m infra.merge_template "$OUT/merge.json"
rm -rf "$OUT/package"
"$CHALICE" package --stage "$STAGE" --merge-template "$OUT/merge.json" "$OUT/package"
"$PYTHON" -m infra.merge_template --check "$OUT/package/sam.json"

cat <<NEXT
Packaged stage $STAGE into $OUT/package (sam.json + deployment.zip). To deploy:

  aws s3 mb s3://YOUR-BUCKET        # once: where CloudFormation uploads the code
  aws cloudformation package --template-file $OUT/package/sam.json \\
      --s3-bucket YOUR-BUCKET --output-template-file $OUT/packaged.yaml
  aws cloudformation deploy --template-file $OUT/packaged.yaml \\
      --stack-name chat-backend-$STAGE --capabilities CAPABILITY_IAM \\
      --parameter-overrides TablePrefix=chat-$STAGE

Push to phones needs the SNS platform applications' ARNs as well (docs/deploy.md):
  ApnsPlatformApplicationArn=arn:aws:sns:REGION:ACCOUNT:app/APNS/chat-$STAGE-apns
  FcmPlatformApplicationArn=arn:aws:sns:REGION:ACCOUNT:app/GCM/chat-$STAGE-fcm
NEXT
