"""``python -m lockgate.scheduler [-c FILE] [-d]``: the scheduler alone
(the same as ``lockgate scheduler``; tests start it this way to kill it)."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from lockgate.scheduler.server import main
from lockgate.service_config import DEFAULT_PATH, ServiceConfig, ServiceConfigError

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lockgate.scheduler")
    parser.add_argument("-c", "--config", default=os.environ.get("LOCKGATE_CONFIG", DEFAULT_PATH))
    parser.add_argument("-d", "--debug", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.INFO, format=LOG_FORMAT, stream=sys.stderr
    )
    # kazoo's debug lines (one per request) would drown the scheduler's own.
    logging.getLogger("kazoo").setLevel(logging.INFO)
    try:
        config = ServiceConfig.load(args.config)
    except ServiceConfigError as e:
        print(f"lockgate scheduler: {e}", file=sys.stderr)
        return 2
    return main(config)


if __name__ == "__main__":
    sys.exit(cli())
