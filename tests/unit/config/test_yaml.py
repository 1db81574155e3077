"""The YAML loader: Zuul's tags, anchors, lines, and bad input as errors."""

from __future__ import annotations

import pytest
from lockgate.config.errors import Severity, SourceContext
from lockgate.config.yaml import Encrypted, Inherit, Override, Unsafe, load_config_yaml

CTX = SourceContext(project="org/p", branch="master", path="zuul.yaml")


def load(text):
    return load_config_yaml(text, CTX)


def test_tags_become_typed_wrappers():
    doc = load(
        "- job:\n"
        "    name: a\n"
        "    tags: !override [x, y]\n"
        "    vars: !inherit {k: 1}\n"
        "    files: !override 'docs/.*'\n"
        "    description: !unsafe '{{ not templated }}'\n"
        "- secret:\n"
        "    name: s\n"
        "    data:\n"
        "      one: !encrypted/pkcs1-oaep abc=\n"
        "      two: !encrypted/pkcs1-oaep\n"
        "        - Y2h1bmsx\n"
        "        - Y2h1bmsy\n"
    )
    assert doc.errors == []
    job = doc.items[0].value["job"]
    assert job["tags"] == Override(["x", "y"])
    assert job["vars"] == Inherit({"k": 1})
    assert job["files"] == Override("docs/.*")
    assert isinstance(job["description"], Unsafe) and isinstance(job["description"], str)
    assert job["description"] == "{{ not templated }}"
    data = doc.items[1].value["secret"]["data"]
    assert data["one"] == Encrypted(("abc=",))
    assert data["two"] == Encrypted(("Y2h1bmsx", "Y2h1bmsy"))


def test_inherit_on_a_plain_scalar_resolves_its_type():
    doc = load("- job:\n    name: a\n    voting: !override false\n")
    assert doc.items[0].value["job"]["voting"] == Override(False)


def test_start_line_of_every_top_level_item():
    doc = load("# comment\n- job:\n    name: a\n\n- job:\n    name: b\n- nodeset: {name: n}\n")
    assert [i.line for i in doc.items] == [2, 5, 7]


def test_anchors_and_aliases():
    doc = load("- job:\n    name: a\n    vars: &v {x: 1}\n- job:\n    name: b\n    vars: *v\n")
    assert doc.items[1].value["job"]["vars"] == {"x": 1}


def test_unknown_tag_is_an_error_for_that_item_only():
    doc = load("- job:\n    name: a\n- job:\n    name: !frobnicate b\n- job:\n    name: c\n")
    assert [i.value["job"]["name"] for i in doc.items] == ["a", "c"]
    assert len(doc.errors) == 1
    assert doc.errors[0].format() == "zuul.yaml:4: YAML error: unknown YAML tag '!frobnicate'"


def test_encrypted_list_of_non_strings_is_an_error():
    doc = load("- secret:\n    name: s\n    data:\n      k: !encrypted/pkcs1-oaep [{a: 1}]\n")
    assert doc.items == []
    assert "chunks must be strings" in doc.errors[0].message


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("not base64!", "the !encrypted/pkcs1-oaep value is not valid base64"),
        ("QUJDRA=", "the !encrypted/pkcs1-oaep value is not valid base64"),
        ("''", "the !encrypted/pkcs1-oaep value is empty"),
        ("[QUJD, 'x==']", "chunk 2 of the !encrypted/pkcs1-oaep value is not valid base64"),
    ],
)
def test_encrypted_value_must_be_base64(value, problem):
    doc = load(f"- secret:\n    name: s\n    data:\n      k: !encrypted/pkcs1-oaep {value}\n")
    assert doc.items == []
    (err,) = doc.errors
    assert err.key == "encrypted" and err.context.line == 4
    assert problem in err.message


def test_encrypted_base64_may_be_folded_over_lines():
    doc = load(
        "- secret:\n    name: s\n    data:\n      k: !encrypted/pkcs1-oaep >\n        QUJD\n        RA==\n"
    )
    assert doc.errors == []
    assert doc.items[0].value["secret"]["data"]["k"] == Encrypted(("QUJD RA==\n",))


def test_v2_layout_mapping_is_an_error():
    doc = load("pipelines:\n  - name: check\njobs: []\n")
    assert doc.items == []
    (err,) = doc.errors
    assert err.key == "yaml-not-a-list"
    assert err.format() == (
        "zuul.yaml:1: expected a list of configuration objects at the top level, found a "
        "mapping (a Zuul v2 layout.yaml is a mapping; Zuul v3 configuration is a list)"
    )


@pytest.mark.parametrize("text", ["", "# only a comment\n", "---\n"])
def test_empty_file_is_a_warning(text):
    doc = load(text)
    (err,) = doc.errors
    assert err.severity is Severity.WARNING
    assert err.message == "file contains no configuration objects"


def test_syntax_error_has_a_line():
    doc = load("- job:\n    name: a\n  bad: [\n")
    (err,) = doc.errors
    assert err.key == "yaml-syntax"
    assert err.context.line is not None and err.message.startswith("YAML syntax error")


@pytest.mark.parametrize(
    "data",
    [b"\xff\xfe\x00\x01binary", b"\x00\x01\x02\x03", "text with \x07 bell", b"\x89PNG\r\n\x1a\n"],
)
def test_binary_junk_is_an_error_not_an_exception(data):
    doc = load(data)
    assert doc.items == []
    assert len(doc.errors) == 1
    assert doc.errors[0].severity is Severity.ERROR


def test_scalar_top_level_is_an_error():
    doc = load("just a string\n")
    assert doc.errors[0].message.endswith("found a scalar")
