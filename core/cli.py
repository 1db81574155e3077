"""The ``lockgate`` command: one entry point for every process and tool.

``lockgate [-c FILE] scheduler|executor|launcher|web`` runs one component;
``lockgate merger`` runs a process that only serves merge requests (the
executor's merge half, ``lockgate.executor.merger_main``);
``lockgate up`` runs a whole system on this machine (``lockgate.up``);
``lockgate console UUID`` follows a running build's console through the web
(``lockgate.web.console_client``);
``lockgate client VERB`` sends admin actions (enqueue, dequeue, promote,
autohold...) to the web with a token, and ``lockgate create-auth-token``
makes one for an HS256 realm (``lockgate.client``);
``lockgate config check`` validates configuration offline
(``lockgate.config.check``); ``lockgate keys export|import`` and ``lockgate
encrypt`` handle project keys and secrets (``lockgate.keys.cli``).
Components are imported by name only when asked for, so the command line
does not tie the four processes together.

A bad service config is one line on stderr and exit status 2, never a
traceback (the contract in doc/operating.md).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from lockgate import client as admin_client
from lockgate import logs
from lockgate.keys import cli as keys_cli
from lockgate.service_config import DEFAULT_PATH, ServiceConfig, ServiceConfigError
from lockgate.service_keys import ignored_settings

COMPONENTS = ("scheduler", "executor", "launcher", "web", "merger")
# Where each component's ``main(config)`` lives, when not ``lockgate.NAME.server``.
MODULES = {"merger": "lockgate.executor.merger_main"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lockgate",
        description="Lockgate: project gating CI speaking Zuul's configuration language.",
    )
    parser.add_argument(
        "-c",
        "--config",
        default=os.environ.get("LOCKGATE_CONFIG", DEFAULT_PATH),
        help=f"service config file (default {DEFAULT_PATH}, or $LOCKGATE_CONFIG)",
    )
    parser.add_argument("-d", "--debug", action="store_true", help="log at DEBUG level")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMPONENTS:
        sub.add_parser(name, help=f"run the {name}")
    up = sub.add_parser("up", help="run a complete system on this machine")
    up.add_argument(
        "--state-dir",
        default=os.path.expanduser("~/.local/share/lockgate"),
        help="where ZooKeeper data, repositories, logs and the database live",
    )
    up.add_argument("--web-port", type=int, default=9000)
    up.add_argument("--listen", default="127.0.0.1", help="web listen address")
    up.add_argument(
        "--no-demo", action="store_true", help="do not create the demo repository and tenant"
    )
    up.add_argument(
        "--replicas",
        type=int,
        default=1,
        help="copies of each component (copy k's web on --web-port + k - 1)",
    )
    console = sub.add_parser("console", help="follow a running build's console (through the web)")
    console.add_argument("uuid", help="the build's uuid")
    console.add_argument("--url", help="the web's base URL (default: $LOCKGATE_URL or [web])")
    console.add_argument("--tenant", help="the build's tenant (default: the only one)")
    console.add_argument(
        "--auth-token", help="bearer token for a read-protected tenant ($LOCKGATE_AUTH_TOKEN)"
    )
    config = sub.add_parser("config", help="configuration tools")
    config_sub = config.add_subparsers(dest="config_command", metavar="CONFIG_COMMAND")
    config_sub.add_parser("check", help="validate Zuul configuration offline", add_help=False)
    admin_client.add_parsers(sub)
    keys_cli.add_parsers(sub)
    return parser


def _global_config(before: list[str]) -> list[str]:
    """``-c FILE`` given before ``config check`` (``lockgate -c FILE config
    check ...``), as ``config check``'s own option; $LOCKGATE_CONFIG is not
    forwarded (config check reads a service config only when asked)."""
    for i, arg in enumerate(before):
        if arg in ("-c", "--config") and i + 1 < len(before):
            return ["-c", before[i + 1]]
        if arg.startswith("--config="):
            return ["-c", arg.split("=", 1)[1]]
        if arg.startswith("-c") and len(arg) > 2:
            return ["-c", arg[2:]]
    return []


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # ``config check`` owns its own arguments: hand it everything after "check".
    if (
        "config" in argv
        and argv.index("config") + 1 < len(argv)
        and argv[argv.index("config") + 1] == "check"
    ):
        from lockgate.config import check

        at = argv.index("config")
        return check.main(_global_config(argv[:at]) + argv[at + 2 :])
    parser = build_parser()
    args = parser.parse_args(argv)
    logs.configure(debug=args.debug)
    if args.command is None:
        parser.print_help()
        return 2
    if args.command == "config":
        parser.parse_args(["config", "--help"])
        return 2
    try:
        if args.command == "console":
            from lockgate.web import console_client

            return console_client.main(args)
        if args.command in ("client", "create-auth-token"):
            return admin_client.run(args)
        if args.command == "up":
            from lockgate.up import main as up_main

            return up_main(args)
        if args.command in ("keys", "encrypt"):
            return keys_cli.run(args)
        config = ServiceConfig.load(args.config)
        # [logging] format = json: one JSON object per line (lockgate.logs).
        logs.configure(debug=args.debug, fmt=logs.log_format(config))
        # zuul.conf keys with no effect here: said once, at start.
        for setting in ignored_settings(config, args.command):
            logging.getLogger("lockgate").warning("%s", setting)
        module = importlib.import_module(
            MODULES.get(args.command, f"lockgate.{args.command}.server")
        )
        return int(module.main(config))
    except ServiceConfigError as e:
        print(f"lockgate: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
