"""p13n's benchmark: the personalize path measured against the floor of its own stack.

``python -m bench.run`` (``make bench``) starts the suite with ``p13n up`` on a temporary
data directory, loads a realistic configuration through the admin API, preloads profiles
through the Ingest API, and drives with wrk: F1 (Envoy answering directly), F2 (Envoy ->
transcoder -> a trivial grpc.aio handler), F2h (the same request over HTTP/1.1 to a trivial
Python HTTP handler: what the gRPC hop costs), F3 (F2 plus ext_authz), F3r (F3 with the real
auth service), T (F3r relaying to the real profile service) and P (the real public
personalize path), in one run on one machine. See docs/performance.md.
"""
