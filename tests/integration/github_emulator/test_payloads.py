"""Every webhook the emulator sends is checked against the corpus: the JSON
Schema for its event and action must accept it, and its key sets and value
types must match the corpus example for the same event and action, except for
the differences listed (each explained) in ``ALLOWED``."""

from __future__ import annotations

import json
import re

from tests.fixtures.github import GitHubEmulator
from tests.integration.github_emulator.helpers import (
    EXAMPLES,
    SCHEMAS,
    SchemaChecker,
    shape_differences,
)
from tests.integration.github_emulator.scenario import EXPECTED, run_everything

# Differences from the corpus examples that are GitHub's, not the emulator's.
ALLOWED: dict[str, str] = {
    r"\$: extra 'installation'": "deliveries to a GitHub App's webhook carry the installation; the examples "
    "without it were sent to repository webhooks (the *.with-installation ones have it)",
    r"\$: missing 'organization'": "the emulator's repositories belong to users, not organizations",
    r"\$: extra 'changes'": "pull_request 'edited' has no example; it is compared with 'opened' plus 'changes'",
    r"\$\.issue: extra 'pull_request'": "the comment is on a pull request; the example's comment is on a plain issue",
    r"\$\.issue: extra '(timeline_url|performed_via_github_app|state_reason)'": "newer issue fields, allowed by the schema and present in newer examples",
    r"\$\.check_run(\.check_suite)?\.app\.permissions: (missing|extra) '\w+'": "an app's permissions are its own; the emulator's app asks for what Lockgate needs",
    r"\$\.check_run(\.check_suite)?\.app: extra '(slug|permissions|events)'": "newer app fields (the requested_action example has them)",
    r"\$\.check_run(\.check_suite)?: extra '(node_id|details_url)'": "newer check run fields (the created and requested_action examples have them)",
    r"\$\.check_run\.check_suite: missing 'deployment'": "only check runs started by a deployment carry one",
    r"\$\.repository: extra 'disabled'": "newer repository field, in the schema and in newer examples",
}


def example_for(event: str, action: str | None) -> dict:
    if event == "pull_request" and action == "edited":
        action = "opened"
    stem = f"{action}." if action else ""
    for name in (f"{stem}with-installation.payload.json", f"{stem}payload.json"):
        path = EXAMPLES / event / name
        if path.exists():
            return json.loads(path.read_text())
    raise AssertionError(f"no corpus example for {event}/{action}")


def schema_for(event: str, action: str | None):
    return SCHEMAS / event / (f"{action}.schema.json" if action else "event.schema.json")


def test_every_payload_matches_the_corpus(github_emulator: GitHubEmulator) -> None:
    run_everything(github_emulator)
    deliveries = github_emulator.control.deliveries(payloads=True)
    checker = SchemaChecker()
    seen = set()
    problems = []
    for d in deliveries:
        key = (d["event"], d["action"])
        seen.add(key)
        errors = checker.errors(d["payload"], schema_for(*key))
        problems += [f"{key} #{d['id']} schema: {e}" for e in errors]
        for diff in shape_differences(d["payload"], example_for(*key)):
            if not any(re.fullmatch(pattern, diff) for pattern in ALLOWED):
                problems.append(f"{key} #{d['id']} example: {diff}")
    assert EXPECTED <= seen, f"events not sent: {sorted(EXPECTED - seen, key=str)}"
    assert not problems, "\n".join(problems[:40])
    assert len(deliveries) > len(EXPECTED)


def test_checker_catches_a_broken_payload() -> None:
    """The checks above can fail: a wrong type, a missing key and an extra key
    are each reported."""
    example = example_for("pull_request", "opened")
    broken = json.loads(json.dumps(example))
    broken["number"] = "2"
    del broken["pull_request"]["head"]
    broken["pull_request"]["surprise"] = 1
    errors = SchemaChecker().errors(broken, schema_for("pull_request", "opened"))
    assert any("$.number" in e for e in errors)
    assert any("missing required 'head'" in e for e in errors)
    assert any("unexpected key 'surprise'" in e for e in errors)
    diffs = shape_differences(broken, example)
    assert "$.number: str, example has int" in diffs
    assert "$.pull_request: missing 'head'" in diffs
    assert "$.pull_request: extra 'surprise'" in diffs
    assert SchemaChecker().errors(example, schema_for("pull_request", "opened")) == []
