"""The API's content negotiation: DRF's own, answering what it cannot serve as JSON."""


def test_an_unacceptable_type_is_still_a_json_406(support_client):
    response = support_client.get("/api/v1/users/", HTTP_ACCEPT="text/csv")

    assert response.status_code == 406 and "error" in response.json()
