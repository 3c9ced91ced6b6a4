"""The SSRF guard of tenant callback URLs: what a tenant may make the service POST to.

Only ``http``/``https`` URLs with a host and no credentials. Unless
``WEBHOOK_ALLOW_PRIVATE_NETWORKS`` (tests and local runs), the host is resolved
(``socket.getaddrinfo``, at most ``WEBHOOK_DNS_TIMEOUT`` seconds) and refused when **any** of its
addresses is loopback, private, link-local, multicast, reserved, unspecified or otherwise not
global (an IPv4 address mapped into IPv6 is judged as the IPv4 address): a tenant could otherwise
make the service probe the internal network. The check runs when a URL is set and again before
every POST (the name may resolve elsewhere by then); the POST never follows a redirect.
"""

from __future__ import annotations

import ipaddress
import socket
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from urllib.parse import urlsplit

from django.conf import settings

from gm_server_notify.errors import InvalidInput

MAX_URL_LENGTH = 500

# Name resolution cannot be given a timeout of its own: it runs in these threads and the caller
# stops waiting after WEBHOOK_DNS_TIMEOUT (a stuck lookup then occupies a thread, never a request).
_RESOLVERS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="webhook-dns")


def _getaddrinfo(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to (tests replace this: no lookup leaves loopback)."""
    return [info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


def _resolve(host: str, port: int) -> list[str]:
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    else:
        return [str(literal)]
    future = _RESOLVERS.submit(_getaddrinfo, host, port)
    try:
        return future.result(timeout=settings.WEBHOOK_DNS_TIMEOUT)
    except FutureTimeout as exc:
        raise InvalidInput(
            f"{host} did not resolve within {settings.WEBHOOK_DNS_TIMEOUT:g} s", field="url"
        ) from exc
    except (OSError, UnicodeError, ValueError) as exc:
        raise InvalidInput(f"{host} does not resolve", field="url") from exc


def forbidden_reason(address: str) -> str:
    """Why a callback may not go to ``address`` ("" when it may)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    # Most specific first: Python counts link-local and unspecified addresses as private too.
    for kind in ("loopback", "link_local", "multicast", "unspecified", "reserved", "private"):
        if getattr(ip, f"is_{kind}"):
            return kind.replace("_", "-")
    return "" if ip.is_global else "not global"


def check_url(url: str) -> str:
    """``url`` when the service may POST tenant events to it; else ``InvalidInput`` (field
    ``url``) saying why (``ER:0004`` in the tenant API)."""
    if len(url) > MAX_URL_LENGTH:
        raise InvalidInput(f"at most {MAX_URL_LENGTH} characters", field="url")
    if any(char.isspace() or ord(char) < 32 or ord(char) == 127 for char in url):
        raise InvalidInput("a URL holds no spaces or control characters", field="url")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidInput(f"not a URL: {exc}", field="url") from exc
    if parts.scheme not in ("http", "https"):
        raise InvalidInput("only http and https URLs", field="url")
    host = parts.hostname
    if not host:
        raise InvalidInput("the URL names no host", field="url")
    if parts.username is not None or parts.password is not None:
        raise InvalidInput("no credentials in the URL: verify the signature instead", field="url")
    if settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS:
        return url
    addresses = _resolve(host, port or (443 if parts.scheme == "https" else 80))
    if not addresses:
        raise InvalidInput(f"{host} does not resolve", field="url")
    for address in addresses:
        try:
            reason = forbidden_reason(address)
        except ValueError:
            reason = "not an IP address"
        if reason:
            raise InvalidInput(
                f"{host} resolves to a {reason} address ({address}): callbacks go to public addresses only",
                field="url",
            )
    return url
