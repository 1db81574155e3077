"""Webhook signatures and delivery decoding."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from lockgate.drivers.github.webhook import (
    Delivery,
    DeliveryError,
    SignatureError,
    decode_delivery,
    sign,
    verify_signature,
)

BODY = b'{"action": "opened", "number": 1}'


def test_sign_is_githubs_hmac_sha256():
    expected = hmac.new(b"s3cret", BODY, hashlib.sha256).hexdigest()
    assert sign("s3cret", BODY) == f"sha256={expected}"


def test_good_signature_passes():
    verify_signature("s3cret", BODY, sign("s3cret", BODY))


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (None, "no X-Hub-Signature-256"),
        ("", "no X-Hub-Signature-256"),
        ("sha1=abc", "not 'sha256=<hex>'"),
        (sign("other", BODY), "does not match"),
        (sign("s3cret", BODY + b" "), "does not match"),
    ],
)
def test_bad_or_missing_signatures_are_refused(header, message):
    with pytest.raises(SignatureError, match=message):
        verify_signature("s3cret", BODY, header)


def test_a_connection_without_a_secret_refuses_everything():
    with pytest.raises(SignatureError, match="no webhook_token"):
        verify_signature(None, BODY, sign("", BODY))


HEADERS = {"X-GitHub-Event": "pull_request", "X-GitHub-Delivery": "72d3162e"}


def test_decode_delivery():
    d = decode_delivery("gh", HEADERS, BODY)
    assert (d.connection, d.event, d.delivery) == ("gh", "pull_request", "72d3162e")
    assert d.payload == {"action": "opened", "number": 1}
    assert Delivery.from_dict(d.to_dict()) == d


@pytest.mark.parametrize(
    ("headers", "body", "message"),
    [
        ({**HEADERS, "X-GitHub-Event": ""}, BODY, "no X-GitHub-Event"),
        ({"X-GitHub-Event": "push"}, BODY, "no X-GitHub-Delivery"),
        (HEADERS, b"not json", "not JSON"),
        (HEADERS, BODY[:20], "truncated"),
        (HEADERS, b"[1, 2]", "not an object"),
        (HEADERS, b"\xff\xfe", "not"),
    ],
)
def test_bad_deliveries_say_what_is_wrong(headers, body, message):
    with pytest.raises(DeliveryError, match=message):
        decode_delivery("gh", headers, body)
