import pytest

from ziti_aio.common.errors import ValidationError
from ziti_aio.common.roles import parse_roles, validate_role_attributes, validate_roles


@pytest.mark.parametrize(
    ("roles", "semantic", "entity_attrs", "expected"),
    [
        (["#all"], "AllOf", [], True),
        (["#a", "#b"], "AllOf", ["a"], False),
        (["#a", "#b"], "AllOf", ["a", "b", "c"], True),
        (["#a", "#b"], "AnyOf", ["b"], True),
        (["#a", "#b"], "AnyOf", ["c"], False),
        (["@e1"], "AllOf", [], True),
        (["@other"], "AnyOf", ["a"], False),
        (["@e1", "#zzz"], "AllOf", [], True),
        ([], "AnyOf", ["a"], False),
    ],
)
def test_role_matching_follows_openziti(roles, semantic, entity_attrs, expected):
    assert parse_roles(roles, semantic).matches("e1", entity_attrs) is expected


def test_all_must_stand_alone():
    with pytest.raises(ValidationError):
        validate_roles("identityRoles", ["#all", "#a"])


@pytest.mark.parametrize("bad", [["a"], ["#"], [3], "#a"])
def test_roles_need_prefix(bad):
    with pytest.raises(ValidationError):
        validate_roles("serviceRoles", bad)


@pytest.mark.parametrize("bad", [["#a"], ["@x"], [""], [1]])
def test_role_attributes_refuse_prefixes(bad):
    with pytest.raises(ValidationError):
        validate_role_attributes("roleAttributes", bad)


def test_role_attributes_dedupe():
    assert validate_role_attributes("roleAttributes", ["a", "b", "a"]) == ["a", "b"]
