"""The demo shop as a process of its own, started and supervised by `p13n up --demo`."""

from __future__ import annotations

import signal
import sys

from services.common import files
from services.common.config import ConfigError, Settings
from services.common.logs import configure_logging
from services.demo.shop import PageConfig, ShopServer, page_config_path
from services.demo.state import load_shop_secret


def main() -> None:
    files.restrict_umask()
    try:
        settings = Settings.from_env()
    except ConfigError as error:
        print(f"p13n-demo-shop: configuration error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    configure_logging("demo-shop", settings.log_level)
    page = PageConfig.parse(page_config_path(settings.data_dir).read_text())
    server = ShopServer(
        settings.bind_host,
        settings.demo_port,
        page,
        identity_secret=load_shop_secret(settings.data_dir),
    )
    # SystemExit unwinds serve_forever() in this (main) thread; shutdown() would deadlock.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
