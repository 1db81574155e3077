"""lockgate.logs: every line about an event starts with its id."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest
from lockgate.logs import JsonFormatter, get_logger, log_format, tag_prefix
from lockgate.service_config import ServiceConfig, ServiceConfigError


def test_prefix_puts_the_event_first_and_skips_empty_tags():
    assert tag_prefix("e1", build="b1", item=None) == "[e: e1] [build: b1] "
    assert tag_prefix(None) == ""


def test_logger_prefixes_and_binds(caplog):
    caplog.set_level(logging.INFO, logger="lockgate.test")
    log = get_logger("lockgate.test", "3f2a", item="i1")
    log.info("enqueued %s", "org/app")
    log.bind(build="b9").warning("retried")
    first, second = caplog.records
    assert first.getMessage() == "[e: 3f2a] [item: i1] enqueued org/app"
    assert first.event_id == "3f2a"
    assert second.getMessage() == "[e: 3f2a] [item: i1] [build: b9] retried"


# --- JSON lines ---------------------------------------------------------------------------


@pytest.fixture
def json_lines() -> Iterator[Callable[[], list[dict]]]:  # type: ignore[type-arg]
    """The lines of ``lockgate.test.*`` loggers as JsonFormatter writes them."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("lockgate.test")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    logger.removeHandler(handler)
    logger.setLevel(logging.NOTSET)


def test_json_lines_carry_the_event_id_and_tags_as_keys(json_lines):
    get_logger("lockgate.test.json", "3f2a", build="b1").info("started [not a tag]")
    [line] = json_lines()
    assert line["event_id"] == "3f2a"
    assert line["build"] == "b1"
    assert line["message"] == "started [not a tag]"
    assert (line["level"], line["logger"]) == ("INFO", "lockgate.test.json")
    assert line["time"].endswith("+00:00")


def test_json_lines_read_tags_written_by_hand_and_tracebacks(json_lines):
    logger = logging.getLogger("lockgate.test.hand")
    logger.warning("[e: 77aa] [item: i1] reconfigured")
    logger.warning("no event here")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logger.exception("[e: 88bb] failed")
    first, second, third = json_lines()
    assert (first["event_id"], first["item"], first["message"]) == ("77aa", "i1", "reconfigured")
    assert second["event_id"] is None and second["message"] == "no event here"
    assert third["event_id"] == "88bb" and "RuntimeError: boom" in third["exception"]


def test_the_log_format_comes_from_the_service_config():
    def parse(text: str) -> ServiceConfig:
        return ServiceConfig.parse(f"[zookeeper]\nhosts = zk:2181\n{text}", "/etc/l.conf")

    assert log_format(parse("")) == "text"
    assert log_format(parse("[logging]\nformat = JSON\n")) == "json"
    with pytest.raises(ServiceConfigError, match=r"\[logging\] format: expected one of text, json"):
        log_format(parse("[logging]\nformat = xml\n"))


def test_a_component_logs_json_lines_when_told(tmp_path):
    """The command line switches to JSON once it has read the service config."""
    conf = tmp_path / "lockgate.conf"
    conf.write_text(
        "[zookeeper]\nhosts = 127.0.0.1:1\n[logging]\nformat = json\n"
        "[tracing]\nenabled = true\n[launcher]\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "lockgate.cli", "-c", str(conf), "launcher"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr  # no [provider NAME]: its own error
    logged = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    [ignored] = [line for line in logged if "[tracing] enabled: ignored" in line["message"]]
    assert ignored["level"] == "WARNING" and ignored["logger"] == "lockgate"
