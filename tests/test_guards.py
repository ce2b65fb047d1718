"""Guards (``lucid/jit/guards.py``): Python values a trace read, checked before a cached plan
is reused."""

from __future__ import annotations

from types import SimpleNamespace

from lucid.jit import guards


def test_guards_hold_until_a_value_changes():
    box = {"lr": 0.1}
    with guards.recording() as rec:
        assert guards.guard(lambda: box["lr"]) == 0.1
    assert rec.valid()
    box["lr"] = 0.2
    assert not rec.valid()
    box["lr"] = 0.1
    assert rec.valid()


def test_attribute_guards_note_each_object_once_and_check_all():
    a, b = SimpleNamespace(training=True), SimpleNamespace(training=False)
    with guards.recording() as rec:
        for obj in (a, b, a, a):  # a shared module called three times
            guards.guard_attribute(obj, "training")
    assert rec.attrs["training"][0] == [a, b]
    assert rec.valid()
    b.training = True
    assert not rec.valid()
    b.training = False
    a.training = False
    assert not rec.valid()
    a.training = True
    assert rec.valid()


def test_outside_a_recording_guards_only_read():
    obj = SimpleNamespace(training=True)
    assert guards.guard_attribute(obj, "training") is True
    assert guards.guard(lambda: 3) == 3
    assert not guards.active()


def test_one_off_traces_are_not_cacheable():
    with guards.recording() as rec:
        guards.one_off("an optimizer created its state")
    assert not rec.cacheable and rec.reasons == ["an optimizer created its state"]
