import pytest
import trio

from ziti_aio.appliance.supervisor import RoleStatus, supervise
from ziti_aio.common.errors import ConfigError


async def test_a_crashing_role_is_restarted_while_others_run(autojump_clock):
    attempts = []
    other_ticks = []

    async def flaky(task_status=trio.TASK_STATUS_IGNORED):
        attempts.append(trio.current_time())
        task_status.started(len(attempts))
        await trio.sleep(1)
        if len(attempts) < 3:
            raise RuntimeError("boom")
        await trio.sleep_forever()

    async def steady(task_status=trio.TASK_STATUS_IGNORED):
        task_status.started("steady")
        while True:
            other_ticks.append(trio.current_time())
            await trio.sleep(1)

    status = RoleStatus("flaky")
    async with trio.open_nursery() as nursery:
        first = await nursery.start(lambda task_status: supervise("flaky", flaky, status=status,
                                                                  task_status=task_status))
        await nursery.start(lambda task_status: supervise("steady", steady, task_status=task_status))
        await trio.sleep(30)
        assert first == 1
        assert len(attempts) == 3
        assert status.restarts == 2 and status.running and "boom" in status.last_error
        # backoff grows: second gap longer than the first
        assert attempts[2] - attempts[1] > attempts[1] - attempts[0]
        assert len(other_ticks) >= 29
        nursery.cancel_scope.cancel()


async def test_a_configuration_error_before_the_first_start_fails_the_start():
    attempts = []

    async def cannot_bind(task_status=trio.TASK_STATUS_IGNORED):
        attempts.append(1)
        async with trio.open_nursery():
            raise ConfigError("cannot listen on 0.0.0.0:1280: Address already in use")

    with pytest.raises(ConfigError, match=r"^web: cannot listen"):
        await supervise("web", cannot_bind)
    assert attempts == [1]
