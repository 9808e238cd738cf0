"""Who is asking: bearer JWTs from the configured issuer, or static API keys from the store.

A request carries ``Authorization: Bearer <credential>`` (or ``X-API-Key: <key>``). A
credential starting ``cak_`` is one of our API keys (:mod:`comp_adapters.serve.keys`);
anything else is read as a JWT and must be signed by a key of the issuer's JWKS (a URL,
fetched and cached by PyJWT, or a file), with an asymmetric algorithm, and name the
configured issuer (``iss``) and audience (``aud``), and not be expired (``exp`` required).

What a credential may do: its scopes (``case.read``, ``proficiency.read``; a JWT's
``scope`` claim, space-separated, or ``scp``), and whom it reads as, a
:class:`~comp_adapters.reports.policy.Viewer`: an API key's viewer is set when it is made;
a JWT's is its ``comp_adapters_viewer`` claim (``manager:ID``, ``admin``, ``auditor``;
the claim's name is a setting), else ``learner:<sub>``.

No credential is an anonymous principal (the CASE routes serve public frameworks to it); a
credential that does not check out is refused with 401, whatever the route. Credentials
never appear in errors or logs; a principal names itself ``key:<name>`` or ``jwt:<sub>``.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt

from comp_adapters.errors import ConfigurationError
from comp_adapters.reports.policy import Viewer
from comp_adapters.serve.errors import ServeError
from comp_adapters.serve.keys import ApiKeys, looks_like_key
from comp_adapters.serve.settings import ServeSettings

KEY_CACHE_S = 10.0
"""How long a verified API key is trusted without asking the store again (so a revoked
key stops working within this many seconds)."""
JWKS_LIFESPAN_S = 300


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request is from, what it may do and whom it reads as."""

    who: str
    scopes: frozenset[str]
    viewer: Viewer | None

    @property
    def anonymous(self) -> bool:
        return self.viewer is None


ANONYMOUS = Principal(who="anonymous", scopes=frozenset(), viewer=None)


def unauthorized(message: str) -> ServeError:
    return ServeError(
        401,
        "unauthorised_request",
        message,
        headers={"WWW-Authenticate": 'Bearer realm="comp-adapters", error="invalid_token"'},
    )


def missing_credential(message: str = "a credential is required") -> ServeError:
    return ServeError(
        401,
        "unauthorised_request",
        message,
        headers={"WWW-Authenticate": 'Bearer realm="comp-adapters"'},
    )


def require_scope(principal: Principal, scope: str) -> None:
    """401 without a credential, 403 when the credential lacks ``scope``."""
    if principal.anonymous:
        raise missing_credential(f"a credential with scope {scope} is required")
    if scope not in principal.scopes:
        raise ServeError(
            403,
            "forbidden",
            f"the credential lacks scope {scope}",
            headers={
                "WWW-Authenticate": (
                    f'Bearer realm="comp-adapters", error="insufficient_scope", scope="{scope}"'
                )
            },
        )


class JwtVerifier:
    """Checks JWTs against the issuer's JWKS, issuer, audience, expiry and algorithms."""

    def __init__(self, settings: ServeSettings) -> None:
        if settings.jwt_issuer is None or settings.jwt_audience is None:
            raise ConfigurationError("JWTs need jwt_issuer and jwt_audience")
        self.issuer = settings.jwt_issuer
        self.audience = settings.jwt_audience
        self.algorithms = list(settings.jwt_algorithms)
        self.viewer_claim = settings.viewer_claim
        self._client: jwt.PyJWKClient | None = None
        self._keys: jwt.PyJWKSet | None = None
        if settings.jwks_url:
            self._client = jwt.PyJWKClient(
                settings.jwks_url, cache_keys=True, lifespan=JWKS_LIFESPAN_S, timeout=10
            )
        elif settings.jwks_file:
            self._keys = _read_jwks(settings.jwks_file)

    def _signing_key(self, token: str) -> Any:
        if self._client is not None:
            return self._client.get_signing_key_from_jwt(token).key
        header = jwt.get_unverified_header(token)
        kid = header.get("kid")
        assert self._keys is not None  # noqa: S101 - one of the two is set in __init__
        for key in self._keys.keys:
            if kid is None or key.key_id == kid:
                return key.key
        raise jwt.InvalidKeyError("no key of the JWKS matches the token's kid")

    def verify(self, token: str) -> Principal:
        try:
            claims = jwt.decode(
                token,
                self._signing_key(token),
                algorithms=self.algorithms,
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "iss", "aud", "sub"]},
                leeway=30,
            )
        except jwt.ExpiredSignatureError:
            raise unauthorized("the token has expired") from None
        except (jwt.PyJWTError, ValueError) as exc:
            raise unauthorized(f"the token is not valid here ({type(exc).__name__})") from None
        return self._principal(claims)

    def _principal(self, claims: Mapping[str, Any]) -> Principal:
        subject = str(claims["sub"])
        raw = claims.get("scope", claims.get("scp", ""))
        scopes = frozenset(raw.split() if isinstance(raw, str) else [str(s) for s in raw])
        named = claims.get(self.viewer_claim)
        try:
            viewer = (
                Viewer.parse(named)
                if isinstance(named, str)
                else Viewer.parse(f"learner:{subject}")
            )
        except ConfigurationError:
            raise unauthorized(f"the token's {self.viewer_claim} claim names no viewer") from None
        return Principal(who=f"jwt:{subject}", scopes=scopes, viewer=viewer)


def _read_jwks(path: Path) -> jwt.PyJWKSet:
    try:
        return jwt.PyJWKSet.from_json(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError(f"JWKS file {path}: {exc.strerror}") from None
    except (jwt.PyJWKSetError, ValueError) as exc:
        raise ConfigurationError(f"JWKS file {path}: not a usable JWKS ({exc})") from None


class Authenticator:
    """Turns a request's credential into a :class:`Principal` (or refuses it)."""

    def __init__(self, *, keys: ApiKeys | None, jwt_verifier: JwtVerifier | None) -> None:
        self.keys = keys
        self.jwt_verifier = jwt_verifier
        self._cache: dict[str, tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    def authenticate(self, authorization: str | None, api_key: str | None) -> Principal:
        credential = api_key.strip() if api_key else None
        if authorization:
            scheme, _, value = authorization.strip().partition(" ")
            if scheme.lower() != "bearer" or not value.strip():
                raise unauthorized("use the Bearer scheme (Authorization: Bearer <credential>)")
            if credential is not None:
                raise unauthorized("give one credential, not both Authorization and X-API-Key")
            credential = value.strip()
        if credential is None:
            return ANONYMOUS
        if looks_like_key(credential):
            return self._api_key(credential)
        if self.jwt_verifier is None:
            raise unauthorized("this server accepts API keys only (no JWT issuer configured)")
        return self.jwt_verifier.verify(credential)

    def _api_key(self, credential: str) -> Principal:
        digest = hashlib.sha256(credential.encode()).hexdigest()
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(digest)
        if cached is not None and cached[0] > now:
            return cached[1]
        found = self.keys.verify(credential) if self.keys is not None else None
        if found is None:
            raise unauthorized("unknown or revoked API key")
        principal = Principal(who=f"key:{found.name}", scopes=found.scopes, viewer=found.viewer)
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[digest] = (now + KEY_CACHE_S, principal)
        return principal
