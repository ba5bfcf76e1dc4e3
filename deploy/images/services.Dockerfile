# The image of the Python services (auth, profile, offers) and the p13n CLI; no Envoy (the
# gateway has its own image, gateway.Dockerfile). Build from the repository root:
#   docker build -f deploy/images/services.Dockerfile -t p13n-services:0.1.0 .
#
# The base is pinned by digest, so a rebuild starts from the same bytes until this file
# changes; both stages use the same one (the venv's interpreter is a link into it). The
# digest is python:3.11-slim as two unrelated public Dockerfiles pin it; check it against
# the registry before the first release (`docker buildx imagetools inspect python:3.11-slim`)
# and move it on purpose, like any other pin.

# Build: the package and its dependencies into a venv at the path the runtime keeps.
FROM python:3.11-slim@sha256:9c900dea9e8fb7e16277c179b555cc72d29a352dbc33cff48ad5a0412fd5bfc7 AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY services ./services
COPY gateway ./gateway
# Without the [gateway] extra: Envoy stays out. Then pip and setuptools leave the venv:
# nothing in the running image installs anything.
RUN python -m venv /opt/p13n \
 && /opt/p13n/bin/pip install --no-cache-dir . \
 && /opt/p13n/bin/pip uninstall --yes --quiet pip setuptools

# Run: the base, the venv, an unprivileged user, nothing else.
FROM python:3.11-slim@sha256:9c900dea9e8fb7e16277c179b555cc72d29a352dbc33cff48ad5a0412fd5bfc7
RUN useradd --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin p13n \
 && install -d -o 10001 -g 10001 -m 0700 /var/lib/p13n
COPY --from=build /opt/p13n /opt/p13n
# The manifests say the same (deploy/base/*.yaml); here for `docker run` alone.
ENV PATH=/opt/p13n/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    P13N_BIND_HOST=0.0.0.0 \
    P13N_DATA_DIR=/var/lib/p13n
WORKDIR /var/lib/p13n
# Numeric, so that the kubelet can check runAsNonRoot without reading /etc/passwd.
USER 10001:10001
CMD ["p13n", "--help"]
