"""ES256 signing keys and the JWTs made with them (PROTOCOL §3.4)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

ALGORITHM = "ES256"


def write_private_file(path: Path, content: str | bytes) -> None:
    """Write ``path`` readable only by its owner from the start, atomically: a reader sees the old
    file or the whole new one, and a failed write leaves nothing behind."""
    data = content.encode() if isinstance(content, str) else content
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def ensure_keys(private_path: Path, public_path: Path) -> None:
    """Generate the P-256 key pair on first start: PKCS8 private key, SubjectPublicKeyInfo public
    key."""
    if private_path.exists() and public_path.exists():
        return
    private_path.parent.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    write_private_file(private_path, private_pem)
    public_path.write_bytes(public_pem)


@dataclass(frozen=True)
class TokenClaims:
    """The only claims a token carries: ``id`` (str), ``permissions``, ``is_admin``, ``exp``."""

    user_id: str
    permissions: list[str]
    is_admin: bool
    exp: int


class TokenSigner:
    """Issues tokens with the auth service's private key."""

    def __init__(self, private_pem: bytes, expire_minutes: float) -> None:
        self._key = serialization.load_pem_private_key(private_pem, password=None)
        self._expire_seconds = expire_minutes * 60.0

    def issue(self, user_id: int, permissions: list[str], is_admin: bool) -> str:
        exp = int(time.time() + self._expire_seconds)
        payload: dict[str, object] = {
            "id": str(user_id),
            "permissions": permissions,
            "is_admin": is_admin,
            "exp": exp,
        }
        return jwt.encode(payload, self._key, algorithm=ALGORITHM)  # pyright: ignore[reportArgumentType]


class TokenExpiredError(Exception):
    """``exp`` has passed."""


class TokenInvalidError(Exception):
    """Bad signature or a token that does not parse."""


class TokenPayloadError(Exception):
    """Valid signature, but the claims have the wrong shape (e.g. ``sub`` instead of ``id``)."""


def decode_token(token: str, public_pem: bytes) -> TokenClaims:
    """Verify signature and ``exp`` (no leeway), then check the claim shapes like compute does."""
    try:
        raw = jwt.decode(
            token,
            public_pem,
            algorithms=[ALGORITHM],
            options={"require": ["exp"], "verify_aud": False, "verify_iss": False},
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenExpiredError(str(exc)) from exc
    except jwt.PyJWTError as exc:
        raise TokenInvalidError(str(exc)) from exc
    except ValueError as exc:  # an unparsable key or header
        raise TokenInvalidError(str(exc)) from exc
    payload = cast(dict[str, object], raw)
    user_id = payload.get("id")
    is_admin = payload.get("is_admin")
    permissions = payload.get("permissions")
    exp = payload.get("exp")
    if not isinstance(user_id, str) or not isinstance(is_admin, bool):
        raise TokenPayloadError("claims have the wrong shape")
    if not isinstance(permissions, list):
        raise TokenPayloadError("permissions must be a list")
    perms = cast(list[object], permissions)
    if not all(isinstance(p, str) for p in perms):
        raise TokenPayloadError("permissions must be strings")
    if not isinstance(exp, int):
        raise TokenPayloadError("exp must be an int")
    return TokenClaims(user_id, [str(p) for p in perms], is_admin, exp)
