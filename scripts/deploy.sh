#!/usr/bin/env bash
# make deploy: upload the zips `make package` built and deploy the stack
# with the AWS CLI (docs/deploy.md):
#   aws cloudformation package  -> dist/packaged.yaml (CodeUri → s3://BUCKET/…)
#   aws cloudformation deploy   -> creates or updates the stack STACK
#
# Environment (or make variables):
#   STACK   stack name (required)
#   BUCKET  S3 bucket in the stack's region for the zips (required)
#   PARAMS  parameter file, one Key=Value per line, # comments
#           (default infra/parameters.env; see infra/parameters.example.env)
#   REGION  AWS region (default: the CLI's, AWS_REGION / profile)
#   PREFIX  S3 key prefix (default streamer/STACK)
#   ROLE_ARN  CloudFormation service role to deploy with (then the caller
#           needs only the CloudFormation, S3 and iam:PassRole permissions)
#   NO_EXECUTE=1  create the change set only, to review it
set -euo pipefail
cd "$(dirname "$0")/.."
: "${STACK:?set STACK, the CloudFormation stack name (make deploy STACK=streamer-prod BUCKET=...)}"
: "${BUCKET:?set BUCKET, an S3 bucket in the region of the stack, for the function zips}"
PARAMS=${PARAMS:-infra/parameters.env}
PREFIX=${PREFIX:-streamer/$STACK}
command -v aws >/dev/null || { echo "deploy: the AWS CLI (aws) is missing" >&2; exit 1; }
[ -f "$PARAMS" ] || { echo "deploy: no parameter file $PARAMS: copy infra/parameters.example.env and fill it in" >&2; exit 1; }
for dir in lambdas/*/; do
  zip="dist/lambdas/$(basename "$dir").zip"
  [ -f "$zip" ] || { echo "deploy: $zip is missing: run make package" >&2; exit 1; }
done

overrides=()
while IFS= read -r line || [ -n "$line" ]; do
  line=${line%$'\r'}
  case "$line" in ''|'#'*) continue ;; esac
  case "$line" in *=*) ;; *) echo "deploy: $PARAMS: not Key=Value: $line" >&2; exit 1 ;; esac
  overrides+=("$line")
done <"$PARAMS"

region=()
if [ -n "${REGION:-}" ]; then region=(--region "$REGION"); fi

aws "${region[@]}" cloudformation package \
  --template-file infra/template.yaml \
  --s3-bucket "$BUCKET" --s3-prefix "$PREFIX" \
  --output-template-file dist/packaged.yaml

extra=()
if [ "${NO_EXECUTE:-}" = 1 ]; then extra+=(--no-execute-changeset); fi
if [ -n "${ROLE_ARN:-}" ]; then extra+=(--role-arn "$ROLE_ARN"); fi
if [ ${#overrides[@]} -gt 0 ]; then extra+=(--parameter-overrides "${overrides[@]}"); fi

aws "${region[@]}" cloudformation deploy \
  --template-file dist/packaged.yaml \
  --stack-name "$STACK" \
  --capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND \
  --no-fail-on-empty-changeset \
  "${extra[@]}"

if [ "${NO_EXECUTE:-}" = 1 ]; then exit 0; fi
aws "${region[@]}" cloudformation describe-stacks --stack-name "$STACK" \
  --query 'Stacks[0].Outputs[].[OutputKey,OutputValue]' --output table
