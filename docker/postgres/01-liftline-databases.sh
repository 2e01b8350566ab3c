#!/usr/bin/env bash
# Run by the postgres image on the first start of an empty data volume only: one login role
# and one database it owns for Airflow's metadata, and the same for the Liftline warehouse.
# Names and passwords come from .env through docker-compose.yaml; psql binds them as variables.
set -euo pipefail

create_owned_database() {  # name, owner, password
  psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER}" --dbname postgres \
    -v db="$1" -v owner="$2" -v password="$3" <<'SQL'
CREATE ROLE :"owner" LOGIN PASSWORD :'password';
CREATE DATABASE :"db" OWNER :"owner";
SQL
}

create_owned_database "${AIRFLOW_DB_NAME:-airflow}" "${AIRFLOW_DB_USER:-airflow}" \
  "${AIRFLOW_DB_PASSWORD:?}"
create_owned_database "${LIFTLINE_DB_NAME:-liftline}" "${LIFTLINE_DB_USER:-liftline}" \
  "${LIFTLINE_DB_PASSWORD:?}"
