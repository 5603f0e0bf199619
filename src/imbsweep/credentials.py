"""Passwords in store URLs: kept out of everything imbsweep writes, logs or passes on.

A tracking URI such as ``postgresql+psycopg://me:secret@db/mlflow`` may come from the
environment (``MLFLOW_TRACKING_URI``). imbsweep shows and passes on only its redacted form
(``me:***@db``): in log lines, the overrides a unit receives (and so the ``.hydra/`` files of
each job), tags and params. A process that gets a redacted URI takes the password back from
its own ``MLFLOW_TRACKING_URI`` when that is the same store, else connects without one, so that
PostgreSQL's client reads it from ``PGPASSWORD`` or the pass file (``~/.pgpass``, ``PGPASSFILE``).
"""

from __future__ import annotations

import os
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "***"
# Query keys that carry a secret in database URLs (libpq, SQLAlchemy drivers).
_SECRET_KEYS = frozenset({"password", "passwd", "pwd", "sslpassword"})


def _split(url: str):
    try:
        return urlsplit(url)
    except ValueError:  # not a URL at all (e.g. a malformed IPv6 host): nothing to find
        return None


def redact(url: str | None) -> str | None:
    """``url`` with its password (userinfo or query) replaced by ``***``; else unchanged."""
    if not url or "://" not in url:
        return url
    parts = _split(url)
    if parts is None:
        return url
    netloc = parts.netloc
    if parts.password is not None and "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{MASK}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(k.lower() in _SECRET_KEYS for k, _ in pairs):
            pairs = [(k, MASK if k.lower() in _SECRET_KEYS else v) for k, v in pairs]
            query = urlencode(pairs, safe="*")
    if netloc == parts.netloc and query == parts.query:
        return url
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def has_secret(url: str | None) -> bool:
    """Whether ``url`` carries a password (a redacted one does not)."""
    return redact(url) != url


def is_redacted(url: str | None) -> bool:
    return bool(url) and redact(url) == url and MASK in url and "://" in url


def restore(url: str | None) -> str | None:
    """The URL to connect with, for a URL that may have been redacted.

    The password comes back from this process's ``MLFLOW_TRACKING_URI`` when it names the same
    store; otherwise the masked password is dropped (PostgreSQL then reads ``PGPASSWORD`` or
    the pass file; MLflow's server takes ``MLFLOW_TRACKING_USERNAME`` / ``_PASSWORD``).
    """
    if not is_redacted(url):
        return url
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env and redact(env) == url:
        return env
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password == MASK:
        userinfo, host = netloc.rsplit("@", 1)
        netloc = f"{userinfo.split(':', 1)[0]}@{host}"
    pairs = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if v != MASK]
    return urlunsplit((parts.scheme, netloc, parts.path, urlencode(pairs), parts.fragment))


# A password inside free text (an error listing overrides, a log line): in a URL's userinfo
# (also as Hydra escapes it, ``me\\:pw@``) or as a query parameter.
_USERINFO = re.compile(r"(://[^\s/@:]*(?:\\)?:)[^\s@/]+@")
_QUERY = re.compile(r"((?:password|passwd|pwd|sslpassword)=)[^&\s'\"]+", re.IGNORECASE)


def redact_text(text: str) -> str:
    """``text`` with every URL password in it masked (for messages that quote user input)."""
    return _QUERY.sub(rf"\g<1>{MASK}", _USERINFO.sub(rf"\g<1>{MASK}@", text))
