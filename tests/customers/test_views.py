"""The customers page: login, permissions, masking, pagination, HTMX fragments."""

import datetime

import pytest
from django.contrib.auth.models import Group, User

from bnpl_admin.audit.services import Actor
from bnpl_admin.customers.services import create_customer

pytestmark = pytest.mark.django_db

RAW_PHONE, RAW_CARD, RAW_PASSPORT = "+998901234567", "4111111111111111", "AA1234567"


@pytest.fixture
def customer():
    return create_customer(
        customer_id="usr-001",
        full_name="Aziz Karimov",
        phone_number=RAW_PHONE,
        passport_number=RAW_PASSPORT,
        card_number=RAW_CARD,
        date_of_birth=datetime.date(1990, 5, 17),
        actor=Actor.system(),
    )


def staff_client(client, role):
    user = User.objects.create_user(f"{role}-agent", password="pw")
    if role:
        user.groups.add(Group.objects.get(name=role))
    client.force_login(user)
    return client


def test_home_redirects_to_customers(client):
    staff_client(client, "support")
    response = client.get("/")
    assert response.status_code == 302
    assert response.url == "/customers/"


def test_anonymous_users_are_sent_to_login(client):
    response = client.get("/customers/")
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/?next=/customers/")


def test_login_page_renders(client):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    assert b"Sign in" in response.content


@pytest.mark.parametrize("role", ["support", "risk"])
def test_staff_see_masked_customers_only(client, customer, role):
    response = staff_client(client, role).get("/customers/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "usr-001" in html and "Aziz Karimov" in html
    assert "+998****4567" in html and "4111 **** **** 1111" in html and "AA*******" in html
    for raw in (RAW_PHONE, RAW_CARD, RAW_PASSPORT, "901234567", "1234567"):
        assert raw not in html


def test_a_user_without_a_role_is_refused(client, customer):
    response = staff_client(client, None).get("/customers/")
    assert response.status_code == 403


def test_htmx_request_gets_only_the_table(client, customer):
    response = staff_client(client, "support").get("/customers/", headers={"HX-Request": "true"})

    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="table"')
    assert "<html" not in html and "usr-001" in html


def test_pagination_without_counting_the_whole_table(client, django_assert_max_num_queries):
    for n in range(30):
        create_customer(
            customer_id=f"usr-{n:03d}",
            full_name=f"Customer {n}",
            phone_number=f"+99890{n:07d}",
            passport_number="AB7654321",
            card_number="8600123412341234",
            date_of_birth=None,
            actor=Actor.system(),
        )
    client = staff_client(client, "support")

    first = client.get("/customers/").content.decode()
    second = client.get("/customers/?page=2").content.decode()

    assert "usr-000" in first and "usr-024" in first and "usr-025" not in first
    assert "usr-025" in second and "usr-029" in second
    with django_assert_max_num_queries(12) as captured:
        client.get("/customers/?page=2")
    assert not any("COUNT(" in q["sql"].upper() for q in captured.captured_queries)


def test_sorting_by_name(client, customer):
    create_customer(
        customer_id="usr-002",
        full_name="Bobur Aliyev",
        phone_number="+998911112233",
        passport_number="AC1112233",
        card_number="9860111122223333",
        date_of_birth=None,
        actor=Actor.system(),
    )
    html = staff_client(client, "support").get("/customers/?sort=-full_name").content.decode()
    assert html.index("Bobur Aliyev") < html.index("Aziz Karimov")


def test_a_phone_search_is_redirected_to_its_lookup_hash(client, customer):
    client = staff_client(client, "support")

    response = client.get("/customers/", {"q": "+998 90 123-45-67"})

    assert response.status_code == 302
    assert "ph=" in response.url and "998" not in response.url
    html = client.get(response.url).content.decode()
    assert "usr-001" in html
    assert "901234567" not in html


def test_a_phone_search_through_htmx_pushes_a_url_without_the_number(client, customer):
    client = staff_client(client, "support")

    response = client.post("/customers/", {"q": RAW_PHONE, "sort": "full_name"}, headers={"HX-Request": "true"})

    html = response.content.decode()
    assert response.status_code == 200
    assert "usr-001" in html
    assert "901234567" not in html and "901234567" not in response["HX-Push-Url"]
    assert "ph=" in response["HX-Push-Url"] and "sort=full_name" in response["HX-Push-Url"]


def test_the_search_form_posts_and_is_answered_with_the_equivalent_url(client, customer):
    client = staff_client(client, "support")

    by_name = client.post("/customers/", {"q": "Aziz", "status": "NORMAL"})
    by_phone = client.post("/customers/", {"q": "+998 90 123 45 67"})

    assert by_name.status_code == 302 and by_name.url == "/customers/?q=Aziz&status=NORMAL"
    assert by_phone.status_code == 302 and by_phone.url.startswith("/customers/?ph=")
    assert "usr-001" in client.get(by_phone.url).content.decode()


def test_links_to_a_profile_are_not_swapped_into_the_table(client, customer):
    html = staff_client(client, "support").get("/customers/").content.decode()

    table = html.split('id="table"', 1)[1]
    assert 'hx-boost="true"' in table  # sorting and paging
    assert table.count('hx-boost="true"') == table.count("<thead") + table.count('class="pagination"')


def test_a_phone_search_for_an_unknown_number_finds_nobody(client, customer):
    client = staff_client(client, "support")

    html = client.get("/customers/", {"q": "+998 99 000 00 00"}, follow=True).content.decode()

    assert 'href="/customers/usr-001/"' not in html
