"""A revealed value as people read it (customers.masking.as_printed)."""

import pytest

from bnpl_admin.customers.masking import as_printed


@pytest.mark.parametrize(
    ("field", "stored", "printed"),
    [
        ("card_number", "8600001858303568", "8600 0018 5830 3568"),
        ("card_number", "4111 1111 1111 1111", "4111 1111 1111 1111"),
        ("card_number", "371449635398431", "3714 4963 5398 431"),
        ("card_number", "not a card", "not a card"),
        ("phone_number", "+998901234567", "+998 90 123 45 67"),
        ("phone_number", "+12025550123", "+12025550123"),
        ("passport_number", "AA1234567", "AA1234567"),
    ],
)
def test_values_are_grouped_as_printed_and_anything_else_is_left_alone(field, stored, printed):
    assert as_printed(field, stored) == printed
