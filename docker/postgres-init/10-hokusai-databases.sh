#!/bin/sh
# Run once by the postgres image on an empty data volume (docker-entrypoint-initdb.d):
# one role and one database each for Dagster, MLflow and the platform's ledger (lineage chains,
# claims outbox), so none holds the superuser.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "${POSTGRES_DB:-$POSTGRES_USER}" \
  -v dagster_user="$DAGSTER_PG_USER" -v dagster_password="$DAGSTER_PG_PASSWORD" -v dagster_db="$DAGSTER_PG_DB" \
  -v mlflow_user="$MLFLOW_DB_USER" -v mlflow_password="$MLFLOW_DB_PASSWORD" -v mlflow_db="$MLFLOW_DB_NAME" \
  -v ledger_user="$HOKUSAI_LEDGER_DB_USER" -v ledger_password="$HOKUSAI_LEDGER_DB_PASSWORD" \
  -v ledger_db="$HOKUSAI_LEDGER_DB_NAME" <<'SQL'
CREATE ROLE :"dagster_user" LOGIN PASSWORD :'dagster_password';
CREATE DATABASE :"dagster_db" OWNER :"dagster_user";
CREATE ROLE :"mlflow_user" LOGIN PASSWORD :'mlflow_password';
CREATE DATABASE :"mlflow_db" OWNER :"mlflow_user";
CREATE ROLE :"ledger_user" LOGIN PASSWORD :'ledger_password';
CREATE DATABASE :"ledger_db" OWNER :"ledger_user";
SQL
