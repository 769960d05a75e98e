"""Keeping MQTT passwords out of every printed form of a URL. Standard library only.

A password may hold any character: ``@ / # ? [ ] :``, ``%`` and any Unicode. In
``mqtt://user:password@host/station`` nothing after the host can contain ``@`` (hosts and
station names cannot), so the user information runs from ``://`` to the **last** ``@``, and
the password is everything in it after the first ``:``. That one rule finds the password
however it is written (percent-encoded or not), so it is masked even in a URL that does not
parse. Why: docs/security.md ("Secrets").
"""

from __future__ import annotations

MASK = "***"


def split_userinfo(text: str) -> tuple[str, str | None, str | None, str]:
    """``(prefix, user, password, rest)`` where ``prefix`` is ``scheme://`` (or empty),
    ``user`` and ``password`` are as written (``None`` when absent) and ``rest`` is what follows
    the last ``@`` (host, port, path): ``prefix + user + ":" + password + "@" + rest``."""
    scheme, sep, after = text.partition("://")
    prefix, body = (scheme + sep, after) if sep else ("", text)
    at = body.rfind("@")
    if at < 0:
        return prefix, None, None, body
    user, colon, password = body[:at].partition(":")
    return prefix, user, password if colon else None, body[at + 1:]


def redact_url(text: str) -> str:
    """The URL with its password replaced by ``***`` (``mqtt://cg:***@host/x``)."""
    prefix, user, password, rest = split_userinfo(text)
    if user is None:
        return text
    return f"{prefix}{user}{':' + MASK if password is not None else ''}@{rest}"


def without_password(text: str) -> str:
    """The URL with its password removed (``mqtt://cg@host/x``): still a URL that parses, for
    the session file's config snapshot."""
    prefix, user, _, rest = split_userinfo(text)
    if user is None:
        return text
    return f"{prefix}{user}@{rest}"
