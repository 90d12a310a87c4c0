"""Every Kafka client's TLS and SASL arguments, made from one :class:`~streams.core.settings.KafkaSecurity`.

Faust takes ``broker_credentials`` (:func:`faust_credentials`), aiokafka and kafka-python take keyword
arguments (:func:`client_options`); all of them share one
:class:`ssl.SSLContext` built here, so a CA or client certificate is read the same way everywhere.

The client libraries meet a wrong password or an untrusted certificate with reconnect loops
(kafka-python retries until its bootstrap timeout and then says only "Unable to bootstrap"; a Faust
worker keeps retrying). So every process first makes one connection of its own
(:func:`check_connection`) and stops with one line that names the cause: authentication failed,
certificate not trusted, broker not reachable. Secrets never appear in these messages or in logs.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import ssl
from collections.abc import Callable
from typing import Any, TypeVar

from streams.core.settings import KafkaSecurity, Settings

log = logging.getLogger(__name__)

T = TypeVar("T")


class KafkaConnectError(RuntimeError):
    """A process cannot connect to Kafka; the message says why in one line, without secrets.

    ``retriable``: no broker could be reached at all (it may still be starting); a refused password
    or certificate is never retriable.
    """

    def __init__(self, message: str, *, retriable: bool = False) -> None:
        super().__init__(message)
        self.retriable = retriable


def ssl_context(security: KafkaSecurity) -> ssl.SSLContext | None:
    """The TLS context of every client (None without TLS): the CA to trust and the client certificate."""
    if not security.uses_tls:
        return None
    try:
        context = ssl.create_default_context(cafile=str(security.ssl_cafile) if security.ssl_cafile else None)
    except (ssl.SSLError, OSError) as exc:
        raise KafkaConnectError(f"cannot read the Kafka CA file {security.ssl_cafile}: {exc}") from None
    context.check_hostname = security.ssl_check_hostname
    if security.ssl_certfile:
        password = security.ssl_key_password.get_secret_value() if security.ssl_key_password else None
        try:
            context.load_cert_chain(
                str(security.ssl_certfile), str(security.ssl_keyfile) if security.ssl_keyfile else None, password
            )
        except (ssl.SSLError, OSError) as exc:
            raise KafkaConnectError(
                f"cannot load the Kafka client certificate {security.ssl_certfile}"
                f"{f' with key {security.ssl_keyfile}' if security.ssl_keyfile else ''}: {exc}"
            ) from None
    return context


def _sasl(security: KafkaSecurity) -> dict[str, Any]:
    if not security.uses_sasl:
        return {}
    assert security.sasl_password is not None  # KafkaSecurity refuses SASL without one
    return {
        "sasl_mechanism": security.sasl_mechanism,
        "sasl_plain_username": security.sasl_username,
        "sasl_plain_password": security.sasl_password.get_secret_value(),
    }


def client_options(settings: Settings) -> dict[str, Any]:
    """``bootstrap_servers`` and the security arguments of an aiokafka or kafka-python client.

    Both libraries take the same names, and each uses a given ``ssl_context`` as it is (kafka-python's
    ``ssl_check_hostname`` applies to the context it builds itself, not to this one).
    """
    security = settings.kafka_security
    options: dict[str, Any] = {"bootstrap_servers": settings.kafka_bootstrap, "security_protocol": security.protocol}
    context = ssl_context(security)
    if context is not None:
        options["ssl_context"] = context
    return options | _sasl(security)


def faust_credentials(security: KafkaSecurity) -> Any:
    """Faust's ``broker_credentials`` (None for PLAINTEXT): its aiokafka driver passes them on to every client."""
    import faust

    context = ssl_context(security)
    if security.uses_sasl:
        assert security.sasl_password is not None
        # With an ssl_context Faust makes the protocol SASL_SSL, without one SASL_PLAINTEXT.
        return faust.SASLCredentials(
            username=security.sasl_username, password=security.sasl_password.get_secret_value(),
            mechanism=security.sasl_mechanism, ssl_context=context,
        )
    if context is not None:
        return faust.SSLCredentials(context)
    return None


def _hosts(bootstrap: str) -> list[tuple[str, int]]:
    from streams.kafka.broker import host_port

    return [host_port(part) for part in bootstrap.split(",") if part.strip()]


def _reason(exc: BaseException, security: KafkaSecurity) -> str:
    """What went wrong, in words an operator can act on."""
    from aiokafka import errors

    if isinstance(exc, ssl.SSLCertVerificationError):
        trusted = f"the CA file {security.ssl_cafile}" if security.ssl_cafile else "the system's CAs"
        return f"the broker's TLS certificate is not trusted by {trusted} ({exc.verify_message})"
    if isinstance(exc, ssl.SSLError):
        hint = ""
        if "CERTIFICATE_REQUIRED" in str(exc).upper() or "CERTIFICATE REQUIRED" in str(exc).upper():
            hint = "; the broker wants a client certificate (ssl_certfile/ssl_keyfile)"
        return f"TLS handshake failed: {exc.reason or exc}{hint}"
    if isinstance(exc, (errors.SaslAuthenticationFailed, errors.IllegalSaslStateError)):
        return (f"authentication failed for user {security.sasl_username!r} with {security.sasl_mechanism} "
                f"(wrong user name or password?): {exc}")
    if isinstance(exc, errors.UnsupportedSaslMechanismError):
        return f"the broker does not offer SASL mechanism {security.sasl_mechanism}: {exc}"
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        hint = "" if security.uses_tls else " (a TLS listener reached without TLS answers nothing: protocol SSL or SASL_SSL?)"
        return f"no answer within {security.connect_timeout_s:g} s{hint}"
    if isinstance(exc, errors.KafkaConnectionError):
        during = "authentication" if security.uses_sasl else "the connection handshake"
        if not security.uses_tls:
            hint = " (a TLS listener closes connections that do not speak TLS: protocol SSL or SASL_SSL?)"
        elif not security.ssl_certfile:
            hint = " (a listener that requires client certificates does this: ssl_certfile and ssl_keyfile?)"
        else:
            hint = ""
        return f"the broker closed the connection during {during}{hint}: {exc}"
    if isinstance(exc, OSError):
        return f"cannot reach the broker: {exc.strerror or exc}"
    return f"{type(exc).__name__}: {exc}"


async def probe(settings: Settings) -> None:
    """Connect (TLS handshake and SASL included) to the first bootstrap broker that answers; raise
    :class:`KafkaConnectError` naming the cause when none does within ``connect_timeout_s``."""
    from aiokafka.conn import create_conn

    security = settings.kafka_security
    context = ssl_context(security)
    timeout_s = security.connect_timeout_s
    failures: list[str] = []
    unreachable = True
    for host, port in _hosts(settings.kafka_bootstrap):
        try:
            conn = await asyncio.wait_for(
                create_conn(host, port, client_id="brandpulse-check", request_timeout_ms=int(timeout_s * 1000),
                            ssl_context=context, security_protocol=security.protocol, **_sasl(security)),
                timeout_s,
            )
        except Exception as exc:  # noqa: BLE001 - every failure is reported, with its cause in words
            failures.append(f"{host}:{port}: {_reason(exc, security)}")
            unreachable &= isinstance(exc, OSError) and not isinstance(exc, ssl.SSLError)
            continue
        conn.close()
        log.info("Kafka reachable at %s:%d (%s)", host, port, security.describe())
        return
    raise KafkaConnectError(
        f"cannot connect to Kafka ({security.describe()}): " + "; ".join(failures or ["no bootstrap server given"]),
        retriable=unreachable and bool(failures),
    )


def check_connection(settings: Settings) -> None:
    """:func:`probe` from synchronous code, also where an event loop already runs (it uses a thread of its own)."""
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="brandpulse-kafka-check") as pool:
        pool.submit(asyncio.run, probe(settings)).result()


def open_client(factory: Callable[..., T], settings: Settings, *args: Any, **overrides: Any) -> T:
    """A kafka-python client (``KafkaProducer``, ``KafkaConsumer``, ``KafkaAdminClient``) for these settings,
    made only once :func:`check_connection` has passed, so a wrong password is one clear error, not a retry loop."""
    check_connection(settings)
    return factory(*args, **(client_options(settings) | overrides))
