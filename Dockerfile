# Liftline's Airflow image: the official image of the Airflow version requirements.txt pins
# (tests/deploy checks the two agree), plus the project's pinned requirements and the liftline
# package. Built by `docker compose build`; see README "Run in production".
FROM apache/airflow:3.3.2-python3.11

USER root
# LightGBM's wheel links the system's OpenMP runtime. /opt/liftline is LIFTLINE_HOME (a named
# volume copies this folder's owner when first mounted); group 0 lets any AIRFLOW_UID write.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && apt-get autoremove -yqq --purge \
    && apt-get clean \
    && rm -rf /var/lib/apt/lists/* \
    && install -d -o airflow -g 0 -m 2775 /opt/liftline /opt/liftline/landing

USER airflow
# requirements.txt is one set tested together, so it is installed as is rather than under
# Airflow's constraints file (which pins several of the same packages to other versions);
# naming the image's own apache-airflow keeps pip from ever moving Airflow itself.
COPY --chown=airflow:0 requirements.txt /tmp/liftline-requirements.txt
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" \
        -r /tmp/liftline-requirements.txt

# The package, editable from /opt/airflow/include: the checkout compose mounts there is the
# code that runs, and `liftline` (the CLI) is on PATH. settings.project_root() is then
# /opt/airflow, where dags/, models/ and expectations/ sit. PYTHONPATH as well, because the
# editable install's .pth file lives in the airflow user's site-packages, which Python does not
# read for root (airflow-init runs as root).
WORKDIR /opt/airflow
COPY --chown=airflow:0 pyproject.toml README.md ./
COPY --chown=airflow:0 include ./include
RUN pip install --no-cache-dir --no-deps -e .
COPY --chown=airflow:0 dags ./dags
COPY --chown=airflow:0 plugins ./plugins
COPY --chown=airflow:0 models ./models
COPY --chown=airflow:0 expectations ./expectations
COPY --chown=airflow:0 docker ./docker

ENV PYTHONPATH=/opt/airflow/include \
    LIFTLINE_HOME=/opt/liftline
