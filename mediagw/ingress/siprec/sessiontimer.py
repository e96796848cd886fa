"""Session timer negotiation (RFC 4028) for the recording server, sans-I/O: what a request asks for and what we
grant. The SRC is always the refresher."""

from __future__ import annotations

from mediagw.ingress.siprec.sip import SipError, SipRequest
from mediagw.ingress.siprec.sipheaders import parse_params


def option_tags(request: SipRequest, name: str) -> list[str]:
    """The option tags of `Require`, `Supported` or the like, lower case, every header value together."""
    return [tag.strip().lower() for value in request.headers.get_all(name) for tag in value.split(",") if tag.strip()]


def session_expires(request: SipRequest, min_interval: int, max_interval: int) -> tuple[int, bool]:
    """The interval the SRC asked for, capped at `max_interval` (0: none); True when below `min_interval` (422).

    The SRC refreshes (refresher=uac). When it asks us to (refresher=uas) or does not support timers (a proxy
    put the header in), the timer is declined: no Session-Expires in the 2xx, so no side expects refreshes
    that we do not send. A refresh in the dialog keeps the timer even without `Supported: timer` again.
    """
    value = request.headers.get("Session-Expires")
    if value is None:
        return 0, False
    interval, _, params = value.partition(";")
    try:
        asked = int(interval.strip())
    except ValueError as error:
        raise SipError(400, "Bad Session-Expires") from error
    refresher = parse_params(params).get("refresher", "").lower()
    supported = "timer" in option_tags(request, "Supported") + option_tags(request, "Require")
    if refresher == "uas" or not (supported or request.to_tag):
        return 0, False
    if asked < min_interval:
        return 0, True
    return min(asked, max_interval), False
