#!/bin/sh
# One-shot job (minio/mc image): create the drop bucket and MLflow's artifact bucket, and the
# platform's own S3 user with read-write rights, so no service but this job holds MinIO's root key.
# Idempotent: safe on every `docker compose up`.
set -eu
mc alias set hokusai http://minio:9000 "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null
mc mb --ignore-existing "hokusai/$HOKUSAI_S3_BUCKET" "hokusai/$MLFLOW_ARTIFACTS_BUCKET" "hokusai/$HOKUSAI_IO_BUCKET"
mc admin user add hokusai "$HOKUSAI_S3_ACCESS_KEY" "$HOKUSAI_S3_SECRET_KEY"
mc admin policy attach hokusai readwrite --user "$HOKUSAI_S3_ACCESS_KEY" 2>/dev/null || true  # already attached
echo "buckets $HOKUSAI_S3_BUCKET, $MLFLOW_ARTIFACTS_BUCKET and $HOKUSAI_IO_BUCKET ready"
