"""wire/ stays sans-I/O: no module imports I/O, clocks or event loops, directly or not."""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

import ziti_aio.wire

WIRE_DIR = pathlib.Path(ziti_aio.wire.__file__).parent
FORBIDDEN = {"trio", "socket", "ssl", "time", "asyncio", "selectors"}


def test_no_wire_module_imports_io_or_clock_modules():
    offenders = []
    for path in sorted(WIRE_DIR.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert offenders == []


def test_importing_wire_pulls_in_no_io_modules_indirectly():
    code = (
        "import sys\n"
        "before = set(sys.modules)\n"
        "import ziti_aio.wire.channel, ziti_aio.wire.connection, ziti_aio.wire.e2e, ziti_aio.wire.edge\n"
        f"print(','.join(sorted(m for m in set(sys.modules) - before if m.split('.')[0] in {sorted(FORBIDDEN)!r})))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
