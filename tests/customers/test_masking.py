"""Masking (DESIGN: Masking): a partial mask for a well-formed value, a full mask for anything else, never an error."""

import pytest

from bnpl_admin.customers.masking import FULL_MASK, mask_card_number, mask_passport, mask_phone, normalize_phone

MASKERS = [mask_phone, mask_card_number, mask_passport]


def fullwidth(text: str) -> str:
    """`4111` in full-width forms (U+FF14 U+FF11 ...), written out of ASCII so the source stays readable."""
    return "".join(chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch for ch in text)


def arabic_indic(text: str) -> str:
    """Digits as Arabic-Indic digits (U+0660..U+0669)."""
    return "".join(chr(0x0660 + int(ch)) if ch.isascii() and ch.isdigit() else ch for ch in text)


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("+998901234567", "+998****4567"),
        ("998901234567", "+998****4567"),
        ("+998 90 123-45-67", "+998****4567"),
        ("+998 (90) 123.45.67", "+998****4567"),
        ("  +998901234567\n", "+998****4567"),
        ("+12025550123", "+120****0123"),
    ],
)
def test_phone_keeps_plus_first_three_and_last_four_digits(raw, masked):
    assert mask_phone(raw) == masked


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("4111111111111111", "4111 **** **** 1111"),
        ("4111 1111 1111 1111", "4111 **** **** 1111"),
        ("4111-1111-1111-1111", "4111 **** **** 1111"),
        ("8600123456789012", "8600 **** **** 9012"),
        ("378282246310005", "3782 **** **** 0005"),
    ],
)
def test_card_keeps_at_most_first_four_and_last_four_digits(raw, masked):
    assert mask_card_number(raw) == masked


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("AA1234567", "AA*******"),
        ("aa1234567", "AA*******"),
        (" AB 1234567 ", "AB*******"),
        ("FA0123456", "FA*******"),
    ],
)
def test_passport_keeps_series_letters_and_hides_every_digit(raw, masked):
    assert mask_passport(raw) == masked


@pytest.mark.parametrize("mask", MASKERS)
@pytest.mark.parametrize("empty", [None, "", "   ", "\t\n"])
def test_nothing_to_mask_gives_an_empty_string(mask, empty):
    assert mask(empty) == ""


MALFORMED = [
    "1",
    "12",
    "1234",
    "+",
    "++998901234567",
    "abc",
    "not a number",
    "AA",
    "1234567A",
    "12AB34",
    "A" * 40,
    "9" * 25,
    "4" * 10_000,
    "x" * 100_000,
    "☎️ 901234567",
    "📞📞📞📞📞📞📞📞📞",
    "\u200b\u200b\u200b",
    "\u202e7654321099+",
    fullwidth("Tel:90123"),
    "e\u0301" * 12,
    "\x00\x01\x02",
    "+998901234567; DROP TABLE customers_customer;--",
    "<script>alert(1)</script>",
    "{{ customer.card_number }}",
]


@pytest.mark.parametrize("mask", MASKERS)
@pytest.mark.parametrize("malformed", MALFORMED)
def test_malformed_values_are_masked_fully_and_never_raise(mask, malformed):
    assert mask(malformed) == FULL_MASK


@pytest.mark.parametrize("mask", MASKERS)
@pytest.mark.parametrize("odd", [7, 0, -1, 12.5, True, b"4111111111111111", ["4111111111111111"], object()])
def test_values_that_are_not_strings_never_raise(mask, odd):
    assert mask(odd) == FULL_MASK


def test_a_long_integer_is_masked_like_its_digits():
    assert mask_phone(998901234567) == "+998****4567"
    assert mask_card_number(4111111111111111) == "4111 **** **** 1111"


@pytest.mark.parametrize(
    ("mask", "raw"),
    [
        # Not the ASCII digits the formats are made of: malformed, so fully masked. (Accepted, they
        # would be stored and hashed as a different phone from the same number in ASCII.)
        (mask_phone, arabic_indic("+998901234567")),
        (mask_phone, fullwidth("+998901234567")),
        (mask_card_number, arabic_indic("4111111111111111")),
        (mask_card_number, fullwidth("4111111111111111")),
        (mask_passport, arabic_indic("AA1234567")),
    ],
    ids=["phone-arabic-indic", "phone-fullwidth", "card-arabic-indic", "card-fullwidth", "passport-arabic-indic"],
)
def test_non_ascii_digits_are_masked_fully(mask, raw):
    assert mask(raw) == FULL_MASK


@pytest.mark.parametrize(
    ("raw", "phone", "card", "passport"),
    [
        ("+998901234567", "+998****4567", FULL_MASK, FULL_MASK),
        ("4111111111111111", FULL_MASK, "4111 **** **** 1111", FULL_MASK),
        ("AA1234567", FULL_MASK, FULL_MASK, "AA*******"),
    ],
)
def test_each_mask_only_accepts_its_own_kind_of_value(raw, phone, card, passport):
    assert (mask_phone(raw), mask_card_number(raw), mask_passport(raw)) == (phone, card, passport)


@pytest.mark.parametrize(
    "raw",
    ["+998901234567", "4111111111111111", "4111 1111 1111 1111", "AA1234567", "+998 90 123-45-67"],
)
@pytest.mark.parametrize("mask", MASKERS)
def test_no_mask_contains_the_raw_value(mask, raw):
    masked = mask(raw)
    digits = "".join(ch for ch in raw if ch.isdigit())
    assert raw not in masked
    assert digits not in masked.replace(" ", "")


@pytest.mark.parametrize(
    ("typed", "normalized"),
    [
        ("+998 90 123-45-67", "+998901234567"),
        ("+998 (90) 123 45 67", "+998901234567"),
        ("998901234567", "+998901234567"),
        ("+998901234567", "+998901234567"),
    ],
)
def test_phone_numbers_are_normalized_to_plus_and_digits(typed, normalized):
    assert normalize_phone(typed) == normalized


@pytest.mark.parametrize("odd", [None, "", "abc", 7, "☎️", "x" * 10_000])
def test_normalize_phone_never_raises(odd):
    assert isinstance(normalize_phone(odd), str)
