"""``--help`` everywhere, at a fixed 80 columns: no markup, nothing cut off, readable metavars, short summaries."""

import re

import pytest
import typer.main
from typer.testing import CliRunner

from ziti_aio.cli.main import app

COLUMNS = 80
MAIN_VERBS = (("create", "identity"), ("create", "service"), ("create", "service-policy"), ("login",),
              ("enroll",), ("quickstart",))


def _help(*path: str) -> str:
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": str(COLUMNS)})
    assert result.exit_code == 0, result.output
    return result.output


def _command_paths() -> list[tuple[str, ...]]:
    """Every visible command and group (the edge tree only once: its commands are the top-level ones)."""
    root = typer.main.get_command(app)
    found: list[tuple[str, ...]] = []

    def walk(command: object, path: tuple[str, ...], ctx: object) -> None:
        found.append(path)
        if not hasattr(command, "list_commands") or path == ("edge",):
            return
        sub_ctx = command.make_context(path[-1] if path else "ziti-aio", ["--help"], parent=ctx,
                                       resilient_parsing=True)
        for name in command.list_commands(sub_ctx):
            sub = command.get_command(sub_ctx, name)
            if sub is not None and not sub.hidden:
                walk(sub, (*path, name), sub_ctx)

    walk(root, (), None)
    return found


PATHS = _command_paths()


def test_the_walk_sees_every_area():
    assert {p[0] for p in PATHS if p} >= {"login", "create", "list", "update", "delete", "enroll", "pki",
                                          "quickstart", "run", "tunnel", "verify", "edge", "version"}
    assert len(PATHS) > 80


@pytest.mark.parametrize("path", PATHS, ids=lambda p: " ".join(p) or "ziti-aio")
def test_help_is_clean(path):
    text = _help(*path)

    assert "``" not in text and "╭" not in text and "[/" not in text
    assert not re.search(r"<(str|bool|int|float|path|list)", text), text
    assert "…" not in text
    assert all(len(line) <= COLUMNS for line in text.splitlines()), text
    commands = text.partition("\nCommands:\n")[2]
    assert not [line for line in commands.splitlines() if line.endswith("...")], text


def test_full_option_names_and_metavars():
    text = _help("create", "identity")
    assert "-p, --default-hosting-precedence TEXT" in text
    assert "-o, --jwt-output-file PATH" in text
    assert "Usage: ziti-aio create identity [OPTIONS] NAME\n" in text
    assert "--static-cost INTEGER" in _help("update", "link")
    assert "Usage: ziti-aio delete identity [OPTIONS] IDS...\n" in _help("delete", "identity")
    assert "[FILTER]" in _help("list", "identities")


@pytest.mark.parametrize("path", MAIN_VERBS, ids=" ".join)
def test_main_verbs_show_examples(path):
    examples = _help(*path).partition("Examples:\n")[2]
    assert examples.splitlines()[0].strip().startswith("ziti-aio " + " ".join(path[:1]))
