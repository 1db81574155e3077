"""FreezeState (the job as frozen so far) bookkeeping that the inheritance rules rely on."""

from lockgate.config.inherit import FreezeState


def test_copy_keeps_every_slot_and_owns_its_mappings():
    state = FreezeState("job")
    for index, slot in enumerate(FreezeState.__slots__):
        if slot not in ("values", "final_attrs"):
            setattr(state, slot, ("value", index))
    state.values["vars"] = {"a": 1}
    copy = state.copy()
    assert {s: getattr(copy, s) for s in FreezeState.__slots__} == {
        s: getattr(state, s) for s in FreezeState.__slots__
    }
    copy.values["timeout"] = 5
    copy.final_attrs["vars"] = None
    assert "timeout" not in state.values
    assert state.final_attrs == {}
