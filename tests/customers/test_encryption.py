"""Encryption at rest (DESIGN: Customer): raw PII is never stored, keys rotate, the phone lookup hash is keyed."""

import datetime
import hashlib

import pytest
from cryptography.fernet import Fernet
from django.db import connection

from bnpl_admin.customers import encryption
from bnpl_admin.customers.models import Customer
from bnpl_admin.customers.selectors import phone_lookup_hash
from bnpl_admin.customers.services import create_customer, reveal_pii, rotate_encryption

pytestmark = pytest.mark.django_db

PHONE = "+998901234567"
CARD = "4111111111111111"
PASSPORT = "AA1234567"
# Every form in which the raw values could leak: as typed, and digits only.
RAW_FORMS = [PHONE, "998901234567", "901234567", CARD, "4111 1111 1111 1111", PASSPORT, "1234567"]

KEY_A = Fernet.generate_key().decode()
KEY_B = Fernet.generate_key().decode()
KEY_C = Fernet.generate_key().decode()


def _table_cells(table: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table}")
        return [str(cell) for row in cursor.fetchall() for cell in row if cell is not None]


def _assert_no_raw_pii(table: str) -> None:
    cells = _table_cells(table)
    assert cells, f"{table} is empty: nothing was checked"
    leaks = [(raw, cell) for cell in cells for raw in RAW_FORMS if raw in cell]
    assert not leaks, f"raw PII stored in {table}: {leaks}"


def _create(actor, *, customer_id="usr-enc", phone=PHONE, card=CARD, passport=PASSPORT) -> Customer:
    return create_customer(
        customer_id=customer_id,
        full_name="Dilnoza Karimova",
        phone_number=phone,
        passport_number=passport,
        card_number=card,
        date_of_birth=datetime.date(1991, 3, 8),
        actor=actor,
    )


def test_raw_pii_appears_nowhere_in_the_customer_table(actor):
    _create(actor, phone="+998 90 123-45-67", card="4111 1111 1111 1111")

    _assert_no_raw_pii("customers_customer")


def test_raw_pii_appears_nowhere_in_the_audit_table_after_create_and_reveal(actor):
    _create(actor)
    for field in ("phone_number", "card_number", "passport_number"):
        reveal_pii(customer_id="usr-enc", field=field, actor=actor)

    _assert_no_raw_pii("audit_auditevent")


def test_the_stored_columns_hold_tokens_masks_and_a_hash(actor):
    _create(actor, phone="+998 90 123-45-67")

    customer = Customer.objects.get(customer_id="usr-enc")
    assert encryption.decrypt(customer.phone_encrypted) == PHONE
    assert encryption.decrypt(customer.card_encrypted) == CARD
    assert encryption.decrypt(customer.passport_encrypted) == PASSPORT
    assert (customer.phone_masked, customer.card_masked, customer.passport_masked) == (
        "+998****4567",
        "4111 **** **** 1111",
        "AA*******",
    )
    assert customer.phone_hash == phone_lookup_hash(PHONE)


def test_encrypting_the_same_value_twice_gives_different_tokens():
    assert encryption.encrypt(CARD) != encryption.encrypt(CARD)


def test_empty_values_stay_empty():
    assert encryption.encrypt("") == ""
    assert encryption.decrypt("") == ""
    assert encryption.rotate("") == ""
    assert encryption.lookup_hash("") == ""


def test_old_key_still_decrypts_after_a_new_key_is_put_first(settings, actor):
    settings.FIELD_ENCRYPTION_KEYS = [KEY_A]
    _create(actor)

    settings.FIELD_ENCRYPTION_KEYS = [KEY_B, KEY_A]

    assert reveal_pii(customer_id="usr-enc", field="phone_number", actor=actor) == PHONE
    assert reveal_pii(customer_id="usr-enc", field="card_number", actor=actor) == CARD


def test_rotation_re_encrypts_everything_so_the_new_key_alone_decrypts(settings, actor):
    settings.FIELD_ENCRYPTION_KEYS = [KEY_A]
    _create(actor, customer_id="usr-enc-1")
    _create(actor, customer_id="usr-enc-2", phone="+998911112233", card="5555555555554444", passport="AB7654321")
    tokens_before = set(Customer.objects.values_list("phone_encrypted", "card_encrypted", "passport_encrypted"))

    settings.FIELD_ENCRYPTION_KEYS = [KEY_B, KEY_A]
    rewritten = rotate_encryption(batch_size=1)

    assert rewritten == 2
    assert set(Customer.objects.values_list("phone_encrypted", "card_encrypted", "passport_encrypted")).isdisjoint(
        tokens_before
    )
    settings.FIELD_ENCRYPTION_KEYS = [KEY_B]
    assert reveal_pii(customer_id="usr-enc-1", field="passport_number", actor=actor) == PASSPORT
    assert reveal_pii(customer_id="usr-enc-2", field="card_number", actor=actor) == "5555555555554444"
    settings.FIELD_ENCRYPTION_KEYS = [KEY_A]
    with pytest.raises(encryption.InvalidToken):
        reveal_pii(customer_id="usr-enc-1", field="phone_number", actor=actor)


def test_rotation_leaves_empty_values_empty(settings, actor):
    settings.FIELD_ENCRYPTION_KEYS = [KEY_A]
    _create(actor, passport="")

    settings.FIELD_ENCRYPTION_KEYS = [KEY_B, KEY_A]
    rotate_encryption()

    assert Customer.objects.get(customer_id="usr-enc").passport_encrypted == ""


def test_a_value_under_an_unknown_key_raises_invalid_token(settings):
    settings.FIELD_ENCRYPTION_KEYS = [KEY_C]
    token = encryption.encrypt(CARD)

    settings.FIELD_ENCRYPTION_KEYS = [KEY_A, KEY_B]

    with pytest.raises(encryption.InvalidToken):
        encryption.decrypt(token)


def test_a_tampered_token_raises_invalid_token():
    token = encryption.encrypt(CARD)
    tampered = token[:-6] + ("AAAAAA" if not token.endswith("AAAAAA") else "BBBBBB")

    with pytest.raises(encryption.InvalidToken):
        encryption.decrypt(tampered)


def test_phone_lookup_hash_ignores_formatting():
    assert phone_lookup_hash("+998 90 123-45-67") == phone_lookup_hash("+998901234567")
    assert phone_lookup_hash("+998 (90) 123 45 67") == phone_lookup_hash("+998901234567")


def test_phone_lookup_hash_tells_numbers_apart():
    assert phone_lookup_hash("+998901234567") != phone_lookup_hash("+998901234568")


def test_phone_lookup_hash_depends_on_the_hash_key(settings):
    settings.FIELD_HASH_KEY = "first-lookup-key"
    first = phone_lookup_hash(PHONE)

    settings.FIELD_HASH_KEY = "second-lookup-key"

    assert phone_lookup_hash(PHONE) != first


def test_phone_lookup_hash_survives_encryption_key_rotation(settings):
    settings.FIELD_ENCRYPTION_KEYS = [KEY_A]
    before = phone_lookup_hash(PHONE)

    settings.FIELD_ENCRYPTION_KEYS = [KEY_B, KEY_A]

    assert phone_lookup_hash(PHONE) == before


def test_phone_lookup_hash_is_not_a_plain_digest_of_the_number():
    assert phone_lookup_hash(PHONE) not in {
        hashlib.sha256(PHONE.encode()).hexdigest(),
        hashlib.sha256(b"998901234567").hexdigest(),
    }
    assert "901234567" not in phone_lookup_hash(PHONE)
