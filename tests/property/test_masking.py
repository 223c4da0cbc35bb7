"""Masking never raises and never shows more than the contract allows.

Phone: `+`, the first three and the last four digits. Card: the first four and the last four.
Passport: the series letters only. Anything else: "" (nothing given) or "****". So no masked form
ever holds a run of 5 or more digits, and none holds 5 consecutive digits of the input in order.
"""

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from bnpl_admin.customers.masking import FULL_MASK, mask_card_number, mask_passport, mask_phone
from tests.property import COMMON

MASKS = (mask_phone, mask_card_number, mask_passport)
ASCII_DIGITS = "0123456789"
SEPARATORS = st.sampled_from([" ", "-", "(", ")", ".", "  ", "\t", "\u00a0"])

PHONE_SHAPE = re.compile(r"^\+\d{3}\*{4}\d{4}$", re.ASCII)
CARD_SHAPE = re.compile(r"^\d{4} \*{4} \*{4} \d{4}$", re.ASCII)
PASSPORT_SHAPE = re.compile(r"^[A-Z]{1,3}\*{5,10}$", re.ASCII)
SHAPES = {mask_phone: PHONE_SHAPE, mask_card_number: CARD_SHAPE, mask_passport: PASSPORT_SHAPE}
MAX_DIGITS_SHOWN = {mask_phone: 7, mask_card_number: 8, mask_passport: 0}


def digits_of(text: str) -> str:
    return "".join(c for c in text if c in ASCII_DIGITS)


def longest_digit_run(text: str) -> int:
    """The longest run of consecutive digit characters (of any script)."""
    return max((len(run) for run in re.findall(r"\d+", text)), default=0)


def reveals_a_run_of_the_input(masked: str, input_digits: str, run: int = 5) -> bool:
    """Whether `masked` holds `run` consecutive digits of the input, in order, as consecutive characters."""
    return any(input_digits[i : i + run] in masked for i in range(len(input_digits) - run + 1))


@st.composite
def decorated(draw, core: str) -> str:
    """`core` with separators slipped in between some characters (as people type numbers)."""
    out = []
    for char in core:
        if draw(st.integers(0, 4)) == 0:
            out.append(draw(SEPARATORS))
        out.append(char)
    return "".join(out)


# Well-formed values: the exact masked form, and nothing more.


@st.composite
def phones(draw):
    digits = draw(st.text(st.sampled_from(ASCII_DIGITS), min_size=8, max_size=15))
    plus = draw(st.sampled_from(["+", ""]))
    return digits, draw(decorated(plus + digits))


@settings(max_examples=400, **COMMON)
@given(phones())
def test_a_phone_shows_the_first_three_and_last_four_digits_only(phone):
    digits, raw = phone

    masked = mask_phone(raw)

    assert masked == f"+{digits[:3]}****{digits[-4:]}", raw
    assert longest_digit_run(masked) <= 4
    assert not reveals_a_run_of_the_input(masked, digits)


@st.composite
def cards(draw):
    digits = draw(st.text(st.sampled_from(ASCII_DIGITS), min_size=12, max_size=19))
    grouped = draw(st.booleans())
    raw = " ".join(digits[i : i + 4] for i in range(0, len(digits), 4)) if grouped else draw(decorated(digits))
    return digits, raw


@settings(max_examples=400, **COMMON)
@given(cards())
def test_a_card_shows_the_first_four_and_last_four_digits_only(card):
    digits, raw = card

    masked = mask_card_number(raw)

    assert masked == f"{digits[:4]} **** **** {digits[-4:]}", raw
    assert longest_digit_run(masked) <= 4
    assert not reveals_a_run_of_the_input(masked, digits)


@st.composite
def passports(draw):
    series = draw(
        st.text(st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"), min_size=1, max_size=3)
    )
    digits = draw(st.text(st.sampled_from(ASCII_DIGITS), min_size=5, max_size=10))
    return series, digits, draw(decorated(series + digits))


@settings(max_examples=400, **COMMON)
@given(passports())
def test_a_passport_shows_the_series_letters_only(passport):
    series, digits, raw = passport

    masked = mask_passport(raw)

    assert masked == series.upper() + "*" * len(digits), raw
    assert longest_digit_run(masked) == 0


# Anything at all: never an exception, only an allowed shape.

HUGE_TEXT = st.text(min_size=1, max_size=8).map(lambda piece: piece * (10_240 // len(piece) + 1))
ANY_TEXT = st.one_of(
    st.text(),
    st.text(st.characters(codec=None)),  # surrogates, control characters, any plane
    st.text(st.sampled_from(ASCII_DIGITS + "+-() .\t\n\x00ABz\u0660\u0661\uff11\u00b2"), max_size=40),
    HUGE_TEXT,
    st.text(st.sampled_from(ASCII_DIGITS), min_size=1, max_size=40).map(lambda d: d * 300),
    # Well-formed values, and the same with a little text around them.
    st.one_of(phones().map(lambda p: p[1]), cards().map(lambda c: c[1]), passports().map(lambda p: p[2])).flatmap(
        lambda raw: st.sampled_from([raw, f"x{raw}", f"{raw}\n", f"+{raw}", f"{raw}0", f"A{raw}"])
    ),
)
ANY_VALUE = st.one_of(
    ANY_TEXT,
    st.none(),
    st.integers(),
    st.floats(),
    st.booleans(),
    st.binary(max_size=30),
    st.lists(st.integers(), max_size=5),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)


def assert_allowed(mask, masked) -> None:
    assert isinstance(masked, str)
    assert masked in ("", FULL_MASK) or SHAPES[mask].match(masked), (mask.__name__, masked)
    assert longest_digit_run(masked) <= 4
    assert len(digits_of(masked)) <= MAX_DIGITS_SHOWN[mask]
    assert masked.isascii()


@settings(max_examples=500, **COMMON)
@given(ANY_VALUE)
def test_masks_never_raise_and_show_only_an_allowed_shape(value):
    for mask in MASKS:
        assert_allowed(mask, mask(value))


@settings(max_examples=300, **COMMON)
@given(ANY_TEXT)
def test_masks_never_reveal_five_consecutive_input_digits(text):
    input_digits = "".join(c for c in text if c.isdigit())
    for mask in MASKS:
        masked = mask(text)
        assert_allowed(mask, masked)
        assert not reveals_a_run_of_the_input(masked, input_digits), (mask.__name__, masked)


@settings(max_examples=200, **COMMON)
@given(st.one_of(phones().map(lambda p: p[1]), cards().map(lambda c: c[1]), passports().map(lambda p: p[2])))
def test_each_mask_refuses_the_other_kinds_of_value_or_shows_no_more(raw):
    """A card number typed as a phone (or the reverse) still shows at most the allowed digits."""
    for mask in MASKS:
        masked = mask(raw)
        assert_allowed(mask, masked)
        assert not reveals_a_run_of_the_input(masked, digits_of(raw))
