"""The entry point shape every service shares: parse config, report health, enter the
lifespan, serve until signalled, drain; leaving the lifespan stops the server and releases
the rest in reverse."""

from __future__ import annotations

import gc
import logging
import sys
from collections.abc import Callable

import uvloop

from services.common import files
from services.common.config import ConfigError, Settings
from services.common.lifecycle import Lifespan, ShutdownSignals, serve_until_signalled
from services.common.logs import configure_logging
from services.common.readiness import reporting
from services.common.tls import TlsFilesMissing

log = logging.getLogger(__name__)


def run_service(name: str, lifespan: Lifespan) -> None:
    """Runs one service process over ``lifespan``, its resources from store to server."""
    files.restrict_umask()
    try:
        settings = Settings.from_env()
    except ConfigError as error:
        print(f"p13n-{name}: configuration error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    configure_logging(name, settings.log_level)
    files.tighten_data_dir(settings.data_dir)
    if not settings.internal_tls:
        # Loopback only, but any process on this machine can then call every method.
        log.warning("P13N_INTERNAL_TLS=off: callers are not authenticated; for benchmarks only")

    try:
        uvloop.run(serve(name, lifespan, settings, _freeze_startup_objects))
    except (TlsFilesMissing, ConfigError) as error:  # before serving: a setting, not a crash
        print(f"p13n-{name}: configuration error: {error}", file=sys.stderr)
        raise SystemExit(2) from None


async def serve(
    name: str, lifespan: Lifespan, settings: Settings, settled: Callable[[], None] | None = None
) -> None:
    """Reports health, enters the lifespan, serves until signalled, drains, stops.

    The signals are caught from before start-up: one that arrives while the service starts
    then drains it once it serves, instead of killing it half-started. Health comes first:
    alive and not ready while the lifespan opens its store (migrations included), so a
    startup probe is answered, not refused; it stops last. ``settled`` runs once serving.
    """
    with ShutdownSignals() as signals:
        async with (
            reporting(settings, name) as reported,
            lifespan(settings, reported=reported) as running,
        ):
            await serve_until_signalled(running, settings.drain_seconds, settled, signals)


def _freeze_startup_objects() -> None:
    """Keeps what start-up made (modules, protobuf descriptors, grpc) out of collections.

    A full (generation 2) collection walks every tracked object; in a started service that
    is some 30,000 objects made at start-up and alive until exit, and the walk paused each
    service for 14 to 19 ms, on the request path, about every 30 s at 200 requests/s
    (``python -m bench.gcpauses``). Frozen, they are never walked again, and a full
    collection walks only what was made since. The thresholds stay Python's own.
    """
    gc.collect()
    gc.freeze()
