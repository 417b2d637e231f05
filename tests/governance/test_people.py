"""People are named by the name they gave; records for machines keep the username."""

from tests.factories import UserFactory


def test_a_person_is_named_by_their_full_name_else_their_username(db):
    from governance.people import display_name, person_label

    named = UserFactory(username="ana", first_name="Ana", last_name="Lima")
    unnamed = UserFactory(username="svc-deploy", first_name="", last_name="")
    assert display_name(named) == "Ana Lima"
    assert display_name(unnamed) == "svc-deploy"
    assert person_label(named) == "Ana Lima (ana)"
    assert person_label(unnamed) == "svc-deploy"


def test_usernames_a_record_kept_read_as_names_in_their_order(db, django_assert_num_queries):
    from governance.people import names_of

    UserFactory(username="ana", first_name="Ana", last_name="Lima")
    UserFactory(username="svc-deploy", first_name="", last_name="")
    with django_assert_num_queries(1):
        names = names_of(["svc-deploy", "gone", "ana"])
    assert names == ["svc-deploy", "gone", "Ana Lima"]  # someone since removed: the username
    with django_assert_num_queries(0):
        assert names_of([]) == []
