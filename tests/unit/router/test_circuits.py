"""The circuit table: the one place circuits are registered, found and forgotten."""

from ziti_aio.router.fabric.circuits import CircuitTable
from ziti_aio.wire.link import Ack, Payload


class FakeCircuit:
    """Stands in for a LocalCircuit (both ends here) or, with ``linked``, a RemoteEnd."""

    def __init__(self, circuit_id: str) -> None:
        self.id = circuit_id

    async def close(self, reason: str, *, notify_ctrl: bool = True) -> None:
        raise AssertionError("the table never closes a circuit")

    def on_payload(self, payload: Payload) -> None:
        raise AssertionError

    def on_ack(self, ack: Ack) -> None:
        raise AssertionError

    def rerouted(self) -> None:
        raise AssertionError


def test_local_and_linked_circuits_are_found_by_id_and_only_linked_ends_by_the_forwarder():
    table = CircuitTable()
    local, linked = FakeCircuit("c1"), FakeCircuit("c2")
    table.add(local)
    table.add_linked(linked)
    assert table.get("c1") is local and table.get("c2") is linked and "c1" in table and "c2" in table
    assert table.linked("c1") is None and table.linked("c2") is linked
    assert list(table.linked_ends()) == [linked]
    assert table.get("c3") is None and "c3" not in table


def test_a_circuit_removes_only_itself():
    table = CircuitTable()
    old, new = FakeCircuit("c1"), FakeCircuit("c1")
    table.add_linked(old)
    table.add_linked(new)  # the same id registered again: the newer one counts
    assert table.remove(old) is False
    assert table.get("c1") is new and table.linked("c1") is new
    assert table.remove(new) is True
    assert table.get("c1") is None and table.linked("c1") is None and list(table.linked_ends()) == []
    assert table.remove(new) is False
