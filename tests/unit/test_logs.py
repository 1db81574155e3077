"""lockgate.logs: every line about an event starts with its id."""

from __future__ import annotations

import logging

from lockgate.logs import get_logger, tag_prefix


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
