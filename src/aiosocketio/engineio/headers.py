"""Response headers the engine adds on its own: CORS (docs/protocol/engineio.md#cors-cookie-hooks), the sticky-session cookie (docs/protocol/engineio.md#cors-cookie-hooks) and HTTP
compression of polling responses (docs/protocol/engineio.md#polling-get).

Why a pure module: browsers and load balancers judge these headers byte for byte, so they must come out
exactly as the reference (npm ``engine.io`` with the npm ``cors`` middleware and the npm ``cookie``
serializer) writes them — names, order and values. Kept free of I/O, the rules are tested exhaustively with
plain values; the engine only feeds request data in and copies the results into its responses.

CORS flow, driven by the engine for every HTTP and upgrade request, before request verification (docs/protocol/engineio.md#verification):

1. ``options = CorsOptions.from_user(cors)`` once at start-up (``None`` means CORS is off).
2. Per request: ``value = options.origin``; if ``origin_is_dynamic(options)``, call
   ``value = options.origin(request_origin)`` and await the result when it is awaitable.
   ``allowed = resolve_origin(value)`` (for a static origin this can be computed once). An exception from the
   callable or from ``resolve_origin`` is a middleware failure: code 3 "Bad request", context
   ``{"name": "MIDDLEWARE_FAILURE"}``.
3. ``headers, answered = cors_headers(options, method=..., request_origin=..., request_headers=...,
   allowed_origin=allowed)``. Add ``headers`` to whatever response the request gets (error responses
   too, docs/protocol/engineio.md#cors). If ``answered``, reply at once: status ``options.options_success_status``,
   ``Content-Length: 0``, empty body. ``cors_headers`` raises ``ValueError`` rather than reflect a value
   that is not a valid header value; treat that as a middleware failure too.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Self, TypeAlias, TypeVar, cast
from urllib.parse import quote

__all__ = [
    "AllowedOrigin",
    "CompressionOptions",
    "CookieOptions",
    "CorsOptions",
    "OriginResult",
    "choose_encoding",
    "compress",
    "cors_headers",
    "hook_header_pairs",
    "origin_is_dynamic",
    "resolve_origin",
    "set_cookie_header",
]

OriginItem: TypeAlias = str | re.Pattern[str]
#: What an ``origin`` setting, or the ``origin`` callable, may give.
OriginResult: TypeAlias = str | bool | re.Pattern[str] | Sequence[OriginItem] | None
OriginCallable: TypeAlias = Callable[[str | None], OriginResult | Awaitable[OriginResult]]
#: A resolved origin policy: "*" (any), other str (fixed), True (reflect), tuple (reflect if it matches).
AllowedOrigin: TypeAlias = str | Literal[True] | tuple[OriginItem, ...]
_Options = TypeVar("_Options")

DEFAULT_METHODS = "GET,HEAD,PUT,PATCH,POST,DELETE"
# Node's http module refuses header values with these characters (control chars except TAB, DEL, > 0xFF).
_BAD_HEADER_CHAR = re.compile(r"[^\t\x20-\x7e\x80-\xff]")


def _check_header_value(value: str, what: str) -> str:
    if _BAD_HEADER_CHAR.search(value):
        raise ValueError(f"{what} contains characters that are not allowed in an HTTP header: {value!r}")
    return value


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _join(value: str | Sequence[str], what: str) -> str:
    if isinstance(value, str):
        return _check_header_value(value, what)
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise TypeError(f"{what} must be a str or a list of str, not {value!r}")
    return _check_header_value(",".join(value), what)


def _read_option(
    cls: type[_Options], value: object, aliases: Mapping[str, str], what: str
) -> _Options | None:
    """Read an option: None/False (off), True (defaults), an instance, or a dict (camelCase keys too)."""
    if value is None or value is False:
        return None
    if value is True:
        return cls()
    if isinstance(value, cls):
        return value
    if not isinstance(value, Mapping):
        raise TypeError(f"{what}= must be None, a bool, a dict or a {cls.__name__}, not {value!r}")
    names = list(getattr(cls, "__dataclass_fields__"))  # noqa: B009
    kwargs: dict[str, Any] = {}
    for key, item in value.items():
        name = aliases.get(key, key)
        if name not in names:
            valid = ", ".join(names + sorted(aliases))
            raise TypeError(f"unknown {what} option {key!r}; valid keys are: {valid}")
        if name in kwargs:
            raise TypeError(f"{what} option {name!r} is given twice (as {key!r} and another spelling)")
        kwargs[name] = item
    if kwargs.get("path") is False:  # the reference: path false drops Path, and HttpOnly unless given
        kwargs["path"] = None
        kwargs.setdefault("http_only", False)
    return cls(**kwargs)


# --------------------------------------------------------------------------------------------------- CORS


def resolve_origin(value: object) -> AllowedOrigin | None:
    """Normalise an origin setting (static, or the result of the ``origin`` callable).

    ``None`` means the middleware stays silent: no CORS headers at all, and a preflight is not answered.
    Like the reference, "", None and False all mean that; an empty list does not (it just matches nothing).
    """
    if value is None or value is False or value == "":
        return None
    if value is True or isinstance(value, str):
        return value
    if isinstance(value, re.Pattern):
        value = (value,)
    if isinstance(value, list | tuple):
        for item in value:
            if not isinstance(item.pattern if isinstance(item, re.Pattern) else item, str):
                raise TypeError(f"CORS origin list items must be str or compiled str regexes, not {item!r}")
        return tuple(value)
    if callable(value):
        raise TypeError("call the CORS origin callable first and pass its result to resolve_origin()")
    raise TypeError(f"invalid CORS origin {value!r}: use '*', a bool, a str, a regex, a list, a callable")


@dataclass(frozen=True, slots=True)
class CorsOptions:
    """The ``cors=`` option, with the reference defaults (npm ``cors`` merged with engine.io's)."""

    origin: OriginResult | OriginCallable = "*"
    # The three header lists may be given as sequences; they are stored as comma-joined strings.
    methods: str | Sequence[str] = DEFAULT_METHODS
    allowed_headers: str | Sequence[str] | None = None  # None or "": reflect Access-Control-Request-Headers
    exposed_headers: str | Sequence[str] | None = None
    credentials: bool = False
    max_age: int | None = None  # seconds
    preflight_continue: bool = False
    options_success_status: int = 204

    def __post_init__(self) -> None:
        if not callable(self.origin):
            resolved = resolve_origin(self.origin)  # validates
            if isinstance(resolved, tuple):
                object.__setattr__(self, "origin", resolved)
        for name in ("methods", "allowed_headers", "exposed_headers"):
            value = getattr(self, name)
            if name == "allowed_headers" and value == "":
                value = None  # as in the reference, "" means reflect, while an empty list means none
            object.__setattr__(self, name, None if value is None else _join(value, f"CORS {name}"))
        for name in ("credentials", "preflight_continue"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"CORS {name} must be a bool")
        if self.max_age is not None and not _is_int(self.max_age):
            raise TypeError("CORS max_age must be an int (seconds) or None")
        if not _is_int(self.options_success_status) or not 100 <= self.options_success_status <= 599:
            raise TypeError("CORS options_success_status must be an HTTP status code (int)")

    @classmethod
    def from_user(cls, value: object) -> Self | None:
        """Read ``cors=``: None/False (off), True (defaults), a dict (snake_case or camelCase keys)."""
        aliases = {
            "allowedHeaders": "allowed_headers",
            "headers": "allowed_headers",
            "exposedHeaders": "exposed_headers",
            "maxAge": "max_age",
            "optionsSuccessStatus": "options_success_status",
            "preflightContinue": "preflight_continue",
        }
        return _read_option(cls, value, aliases, "cors")


def origin_is_dynamic(options: CorsOptions) -> bool:
    """True when ``options.origin`` is a callable, to run (and await if needed) for every request."""
    return callable(options.origin)


def cors_headers(
    options: CorsOptions,
    *,
    method: str,
    request_origin: str | None,
    request_headers: str | None,
    allowed_origin: AllowedOrigin | None,
) -> tuple[list[tuple[str, str]], bool]:
    """The CORS headers for one request, in the reference's order, and whether to answer it now (preflight).

    ``request_headers`` is the request's ``Access-Control-Request-Headers`` value; ``allowed_origin`` comes
    from :func:`resolve_origin`. All ``Vary`` tokens are merged into one header at its first position.
    """
    if allowed_origin is None:
        return [], False
    headers: list[tuple[str, str]] = []
    # Like npm `vary`, every token goes into one Vary header, which stays where it was first set.
    vary: list[str] = []
    if isinstance(allowed_origin, str):  # "*" (no Vary) or a fixed origin
        headers.append(("Access-Control-Allow-Origin", allowed_origin))
        if allowed_origin != "*":
            vary.append("Origin")
    else:  # reflect the request's origin when it is allowed
        if request_origin and (
            allowed_origin is True
            or any(
                item == request_origin if isinstance(item, str) else item.search(request_origin)
                for item in allowed_origin
            )
        ):
            headers.append(("Access-Control-Allow-Origin", _check_header_value(request_origin, "Origin")))
        vary.append("Origin")
    vary_at = len(headers)
    if options.credentials:
        headers.append(("Access-Control-Allow-Credentials", "true"))

    preflight = method.upper() == "OPTIONS"
    if preflight:
        if options.methods:
            headers.append(("Access-Control-Allow-Methods", cast(str, options.methods)))
        if options.allowed_headers is None:
            vary_at = vary_at if vary else len(headers)
            vary.append("Access-Control-Request-Headers")
            if request_headers:
                value = _check_header_value(request_headers, "Access-Control-Request-Headers")
                headers.append(("Access-Control-Allow-Headers", value))
        elif options.allowed_headers:
            headers.append(("Access-Control-Allow-Headers", cast(str, options.allowed_headers)))
        if options.max_age is not None:
            headers.append(("Access-Control-Max-Age", str(options.max_age)))
    if options.exposed_headers:
        headers.append(("Access-Control-Expose-Headers", cast(str, options.exposed_headers)))
    if vary:
        headers.insert(vary_at, ("Vary", ", ".join(vary)))
    return headers, preflight and not options.preflight_continue


# ------------------------------------------------------------------------------------------ header hooks


def _header_text(value: object) -> str:
    """A header value as JavaScript's ``String()`` gives it for the values a hook plausibly sets."""
    if value is True or value is False:
        return "true" if value else "false"
    return str(value)


def hook_header_pairs(headers: Mapping[str, object]) -> list[tuple[str, str]]:
    """The header lines for the dict the ``initial_headers`` / ``headers`` hooks filled, as Node's
    ``writeHead`` writes a headers object: a list (or tuple) gives one line per item, so a hook can set
    several ``Set-Cookie`` headers (an empty list gives none); a ``Cookie`` list of two or more items is the
    exception, its items joined with ``"; "`` on one line.
    """
    pairs: list[tuple[str, str]] = []
    for name, value in headers.items():
        if isinstance(value, list | tuple):
            if len(value) >= 2 and name.lower() == "cookie":
                pairs.append((name, "; ".join(_header_text(item) for item in value)))
            else:
                pairs.extend((name, _header_text(item)) for item in value)
        else:
            pairs.append((name, _header_text(value)))
    return pairs


# ------------------------------------------------------------------------------------------------- cookie

# RFC 6265 token (cookie name), path-value without ";" and "<" (as the npm serializer checks), and domain.
_COOKIE_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_COOKIE_PATH = re.compile(r"[\x20-\x3a\x3d-\x7e]*")
_COOKIE_DOMAIN = re.compile(r"\.?[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*")
_SAME_SITE: dict[object, str | None] = {"lax": "Lax", "strict": "Strict", "none": "None", True: "Strict"}
_SAME_SITE.update({False: None, None: None})  # True/False/None: the reference's sameSite: true/false
_PRIORITY: dict[object, str | None] = {"low": "Low", "medium": "Medium", "high": "High", None: None}
_URI_COMPONENT_SAFE = "!*'()"  # with quote()'s own safe set: what JavaScript's encodeURIComponent keeps
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True, slots=True)
class CookieOptions:
    """The ``cookie=`` option: a ``Set-Cookie`` on the polling handshake response, value = the session id."""

    name: str = "io"
    path: str | None = "/"  # None: no Path attribute
    domain: str | None = None
    expires: datetime | None = None  # must be timezone-aware
    max_age: int | None = None  # seconds
    http_only: bool = True
    same_site: str | bool | None = "Lax"  # Lax/Strict/None (any case), True = Strict, False/None = omit
    secure: bool = False
    partitioned: bool = False
    priority: str | None = None  # "Low" / "Medium" / "High" (any case)

    def __post_init__(self) -> None:
        for attr, pattern, optional in (
            ("name", _COOKIE_NAME, False),
            ("path", _COOKIE_PATH, True),
            ("domain", _COOKIE_DOMAIN, True),
        ):
            value = getattr(self, attr)
            if not (optional and value is None) and not (isinstance(value, str) and pattern.fullmatch(value)):
                raise ValueError(f"invalid cookie {attr} {value!r}")
        if self.expires is not None and getattr(self.expires, "tzinfo", None) is None:
            raise TypeError("cookie expires must be an aware datetime, e.g. datetime.now(UTC) + delta")
        if self.max_age is not None and not _is_int(self.max_age):
            raise TypeError("cookie max_age must be an int (seconds) or None")
        for flag in ("http_only", "secure", "partitioned"):
            if not isinstance(getattr(self, flag), bool):
                raise TypeError(f"cookie {flag} must be a bool")
        for attr, choices in (("same_site", _SAME_SITE), ("priority", _PRIORITY)):
            value = getattr(self, attr)
            key = value.lower() if isinstance(value, str) else value
            if not (key is None or isinstance(key, str | bool)) or key not in choices:
                raise ValueError(f"invalid cookie {attr} {value!r}: use one of {list(choices)}")
            object.__setattr__(self, attr, choices[key])

    @classmethod
    def from_user(cls, value: object) -> Self | None:
        """Read ``cookie=``: None/False (no cookie), True (defaults), a dict; ``path: False`` as in docs/protocol/engineio.md#cors-cookie-hooks."""
        aliases = {"maxAge": "max_age", "httpOnly": "http_only", "sameSite": "same_site"}
        return _read_option(cls, value, aliases, "cookie")


def _http_date(moment: datetime) -> str:
    utc = moment.astimezone(UTC)  # as JavaScript's Date.toUTCString(), whatever the locale
    return f"{_DAYS[utc.weekday()]}, {utc:%d} {_MONTHS[utc.month - 1]} {utc.year:04d} {utc:%H:%M:%S} GMT"


def set_cookie_header(options: CookieOptions, sid: str) -> str:
    """The ``Set-Cookie`` value, attributes in the npm ``cookie`` serializer's order."""
    parts = [f"{options.name}={quote(sid, safe=_URI_COMPONENT_SAFE)}"]
    if options.max_age is not None:
        parts.append(f"Max-Age={options.max_age}")
    if options.domain:
        parts.append(f"Domain={options.domain}")
    if options.path:
        parts.append(f"Path={options.path}")
    if options.expires is not None:
        parts.append(f"Expires={_http_date(options.expires)}")
    if options.http_only:
        parts.append("HttpOnly")
    if options.secure:
        parts.append("Secure")
    if options.partitioned:
        parts.append("Partitioned")
    if options.priority:
        parts.append(f"Priority={options.priority}")
    if options.same_site:
        parts.append(f"SameSite={options.same_site}")
    return "; ".join(parts)


# -------------------------------------------------------------------------------------------- compression


@dataclass(frozen=True, slots=True)
class CompressionOptions:
    """The ``http_compression=`` option: polling GET bodies of ``threshold`` bytes or more get compressed."""

    threshold: int = 1024

    def __post_init__(self) -> None:
        if not _is_int(self.threshold) or self.threshold < 0:
            raise TypeError("http_compression threshold must be an int >= 0 (bytes)")

    @classmethod
    def from_user(cls, value: object) -> Self | None:
        """Read ``http_compression=``: True/None (on, 1024 bytes), False (off), ``{"threshold": n}``."""
        return _read_option(cls, True if value is None else value, {}, "http_compression")


_CODINGS = ("gzip", "deflate")
# gzip wrapper (zlib writes mtime 0 and this OS byte, as Node does); zlib wrapper (RFC 1950) = HTTP "deflate"
_WBITS = {"gzip": 31, "deflate": 15}
_Q_PARAM = re.compile(r"\s*q=\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)?")  # lenient, like parseFloat


def choose_encoding(accept_encoding: str | None) -> str | None:
    """Pick "gzip", "deflate" or None from an ``Accept-Encoding`` value, negotiating as the reference does.

    Each coding takes its exact entry if listed (even with q=0, which excludes it), else the ``*`` entry. The
    best q wins; at equal q an exact entry beats ``*``, then the one listed first, then gzip. No header means
    no compression.
    """
    if not accept_encoding:
        return None
    best: dict[str, tuple[int, float, int]] = {}  # coding -> (exact entry?, q, position) of its entry
    for position, entry in enumerate(accept_encoding.split(",")):
        coding, _, params = entry.partition(";")
        coding = coding.strip().lower()
        if not coding or any(char.isspace() for char in coding):
            continue
        q = 1.0
        for param in params.split(";"):
            if match := _Q_PARAM.match(param):
                q = float(match.group(1) or 0)  # an unreadable q excludes the coding
                break
        for candidate in _CODINGS:
            if coding == candidate:
                spec = (1, q, position)
            elif coding == "*":
                spec = (0, q, position)
            else:
                continue
            if spec > best.get(candidate, (-1, 0.0, -1)):
                best[candidate] = spec
    ranked: list[tuple[float, int, int, int, str]] = []
    for order, coding in enumerate(_CODINGS):
        exact, q, position = best.get(coding, (0, 0.0, 0))
        if q > 0:
            ranked.append((q, exact, -position, -order, coding))
    return max(ranked)[4] if ranked else None


def compress(body: bytes, encoding: str) -> bytes:
    """Compress like Node's ``zlib.createGzip()`` / ``zlib.createDeflate()`` with default settings."""
    wbits = _WBITS.get(encoding)
    if wbits is None:
        raise ValueError(f"unsupported content encoding {encoding!r}: use 'gzip' or 'deflate'")
    compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, wbits)
    return compressor.compress(body) + compressor.flush()
