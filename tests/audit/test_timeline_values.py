"""The timeline shows an audit event's values as people read them."""

from bnpl_admin.staff.templatetags.bnpl import audit_value


def test_allocations_read_as_installment_numbers_and_amounts():
    allocations = [
        {"installment_id": 7, "plan_id": "p", "number": 1, "amount": "100.00"},
        {"installment_id": 8, "plan_id": "p", "number": 2, "amount": "50.00"},
    ]
    assert audit_value(allocations) == "#1: 100.00, #2: 50.00"


def test_other_values():
    assert audit_value({"a": 1, "b": None}) == "a=1 b="
    assert audit_value("text") == "text"
    assert audit_value(None) == ""
