#!/usr/bin/env bash
# airflow-init: what must hold before any Airflow service starts. Every step is idempotent, so
# it runs on each `docker compose up`: after an upgrade it applies the new migrations.
set -euo pipefail

# A secret still at its .env.example placeholder would start a stack anyone can log into.
placeholders=$(env | grep -- 'change-me' | cut -d= -f1 | sort | tr '\n' ' ' || true)
if [[ -n "${placeholders}" ]]; then
  echo "still set to a change-me placeholder: ${placeholders}- replace them in .env" >&2
  exit 1
fi

# Folders every service shares, owned by the user the services run as (group 0, as the
# official image expects). Not recursive: an earlier run already owns what it wrote.
uid="${AIRFLOW_UID:-50000}"
for dir in /opt/airflow/logs /opt/liftline /opt/liftline/landing; do
  install -d -o "${uid}" -g 0 -m 2775 "${dir}"
done

echo "migrating the metadata database of Airflow $(airflow version 2>/dev/null | tail -n 1)"
airflow db migrate

echo "roles (Analyst, Manager, Admin) and the first admin"
python /opt/airflow/docker/airflow_access.py

echo "Liftline warehouse: creating tables and applying migrations"
python -c 'from liftline.warehouse import create_schema, get_engine
print(f"warehouse at schema version {create_schema(get_engine())}")'
