"""``python -m lockgate.scheduler [-c FILE] [-d]``: the scheduler alone
(the same as ``lockgate scheduler``; tests start it this way to kill it)."""

from __future__ import annotations

import argparse
import os
import sys

from lockgate import logs
from lockgate.scheduler.server import main
from lockgate.service_config import DEFAULT_PATH, ServiceConfig, ServiceConfigError


def cli(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lockgate.scheduler")
    parser.add_argument("-c", "--config", default=os.environ.get("LOCKGATE_CONFIG", DEFAULT_PATH))
    parser.add_argument("-d", "--debug", action="store_true")
    args = parser.parse_args(argv)
    logs.configure(debug=args.debug)
    try:
        config = ServiceConfig.load(args.config)
        logs.configure(debug=args.debug, fmt=logs.log_format(config))
    except ServiceConfigError as e:
        print(f"lockgate scheduler: {e}", file=sys.stderr)
        return 2
    return main(config)


if __name__ == "__main__":
    sys.exit(cli())
