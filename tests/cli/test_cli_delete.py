"""``ziti-aio delete`` with several names: all are looked up first; one unknown name deletes nothing."""

from cli_helpers import find


async def test_one_unknown_name_deletes_nothing(logged_in, admin):
    await logged_in("create", "identity", "a")
    await logged_in("create", "identity", "b")

    result = await logged_in("delete", "identity", "a", "b-typo", "c-typo", "b", code=1)

    assert result.stderr == "error: no identity found with id or name 'b-typo', 'c-typo'; nothing was deleted\n"
    assert result.stdout == ""
    assert await find(admin, "identities", "a") is not None
    assert await find(admin, "identities", "b") is not None


async def test_all_known_names_are_deleted_once_each(logged_in, admin):
    await logged_in("create", "service", "s1")
    s2 = await logged_in("create", "service", "s2")
    s2_id = s2.output.split()[-1]

    result = await logged_in("delete", "service", "s1", s2_id, "s2", "s1")

    assert result.output.splitlines() == ["deleted service s1", "deleted service s2"]
    assert await find(admin, "services", "s1") is None and await find(admin, "services", "s2") is None
