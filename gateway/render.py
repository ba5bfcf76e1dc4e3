"""Renders gateway/envoy.yaml.tmpl for one machine (`p13n up`) or for Kubernetes.

The template says shared pieces once with YAML anchors; Envoy refuses unknown top-level
keys, so the renderer resolves the anchors, drops the ``x-`` blocks that held them, adds
the generated parts (status mappers, clusters) and writes JSON.
"""

from __future__ import annotations

import json
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from gateway import balancing, console, probes, public_path, timing_log
from gateway.capacity import Capacity
from services.auth.authz import BODY_TOO_LARGE
from services.auth.ext_authz import CLIENT_ADDRESS_HEADER
from services.auth.grpc_door import GRPC_CONTENT_TYPE
from services.common.pki import CA_FILE, CERT_FILE, KEY_FILE, server_name, spiffe_id
from services.common.status_codes import code_for_http_status

if TYPE_CHECKING:
    from services.common.config import Settings
    from services.common.replicas import Layout

TEMPLATE = Path(__file__).with_name("envoy.yaml.tmpl")
_HTTP_OPTIONS_TYPE = "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
DESCRIPTOR = Path(__file__).resolve().parent.parent / "services" / "_gen" / "p13n.binpb"
# Where deploy/base/gateway.yaml mounts the gateway's Secret and its ConfigMap. The
# ConfigMap carries the descriptor set beside envoy.json (gateway/descriptor.py), so a
# configuration and the descriptor it was rendered for roll out together.
KUBERNETES_CERT_DIR = Path("/var/run/p13n/tls")
KUBERNETES_CONFIG_DIR = Path("/etc/p13n")
DESCRIPTOR_FILE = "p13n.binpb"
KUBERNETES_DESCRIPTOR = KUBERNETES_CONFIG_DIR / DESCRIPTOR_FILE
# The API reference the admin listener serves at /v1/openapi.json. On Kubernetes the gateway's
# image carries it (deploy/images/gateway.Dockerfile): the ConfigMap has no room for it.
OPENAPI = Path(__file__).resolve().parent.parent / "docs" / "openapi.json"
KUBERNETES_OPENAPI = Path("/usr/share/p13n/openapi.json")
OPENAPI_MAX_BYTES = 1024 * 1024

# HTTP status of a local reply → message override or None; the google.rpc.Code its JSON
# body carries comes from the suite's one table (services.common.status_codes).
# Overrides replace Envoy's terse texts with something a developer can act on.
LOCAL_REPLY_MESSAGES: dict[int, str | None] = {
    400: None,
    401: None,
    403: None,
    404: "Unknown path or method; see the API reference: GET /v1/openapi.json on the admin listener, or docs/api.md",
    405: None,
    408: "The request took too long to arrive",
    413: BODY_TOO_LARGE,
    415: None,
    429: "Too many requests; slow down and retry later",
    431: "Request headers too large",
    500: "Internal error",
    502: "A p13n service is unavailable; retry shortly",
    503: "A p13n service is unavailable; retry shortly",
    504: "A p13n service did not answer in time; retry shortly",
}


# Headers a local reply of that status carries. Envoy's own 429s are the per-address limit's
# (the auth service's refusals keep the headers it set); its bucket refills within a second.
LOCAL_REPLY_HEADERS: dict[int, dict[str, str]] = {429: {"retry-after": "1"}}


@dataclass(frozen=True)
class Upstream:
    """Where one process of a service listens, as Envoy should reach it."""

    host: str
    port: int


def replicas(host: str, ports: tuple[int, ...]) -> tuple[Upstream, ...]:
    """Every replica of a service on ``host``."""
    return tuple(Upstream(host, port) for port in ports)


@dataclass(frozen=True)
class GatewayTls:
    """Where the gateway's certificate is, and where the SDS files that point at it go.

    Envoy reads the certificate and the CA through file-based SDS with a watched
    directory: when the files are replaced (``p13n up`` renewing, or a rotated Kubernetes
    Secret swapping its mount's ``..data`` symlink), Envoy loads them for new upstream
    connections without a restart.
    """

    cert_dir: Path  # tls.crt, tls.key, ca.crt: the gateway's Secret
    # Where the two SDS files are: a directory nothing else writes to. Envoy watches the
    # directory of each SDS file (inotify), and every write to any file in it wakes
    # Envoy's main thread; in the data directory that was each SQLite write.
    sds_dir: Path


# The SDS files' directory under the data directory of `p13n up` (``on_one_machine``).
SDS_DIR_NAME = "gateway-sds"


SDS_CERT_FILE = "sds-certificate.json"
SDS_CA_FILE = "sds-ca.json"
_SECRET_TYPE = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret"
_UPSTREAM_TLS_TYPE = (
    "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext"
)


@dataclass(frozen=True)
class GatewayConfig:
    """Everything the template needs."""

    bind_host: str
    data_port: int
    admin_port: int
    envoy_admin_port: int
    # One endpoint per replica of the service (``p13n up --replicas N``).
    auth: tuple[Upstream, ...]
    profile: tuple[Upstream, ...]
    offers: tuple[Upstream, ...]
    descriptor: Path = DESCRIPTOR
    openapi: Path = OPENAPI
    # Where Envoy reads the console's built files (gateway/console.py).
    console: Path = console.DIST
    # None only for the benchmark's loopback comparison without internal TLS.
    tls: GatewayTls | None = None
    capacity: Capacity = field(default_factory=Capacity)
    # Proxies in front of Envoy that each append the address they saw to X-Forwarded-For
    # (a load balancer, a Gateway API implementation): the client address that the
    # per-address limits and the auth service's allow-lists use is the one the outermost
    # of them appended; entries a client sent itself are never read.
    trusted_hops: int = 0
    # Kubernetes: the kubelet's listener (gateway/probes.py); None on one machine.
    probe_port: int | None = None
    drain_hold_seconds: int = probes.DRAIN_HOLD_SECONDS
    # Each upstream name may stand for several pods (a headless Service): health checks,
    # outlier detection and retries as for several replicas (gateway/balancing.py).
    replicated: bool = False
    # The single-process mode: the browser path goes to the process on this Unix socket,
    # which decides it as it serves it (gateway/public_path.py). None: ext_authz does.
    browser_socket: Path | None = None
    # Where Envoy writes each data-plane request's timings (gateway/timing_log.py); None: off.
    timing_log: Path | None = None

    @classmethod
    def on_one_machine(
        cls,
        settings: Settings,
        capacity: Capacity | None = None,
        layout: Layout | None = None,
        single_process: bool = False,
    ) -> GatewayConfig:
        """`p13n up` and the tests: every service on loopback at its configured port, or
        every replica at its port in ``layout``; with ``single_process`` (the three services
        in one process) the browser path is decided where it is served."""
        ports = (
            layout.ports
            if layout is not None
            else {
                "auth": (settings.auth_port,),
                "profile": (settings.profile_port,),
                "offers": (settings.offers_port,),
            }
        )
        return cls(
            capacity=capacity or Capacity(),
            bind_host=settings.bind_host,
            data_port=settings.data_port,
            admin_port=settings.admin_port,
            envoy_admin_port=settings.envoy_admin_port,
            auth=replicas("127.0.0.1", ports["auth"]),
            profile=replicas("127.0.0.1", ports["profile"]),
            offers=replicas("127.0.0.1", ports["offers"]),
            tls=(
                GatewayTls(settings.tls_dir("gateway"), settings.data_dir / SDS_DIR_NAME)
                if settings.internal_tls
                else None
            ),
            browser_socket=settings.browser_socket if single_process else None,
            timing_log=settings.gateway_timing_log,
        )

    @classmethod
    def on_kubernetes(cls, trusted_hops: int = 0) -> GatewayConfig:
        """deploy/: listen on every interface, reach every pod of each service through its
        headless Service's name, answer the kubelet on the probe port."""
        if trusted_hops < 0:
            raise ValueError(f"trusted hops must be 0 or more, not {trusted_hops}")
        return cls(
            bind_host="0.0.0.0",
            data_port=8080,
            admin_port=8081,
            envoy_admin_port=9901,
            auth=(Upstream("p13n-auth", 50051),),
            profile=(Upstream("p13n-profile", 50052),),
            offers=(Upstream("p13n-offers", 50053),),
            descriptor=KUBERNETES_DESCRIPTOR,
            openapi=KUBERNETES_OPENAPI,
            console=console.KUBERNETES_DIST,
            tls=GatewayTls(KUBERNETES_CERT_DIR, KUBERNETES_CONFIG_DIR),
            trusted_hops=trusted_hops,
            probe_port=probes.PROBE_PORT,
            replicated=True,
        )


def _status_mapper(status: int, code: int, message: str | None) -> dict[str, Any]:
    mapper: dict[str, Any] = {
        "filter": {
            "status_code_filter": {
                "comparison": {
                    "op": "EQ",
                    "value": {"default_value": status, "runtime_key": f"p13n.status_{status}"},
                }
            }
        },
        "body_format_override": {"json_format": {"code": code, "message": "%LOCAL_REPLY_BODY%"}},
    }
    if message:
        mapper["body"] = {"inline_string": message}
    if status in LOCAL_REPLY_HEADERS:
        mapper["headers_to_add"] = _headers(LOCAL_REPLY_HEADERS[status])
    return mapper


def _headers(headers: dict[str, str]) -> list[dict[str, Any]]:
    return [
        {"header": {"key": key, "value": value}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}
        for key, value in headers.items()
    ]


# Set by the template's p13n.mark_grpc_clients filter on a native gRPC call.
_GRPC_CLIENT = {
    "metadata_filter": {
        "matcher": {
            "filter": "p13n",
            "path": [{"key": "grpc_client"}],
            "value": {"bool_match": True},
        },
        # Envoy's default matches a request without the key.
        "match_if_key_not_found": False,
    }
}


def _for_grpc_clients(mapper: dict[str, Any]) -> dict[str, Any]:
    """A JSON mapper's reply as a native gRPC client reads it: Envoy keeps this grpc-status
    (instead of guessing one from the HTTP status) and sends the body as grpc-message."""
    code = mapper["body_format_override"]["json_format"]["code"]
    grpc_mapper: dict[str, Any] = {
        "filter": {"and_filter": {"filters": [_GRPC_CLIENT, mapper["filter"]]}},
        "headers_to_add": _headers({"grpc-status": str(code)}),
    }
    if "body" in mapper:
        grpc_mapper["body"] = mapper["body"]
    return grpc_mapper


def _sds(name: str, path: Path) -> dict[str, Any]:
    return {
        "name": name,
        "sds_config": {"path_config_source": {"path": str(path)}, "resource_api_version": "V3"},
    }


def upstream_tls(service: str, tls: GatewayTls) -> dict[str, Any]:
    """Mutual TLS to ``service``: the gateway's certificate, p13n's CA, the server's name."""
    return {
        "name": "envoy.transport_sockets.tls",
        "typed_config": {
            "@type": _UPSTREAM_TLS_TYPE,
            "sni": server_name(service),
            "common_tls_context": {
                "alpn_protocols": ["h2"],
                # TLS 1.3 only: Envoy's upstream default is at most 1.2, and every peer on
                # this plane is p13n's own (grpcio's servers speak 1.3), so nothing older is
                # needed and no handshake can be steered down to it.
                "tls_params": {
                    "tls_minimum_protocol_version": "TLSv1_3",
                    "tls_maximum_protocol_version": "TLSv1_3",
                },
                "tls_certificate_sds_secret_configs": [
                    _sds("gateway_certificate", tls.sds_dir / SDS_CERT_FILE)
                ],
                "combined_validation_context": {
                    "default_validation_context": {
                        "match_typed_subject_alt_names": [
                            {"san_type": "URI", "matcher": {"exact": spiffe_id(service)}}
                        ]
                    },
                    "validation_context_sds_secret_config": _sds(
                        "p13n_ca", tls.sds_dir / SDS_CA_FILE
                    ),
                },
            },
        },
    }


def sds_files(tls: GatewayTls) -> dict[str, str]:
    """The two SDS files (name in ``tls.sds_dir`` to JSON text) the clusters point at."""
    watched = {"path": str(tls.cert_dir)}
    certificate = {
        "@type": _SECRET_TYPE,
        "name": "gateway_certificate",
        "tls_certificate": {
            "certificate_chain": {"filename": str(tls.cert_dir / CERT_FILE)},
            "private_key": {"filename": str(tls.cert_dir / KEY_FILE)},
            "watched_directory": watched,
        },
    }
    authority = {
        "@type": _SECRET_TYPE,
        "name": "p13n_ca",
        "validation_context": {
            "trusted_ca": {"filename": str(tls.cert_dir / CA_FILE)},
            "watched_directory": watched,
        },
    }
    return {
        SDS_CERT_FILE: json.dumps({"resources": [certificate]}, indent=1),
        SDS_CA_FILE: json.dumps({"resources": [authority]}, indent=1),
    }


def write(config: GatewayConfig, path: Path) -> None:
    """Writes the Envoy configuration to ``path`` and its SDS files where it says."""
    if config.tls is not None:
        config.tls.sds_dir.mkdir(parents=True, exist_ok=True)
        for name, text in sds_files(config.tls).items():
            (config.tls.sds_dir / name).write_text(text)
    path.write_text(render(config))


def _several(config: GatewayConfig) -> bool:
    """Whether any service may have several endpoints behind its cluster."""
    return config.replicated or max(len(config.auth), len(config.profile), len(config.offers)) > 1


def _cluster(name: str, upstreams: tuple[Upstream, ...], config: GatewayConfig) -> dict[str, Any]:
    cluster = _plain_cluster(name, upstreams)
    if config.tls is not None:
        cluster["transport_socket"] = upstream_tls(name, config.tls)
    return balancing.balanced(cluster) if config.replicated or len(upstreams) > 1 else cluster


def _plain_cluster(name: str, upstreams: tuple[Upstream, ...]) -> dict[str, Any]:
    return {
        "name": name,
        # STRICT_DNS (every address an endpoint) in its current, typed form. A headless
        # Service's name resolves to every ready pod: a new pod gets requests within the
        # refresh plus the cluster DNS's TTL (CoreDNS: 5 s), a gone one leaves as soon as
        # its health checks fail. Envoy's default refresh is 5 s.
        "cluster_type": {
            "name": "envoy.cluster.dns",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.clusters.dns.v3.DnsCluster",
                "all_addresses_in_single_endpoint": False,
                "dns_lookup_family": "V4_PREFERRED",
                "dns_refresh_rate": DNS_REFRESH_RATE,
                "respect_dns_ttl": False,
            },
        },
        "connect_timeout": "0.25s",
        "typed_extension_protocol_options": {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": _HTTP_OPTIONS_TYPE,
                "explicit_http_config": {"http2_protocol_options": {}},
            }
        },
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [
                {
                    "lb_endpoints": [
                        {
                            "endpoint": {
                                "address": {
                                    "socket_address": {
                                        "address": upstream.host,
                                        "port_value": upstream.port,
                                    }
                                }
                            }
                        }
                        for upstream in upstreams
                    ]
                }
            ],
        },
    }


DNS_REFRESH_RATE = "2s"


def build(config: GatewayConfig) -> dict[str, Any]:
    """The Envoy bootstrap configuration as a dict."""
    text = string.Template(TEMPLATE.read_text()).substitute(
        ENVOY_ADMIN_PORT=config.envoy_admin_port,
        BIND_HOST=config.bind_host,
        DATA_PORT=config.data_port,
        ADMIN_PORT=config.admin_port,
        DESCRIPTOR=str(config.descriptor),
        OPENAPI=str(config.openapi),
        OPENAPI_MAX_BYTES=OPENAPI_MAX_BYTES,
        GRPC_CONTENT_TYPE=GRPC_CONTENT_TYPE,
        MAX_CONNECTIONS=config.capacity.max_connections,
        ADMIN_CONNECTIONS=config.capacity.admin_connections,
        BURST=config.capacity.burst,
        TOKENS_PER_FILL=config.capacity.tokens_per_fill(),
        FILL_INTERVAL=f"{config.capacity.fill_interval():.6f}s",
        TRACKED_ADDRESSES=config.capacity.tracked_addresses,
        MAX_STREAMS=config.capacity.max_streams,
        HELD_REQUESTS=config.capacity.held_requests,
        MAX_HEAP_BYTES=config.capacity.max_heap_mib * 1024 * 1024,
        TRUSTED_HOPS=config.trusted_hops,
        CLIENT_ADDRESS_HEADER=CLIENT_ADDRESS_HEADER,
    )
    document = yaml.safe_load(text)
    local_reply = document["x-local-reply"]
    json_mappers = local_reply["mappers"] + [
        _status_mapper(status, code_for_http_status(status), message)
        for status, message in LOCAL_REPLY_MESSAGES.items()
    ]
    # The first mapper that matches wins: each JSON one is preceded by its gRPC form; the
    # template's passthrough of ext_authz refusals (no JSON format: the auth service wrote
    # them for the client that asked) stays as it is.
    local_reply["mappers"] = [
        form
        for mapper in json_mappers
        for form in (
            [_for_grpc_clients(mapper), mapper] if "body_format_override" in mapper else [mapper]
        )
    ]
    bootstrap = {key: value for key, value in document.items() if not key.startswith("x-")}
    static = bootstrap["static_resources"]
    static["clusters"] = [
        _cluster("auth", config.auth, config),
        _cluster("profile", config.profile, config),
        _cluster("offers", config.offers, config),
    ]
    _admin_routes(bootstrap)[-1:-1] = console.routes(config.console, OPENAPI_MAX_BYTES)
    if config.browser_socket is not None:
        public_path.apply(bootstrap, _manager(bootstrap, "data_plane"), config.browser_socket)
    if config.timing_log is not None:
        _manager(bootstrap, "data_plane")["access_log"] = timing_log.access_log(config.timing_log)
    if _several(config):
        _retry_where_unreceived(bootstrap)
    if config.probe_port is not None:
        static["listeners"].append(
            probes.listener(config.bind_host, config.probe_port, config.drain_hold_seconds)
        )
        static["clusters"].append(probes.admin_cluster(config.envoy_admin_port))
    return bootstrap


def _manager(bootstrap: dict[str, Any], name: str) -> dict[str, Any]:
    """The HTTP connection manager of listener ``name``."""
    [listener] = [
        listener
        for listener in bootstrap["static_resources"]["listeners"]
        if listener["name"] == name
    ]
    manager: dict[str, Any] = listener["filter_chains"][0]["filters"][-1]["typed_config"]
    return manager


def _admin_routes(bootstrap: dict[str, Any]) -> list[dict[str, Any]]:
    """The admin listener's routes; the last is the catch-all 404."""
    [host] = _manager(bootstrap, "admin_api")["route_config"]["virtual_hosts"]
    routes: list[dict[str, Any]] = host["routes"]
    return routes


def _retry_where_unreceived(bootstrap: dict[str, Any]) -> None:
    """Every virtual host and every ext_authz call retries, on another replica, a request
    that none received (``gateway.balancing``)."""
    for listener in bootstrap["static_resources"]["listeners"]:
        manager = listener["filter_chains"][0]["filters"][-1]["typed_config"]
        for host in manager["route_config"]["virtual_hosts"]:
            host["retry_policy"] = balancing.retry_policy()
        for http_filter in manager["http_filters"]:
            service = http_filter["typed_config"].get("grpc_service")
            if service is not None:
                # The template's anchors make one dict shared by both listeners: set once.
                service["envoy_grpc"]["retry_policy"] = balancing.retry_policy()


def render(config: GatewayConfig) -> str:
    """The Envoy configuration as JSON text."""
    return json.dumps(build(config), indent=1)
