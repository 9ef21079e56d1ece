import pytest
import trio

from ziti_aio.appliance.supervisor import MAX_FAILURES_IN_A_ROW, STABLE_AFTER_S, RoleFailed, RoleStatus, supervise
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


async def test_any_failure_of_the_first_start_fails_the_start_once():
    attempts = []

    async def cannot_start(task_status=trio.TASK_STATUS_IGNORED):
        attempts.append(1)
        raise OSError("Name or service not known")

    with pytest.raises(RoleFailed, match=r"^tunneler could not start: OSError: Name or service not known$"):
        await supervise("tunneler", cannot_start)
    assert attempts == [1]


async def test_a_role_failing_again_and_again_is_given_up_on(autojump_clock):
    attempts = []

    async def always_fails_soon(task_status=trio.TASK_STATUS_IGNORED):
        attempts.append(trio.current_time())
        task_status.started()
        await trio.sleep(1)
        raise RuntimeError(f"crash {len(attempts)}")

    with pytest.raises(RoleFailed, match=r"^r1 failed 5 times in a row without 60 s of healthy running; "
                                         r"giving up \(last error: RuntimeError: crash 5\)$"):
        await supervise("r1", always_fails_soon)
    assert len(attempts) == MAX_FAILURES_IN_A_ROW == 5


async def test_healthy_running_between_failures_resets_the_count(autojump_clock):
    attempts = []

    async def fails_after_a_while(task_status=trio.TASK_STATUS_IGNORED):
        attempts.append(1)
        task_status.started()
        await trio.sleep(STABLE_AFTER_S if len(attempts) == 4 else 1)
        raise RuntimeError("crash")

    status = RoleStatus("r1")
    with pytest.raises(RoleFailed, match="5 times in a row"):
        await supervise("r1", fails_after_a_while, status=status)
    # attempts 1-3 fail fast, attempt 4 ran for a minute (the count starts again with it), then 4 more fast ones
    assert len(attempts) == 8 and status.restarts == 7
