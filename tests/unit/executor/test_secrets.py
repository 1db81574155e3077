"""A playbook's secrets as sealed in-memory files, and what gets masked."""

from __future__ import annotations

import json
import os
import stat

import pytest
import yaml
from lockgate.executor.secrets import (
    MASK,
    SANDBOX_VARS,
    SecretFiles,
    mask,
    mask_values,
    unsafe_yaml,
)


class _Loader(yaml.SafeLoader):
    pass


_Loader.add_constructor("!unsafe", lambda loader, node: ("UNSAFE", loader.construct_scalar(node)))


def test_every_string_value_is_unsafe_and_names_stay_plain():
    text = unsafe_yaml(
        {"creds": {"user": "bot", "token": "{{ x }}", "port": 22, "key": "l1\nl2\n", "l": ["a"]}}
    )
    assert yaml.load(text, Loader=_Loader) == {
        "creds": {
            "user": ("UNSAFE", "bot"),
            "token": ("UNSAFE", "{{ x }}"),
            "port": 22,
            "key": ("UNSAFE", "l1\nl2\n"),
            "l": [("UNSAFE", "a")],
        }
    }


def test_files_are_in_memory_readable_again_and_sealed():
    files = SecretFiles.open({"creds": {"token": "tok-123456"}}, ["tok-123456"], sandboxed=True)
    try:
        # In the sandbox, bubblewrap shows the descriptor's content at vars_path.
        assert str(files.vars_path) == SANDBOX_VARS
        assert files.data_files == [(files.vars_fd, SANDBOX_VARS)]
        assert files.shm_file is None
        for _ in range(2):  # readable more than once
            with open(f"/dev/fd/{files.vars_fd}") as f:
                assert "tok-123456" in f.read()
        with open(files.env["LOCKGATE_SECRET_MASK"]) as f:
            assert json.load(f) == ["tok-123456"]
        with pytest.raises(OSError):
            os.write(files.vars_fd, b"more")
        target = os.readlink(f"/proc/self/fd/{files.vars_fd}")
        assert target.startswith("/memfd:lockgate-secrets")
    finally:
        files.close()
    with pytest.raises(OSError):
        os.fstat(files.vars_fd)


def test_without_a_sandbox_the_file_is_in_memory_and_private_and_removed():
    files = SecretFiles.open({"creds": {"token": "tok-123456"}}, [], sandboxed=False)
    try:
        path = files.vars_path
        assert files.shm_file == path and files.data_files == []
        assert str(path).startswith("/dev/shm/lockgate-secrets-")
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert "tok-123456" in path.read_text()
    finally:
        files.close()
    assert not path.exists()


def test_mask_values_skip_short_ones_and_cover_lines_of_long_ones():
    key = "-----BEGIN KEY-----\nAAAABBBBCCCCDDDD\nEEEEFFFF\n-----END KEY-----\n"
    values = mask_values(["abc", "hunter22", key])
    assert "abc" not in values and "hunter22" in values
    assert key in values and "AAAABBBBCCCCDDDD" in values
    assert values == sorted(values, key=len, reverse=True)
    shown = "user hunter22 printed; line AAAABBBBCCCCDDDD; abc stays"
    assert mask(shown, values) == f"user {MASK} printed; line {MASK}; abc stays"
