"""TlsStream: TLS over a trio socket that moves whole buffers, not one record at a time.

``trio.SSLStream`` returns at most one TLS record (16 KiB) per ``receive_some`` and reads the
socket 32 KiB at a time, so relaying a 64 KiB frame costs several trips through the scheduler.
This stream feeds everything the socket has (up to :data:`SOCKET_READ_BYTES`) to OpenSSL and
returns every record that is complete in one call; ``send_all`` encrypts the whole buffer and
writes it with one socket send. Semantics otherwise follow trio's: one receiver at a time,
sends serialised, :class:`trio.BrokenResourceError` on a TLS error or a cut without close_notify,
``b""`` after the peer's close_notify. One difference: a cancelled ``send_all`` does not break
the stream. Its data was encrypted whole and what the socket did not take yet goes out first
with the next write, so a channel shared by many circuits survives one caller's cancellation
(with trio's streams that tore a record and closed the channel for every circuit on it).
"""

from __future__ import annotations

import contextlib
import errno
import os
import ssl
import threading

import trio

from ziti_aio.transport.locks import WriteLock

SOCKET_READ_BYTES = 256 * 1024
DEFAULT_RECEIVE_BYTES = 256 * 1024
CLOSE_NOTIFY_TIMEOUT_S = 1.0

_scratch = threading.local()


def _scratch_buffers() -> tuple[memoryview, memoryview]:
    """This thread's buffers for one socket read and one decryption pass.

    Reads land here and are copied out (into OpenSSL, or as the exact-size result) before
    anything else can run, so every stream of a thread can share them. Reading into fresh 256 KiB
    objects instead (what ``recv(n)``/``read(n)`` do) and shrinking them grew the heap without
    bound under many small messages.
    """
    buffers = getattr(_scratch, "buffers", None)
    if buffers is None:
        buffers = _scratch.buffers = (memoryview(bytearray(SOCKET_READ_BYTES)),
                                      memoryview(bytearray(DEFAULT_RECEIVE_BYTES)))
    return buffers


def _stream_error(exc: OSError) -> trio.ClosedResourceError | trio.BrokenResourceError:
    """A socket error as trio's stream errors say it."""
    if exc.errno == errno.EBADF:
        return trio.ClosedResourceError("the socket was closed")
    return trio.BrokenResourceError(f"socket error: {exc}")


class TlsStream(trio.abc.Stream):
    """A TLS connection over ``transport``; call :meth:`do_handshake` (or just use it) first."""

    def __init__(self, transport: trio.SocketStream, ctx: ssl.SSLContext, *, server_side: bool = False,
                 server_hostname: str | None = None) -> None:
        self.transport_stream = transport
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._ssl = ctx.wrap_bio(self._incoming, self._outgoing, server_side=server_side,
                                 server_hostname=server_hostname)
        self._write_lock = WriteLock()
        self._receiving = False
        self._handshake_done = False
        self._handshake_lock = trio.Lock()
        self._eof = False
        self._broken = False
        self._closed = False
        self._unsent = bytearray()  # ciphertext taken from OpenSSL, not yet on the socket
        self._unsent_from = 0

    @property
    def ssl_object(self) -> ssl.SSLObject:
        return self._ssl

    def getpeercert(self, binary_form: bool = False):  # type: ignore[no-untyped-def]
        """The peer's certificate, as :meth:`ssl.SSLObject.getpeercert`."""
        return self._ssl.getpeercert(binary_form)

    def selected_alpn_protocol(self) -> str | None:
        """The protocol negotiated in the handshake (ALPN), or ``None``."""
        return self._ssl.selected_alpn_protocol()

    # --- handshake ---------------------------------------------------------------------------

    async def do_handshake(self) -> None:
        """Complete the handshake (once); :class:`trio.BrokenResourceError` if it fails."""
        self._check_open()
        async with self._handshake_lock:
            if self._handshake_done:
                await trio.lowlevel.checkpoint()
                return
            while True:
                try:
                    self._ssl.do_handshake()
                    break
                except ssl.SSLWantReadError:
                    await self._flush()
                    await self._fill()
                except ssl.SSLError as exc:
                    await self._flush_quietly()  # the alert tells the peer why
                    self._broken = True
                    raise trio.BrokenResourceError(f"TLS handshake failed: {exc}") from exc
            await self._flush()
            self._handshake_done = True

    # --- receiving ---------------------------------------------------------------------------

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        """Up to ``max_bytes`` of plaintext: everything already decryptable, or wait for more."""
        if max_bytes is None:
            max_bytes = DEFAULT_RECEIVE_BYTES
        if max_bytes < 1:
            raise ValueError("max_bytes must be >= 1")
        if self._receiving:
            raise trio.BusyResourceError("another task is already receiving on this TLS stream")
        self._receiving = True
        try:
            self._check_open()
            if not self._handshake_done:
                await self.do_handshake()
            did_io = False
            while True:
                data = self._decrypt(max_bytes)
                if data or self._eof:
                    if not did_io:
                        await trio.lowlevel.checkpoint()
                    return data
                if not self._write_lock.locked():
                    self._write_some_now()  # e.g. a reply to a post-handshake message
                await self._fill()
                did_io = True
        finally:
            self._receiving = False

    def _decrypt(self, max_bytes: int) -> bytes:
        out = _scratch_buffers()[1]
        limit = min(max_bytes, len(out))
        got = 0
        incoming = self._incoming
        while got < limit:
            if not incoming.pending and not incoming.eof and not self._ssl.pending():
                break  # nothing buffered: a read would only raise SSLWantReadError (costly)
            try:
                # With a buffer, read() returns the count filled; typeshed declares bytes.
                n: int = self._ssl.read(limit - got, out[got:limit])  # type: ignore[assignment]
            except ssl.SSLWantReadError:
                break
            except ssl.SSLZeroReturnError:
                self._eof = True
                break
            except ssl.SSLError as exc:
                if got:  # hand over what came before the error; it is raised on the next call
                    break
                self._broken = True
                raise trio.BrokenResourceError(f"TLS error: {exc}") from exc
            if not n:
                self._eof = True
                break
            got += n
        return bytes(out[:got])

    async def _fill(self) -> None:
        # The read itself is a plain non-blocking readv into the shared buffer, copied into
        # OpenSSL at once: trio's recv_into would yield after reading, letting another stream
        # overwrite the buffer first.
        buffer = _scratch_buffers()[0]
        waited = False
        while True:
            fd = self._fd()
            try:
                n = os.readv(fd, [buffer])
                break
            except BlockingIOError:
                await trio.lowlevel.wait_readable(fd)
                waited = True
            except OSError as exc:
                raise _stream_error(exc) from exc
        if n:
            self._incoming.write(buffer[:n])
        else:
            self._incoming.write_eof()
        if not waited:
            await trio.lowlevel.checkpoint()

    # --- sending -----------------------------------------------------------------------------

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        """Encrypt all of ``data`` and write it with one socket send."""
        self._check_open()
        if not self._handshake_done:
            await self.do_handshake()
        async with self._write_lock:
            self._check_open()
            try:
                if len(data):
                    self._ssl.write(data)
            except ssl.SSLError as exc:
                self._broken = True
                raise trio.BrokenResourceError(f"TLS error: {exc}") from exc
            await self._write_out()

    async def wait_send_all_might_not_block(self) -> None:
        async with self._write_lock:
            await self.transport_stream.wait_send_all_might_not_block()

    async def _flush(self) -> None:
        async with self._write_lock:
            await self._write_out()

    async def _write_out(self) -> None:
        """Write every byte of ciphertext OpenSSL produced. Cancellation-safe: bytes not yet
        written stay queued and go first next time, so a cancelled send never leaves a torn TLS
        record behind for the other users of a shared channel."""
        waited = False
        if not self._unsent and self._outgoing.pending:
            # The common case: nothing queued from before. Write OpenSSL's output as it comes
            # and queue only what the socket did not take (one copy less per send).
            fresh = self._outgoing.read()
            try:
                sent = os.write(self._fd(), fresh)
            except BlockingIOError:
                sent = 0
            except OSError as exc:
                self._broken = True
                raise _stream_error(exc) from exc
            if sent < len(fresh):
                self._unsent += memoryview(fresh)[sent:]
        self._take_outgoing()
        while self._unsent_from < len(self._unsent):
            fd = self._fd()
            try:
                self._write_once(fd)
            except BlockingIOError:
                await trio.lowlevel.wait_writable(fd)
                waited = True
            except OSError as exc:
                self._broken = True
                raise _stream_error(exc) from exc
        self._unsent.clear()
        self._unsent_from = 0
        if not waited:
            await trio.lowlevel.checkpoint()

    def _fd(self) -> int:
        fd = self.transport_stream.socket.fileno()
        if fd < 0:
            raise trio.ClosedResourceError("the socket was closed")
        return fd

    def _take_outgoing(self) -> None:
        if self._outgoing.pending:
            if self._unsent_from:
                del self._unsent[: self._unsent_from]
                self._unsent_from = 0
            self._unsent += self._outgoing.read()

    def _write_some_now(self) -> None:
        """Without waiting (the reader must never block on writing), push out what is queued."""
        self._take_outgoing()
        if self._unsent_from < len(self._unsent):
            try:  # noqa: SIM105 (try/except costs less than a context manager on this hot path)
                self._write_once(self._fd())
            except (OSError, trio.ClosedResourceError):
                pass  # full (tried again with the next write) or broken/closed (the next write says so)

    def _write_once(self, fd: int) -> None:
        self._unsent_from += os.write(fd, memoryview(self._unsent)[self._unsent_from:])

    async def _flush_quietly(self) -> None:
        try:
            with trio.move_on_after(CLOSE_NOTIFY_TIMEOUT_S):
                await self._flush()
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass

    # --- closing -----------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise trio.ClosedResourceError("the TLS stream is closed")
        if self._broken:
            raise trio.BrokenResourceError("the TLS stream is broken")

    async def aclose(self) -> None:
        """Send close_notify (best effort, bounded) and close the socket."""
        if self._closed:
            await trio.lowlevel.checkpoint()
            return
        self._closed = True
        try:
            if self._handshake_done and not self._broken:
                # unwrap wants the peer's close_notify too; ours is queued already
                with contextlib.suppress(ssl.SSLError):
                    self._ssl.unwrap()
                await self._flush_quietly()
        finally:
            await self.transport_stream.aclose()
