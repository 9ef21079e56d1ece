"""Drive the unmodified OpenZiti C SDK (PyPI ``openziti``, libziti) in a subprocess.

libziti runs its own event loop thread, can hang (TLS failures during enrollment) or crash
(bad controller answers), so every call runs in a child Python under a timeout and comes
back as a :class:`CsdkResult` holding whatever the child wrote before it ended.

Snippets given to :func:`csdk_run` see these names, on top of ``openziti``, ``zitilib``,
``ctypes``, ``json``, ``os``, ``socket`` and ``threading``:

- ``IDENTITY``: the identity file path;
- ``load()``: ``openziti.load(IDENTITY)``. It returns once libziti has logged in and listed
  services, and never returns while the identity can see no service at all;
- ``services(ctx)``: ``{name: {"id", "dial", "bind", "config": {type: data}}}`` as libziti
  holds them (from ``ziti_dump``);
- ``on_loop(ctx, fn)``: runs ``fn(ztx)`` on libziti's loop thread and returns its result
  (libziti functions other than the ``Ziti_*`` ones are only safe there; declare their
  ``argtypes`` first, pointers are 64-bit);
- ``dial(ctx, service)``: a connected ``socket.socket``, dialled without a terminator (the
  wrapper's ``ctx.connect`` is broken in 0.6.0); raises ``ZitiCallError`` on failure;
- ``watch_log(text)``: a ``threading.Event`` set once a libziti log message contains ``text``
  (only messages at or above ``ZITI_LOG``'s level are seen; they still go to stderr);
- ``idle()``: waits until libziti has logged nothing for half a second, i.e. no controller
  request is in flight at ``ZITI_LOG`` 4. Call it before ``openziti.shutdown()``: shutting
  down with requests in flight aborts libziti 0.29.3 (double free in ``zitilib.c``);
- ``report(**fields)``: one JSON line the parent reads back from :attr:`CsdkResult.reports`.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import textwrap
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import trio

if TYPE_CHECKING:
    from pathlib import Path

REPORT_PREFIX = "ZITI-AIO-REPORT "
DEFAULT_ENROLL_TIMEOUT_S = 30.0
DEFAULT_RUN_TIMEOUT_S = 60.0
LOG_DEBUG = 4

_PRELUDE = r'''
import ctypes, json, os, re, socket, sys, threading, time, traceback
import openziti
from openziti import zitilib

IDENTITY = os.environ["ZITI_AIO_IDENTITY"]
_REPORT_PREFIX = os.environ["ZITI_AIO_REPORT_PREFIX"]
_libc = ctypes.CDLL(None)
_libc.open_memstream.restype = ctypes.c_void_p
_libc.open_memstream.argtypes = [ctypes.POINTER(ctypes.c_char_p), ctypes.POINTER(ctypes.c_size_t)]
_libc.fclose.argtypes = [ctypes.c_void_p]
_libc.free.argtypes = [ctypes.c_void_p]
_ON_LOOP = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)
zitilib.ziti.ziti_queue_work.argtypes = [ctypes.c_void_p, _ON_LOOP, ctypes.c_void_p]
zitilib.ziti.ziti_dump.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
# ziti_dump ends "posture queries[N]:" without a newline, so the next service line follows it.
_SERVICE_LINE = re.compile(
    r"^(?:\tposture queries\[\d+\]:)?(.+): id\[(.*)\] perm\(dial=(true|false),bind=(true|false)\)$")
_CONFIG_LINE = re.compile(r"^\tconfig\[(.+?)\]=(.*)$")
_LOG_WRITER = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_size_t)
zitilib.ziti.ziti_log_set_logger.argtypes = [_LOG_WRITER]
_WATCHES = []
_LAST_LOG = [time.monotonic()]
_STRANDED = []


class ZitiCallError(Exception):
    # A failed libziti call: code is its error number, message its text.
    def __init__(self, code, message):
        super().__init__(code, message)
        self.code, self.message = code, message


def report(**fields):
    sys.stdout.write(_REPORT_PREFIX + json.dumps(fields) + "\n")
    sys.stdout.flush()


def load():
    return openziti.load(IDENTITY)


def on_loop(ctx, fn, timeout_s=10.0):
    done, out = threading.Event(), {}

    def work(ztx, _arg):
        try:
            out["result"] = fn(ztx)
        finally:
            done.set()

    callback = _ON_LOOP(work)
    zitilib.ziti.ziti_queue_work(ctx._ctx, callback, None)
    if not done.wait(timeout_s):
        _STRANDED.append(callback)
        raise TimeoutError("libziti did not run the call on its loop")
    return out.get("result")


def _log(level, location, message, length):
    _LAST_LOG[0] = time.monotonic()
    text = message[:length].decode(errors="replace")
    sys.stderr.write(f"[{level}] {location.decode(errors='replace')} {text}\n")
    for needle, event in _WATCHES:
        if needle in text:
            event.set()


_log_writer = _LOG_WRITER(_log)


def watch_log(needle):
    event = threading.Event()
    _WATCHES.append((needle, event))
    zitilib.ziti.ziti_log_set_logger(_log_writer)
    return event


def idle(quiet_s=0.5, timeout_s=10.0):
    zitilib.ziti.ziti_log_set_logger(_log_writer)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() - _LAST_LOG[0] < quiet_s:
        if time.monotonic() > deadline:
            raise TimeoutError("libziti kept logging")
        time.sleep(0.05)


def _dump(ztx):
    buf, size = ctypes.c_char_p(), ctypes.c_size_t()
    stream = _libc.open_memstream(ctypes.byref(buf), ctypes.byref(size))
    zitilib.ziti.ziti_dump(ztx, ctypes.cast(_libc.fprintf, ctypes.c_void_p), stream)
    _libc.fclose(stream)
    text = ctypes.string_at(buf, size.value).decode(errors="replace")
    _libc.free(buf)
    return text


def services(ctx):
    text = on_loop(ctx, _dump).split("\nServices:\n", 1)[1].split("\n=================", 1)[0]
    found, current = {}, None
    for line in text.splitlines():
        service, config = _SERVICE_LINE.match(line), _CONFIG_LINE.match(line)
        if service:
            current = found[service[1]] = {"id": service[2], "dial": service[3] == "true",
                                           "bind": service[4] == "true", "config": {}}
        elif config and current is not None:
            current["config"][config[1]] = json.loads(config[2])
    return found


def dial(ctx, service):
    fd = zitilib.ziti_socket(socket.SOCK_STREAM)
    if zitilib._ziti_connect(fd, ctx._ctx, service.encode(), None) != 0:
        code = zitilib._ziti_lasterr()
        raise ZitiCallError(code, zitilib.errorstr(code))
    return socket.socket(socket.AF_UNIX, socket.SOCK_STREAM, 0, fd)


try:
    exec(compile(os.environ["ZITI_AIO_SNIPPET"], "<csdk snippet>", "exec"))
    _code = 0
except BaseException:
    traceback.print_exc()
    _code = 1
sys.stdout.flush()
sys.stderr.flush()
os._exit(_code)
'''


@dataclass(frozen=True)
class CsdkResult:
    """What a C SDK child process did: exit code (``None`` when it was killed at the timeout) and output."""

    returncode: int | None
    stdout: str
    stderr: str
    timed_out: bool = False
    reports: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def describe(self) -> str:
        """The whole outcome as text, for assertion messages."""
        state = "timed out" if self.timed_out else f"exit code {self.returncode}"
        return f"{state}\n--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}"


def _reports(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line[len(REPORT_PREFIX):]) for line in stdout.splitlines() if line.startswith(REPORT_PREFIX)]


async def _run(args: list[str], *, timeout_s: float, env: dict[str, str]) -> CsdkResult:
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        returncode: int | None = None
        with trio.move_on_after(timeout_s) as scope:
            proc = await trio.run_process(args, check=False, stdin=b"", stdout=out, stderr=err,
                                          env={**os.environ, **env})
            returncode = proc.returncode
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode(errors="replace")
        stderr = err.read().decode(errors="replace")
    return CsdkResult(returncode, stdout, stderr, timed_out=scope.cancelled_caught, reports=_reports(stdout))


def _log_env(log_level: int | None) -> dict[str, str]:
    return {} if log_level is None else {"ZITI_LOG": str(log_level)}


async def csdk_enroll(jwt_path: str | Path, out_path: str | Path, *, timeout_s: float = DEFAULT_ENROLL_TIMEOUT_S,
                      log_level: int | None = None) -> CsdkResult:
    """``python -m openziti enroll -j JWT -i OUT``; on failure the wrapper leaves OUT empty."""
    args = [sys.executable, "-m", "openziti", "enroll", "-j", str(jwt_path), "-i", str(out_path)]
    return await _run(args, timeout_s=timeout_s, env=_log_env(log_level))


async def csdk_run(identity_path: str | Path, snippet: str, *, timeout_s: float = DEFAULT_RUN_TIMEOUT_S,
                   log_level: int | None = LOG_DEBUG, env: dict[str, str] | None = None) -> CsdkResult:
    """Run a Python ``snippet`` against an identity file (see the module docstring for its names).

    ``log_level`` sets ``ZITI_LOG`` (libziti logs to the child's stderr; 4 is DEBUG).
    """
    child_env = {"ZITI_AIO_IDENTITY": str(identity_path), "ZITI_AIO_REPORT_PREFIX": REPORT_PREFIX,
                 "ZITI_AIO_SNIPPET": textwrap.dedent(snippet), **_log_env(log_level), **(env or {})}
    return await _run([sys.executable, "-c", _PRELUDE], timeout_s=timeout_s, env=child_env)
