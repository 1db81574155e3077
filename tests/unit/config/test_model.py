"""``new_job`` builds exactly what ``Job(...)`` builds."""

import dataclasses

import pytest
from lockgate.config.errors import SourceContext
from lockgate.config.model import Job, OverrideMode, new_job

CTX = SourceContext("org/project", "master", "zuul.yaml", 3, True, "gerrit")


def test_new_job_equals_the_dataclass_constructor():
    attrs = dict(
        name="unit",
        context=CTX,
        project="org/project",
        trusted=True,
        vars={"a": {"b": 1}},
        override_modes={"vars": OverrideMode.OVERRIDE},
        explicit=("vars",),
    )
    fast, slow = new_job(**attrs), Job(**attrs)
    assert fast == slow
    assert repr(fast) == repr(slow)
    assert list(vars(fast).items()) == list(vars(slow).items())
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.name = "other"  # type: ignore[misc]


def test_new_job_defaults_are_fresh_per_job():
    one = new_job(name="a", context=CTX, project="p")
    two = new_job(name="b", context=CTX, project="p")
    assert one.override_modes == {} and one.override_modes is not two.override_modes
    assert one == Job(name="a", context=CTX, project="p")


@pytest.mark.parametrize(
    "attrs",
    [dict(name="a"), dict(name="a", context=CTX, project="p", voteing=True)],
)
def test_new_job_rejects_what_job_rejects(attrs):
    with pytest.raises(TypeError) as fast:
        new_job(**attrs)
    with pytest.raises(TypeError) as slow:
        Job(**attrs)
    assert str(fast.value) == str(slow.value)
