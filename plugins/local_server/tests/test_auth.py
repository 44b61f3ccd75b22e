"""The auth service, endpoint by endpoint (PROTOCOL §3)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import jwt
import pytest
from cl_local_server.pytest_plugin import ADMIN_PASSWORD
from cl_local_server.server import LocalServer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

if TYPE_CHECKING:
    from collections.abc import Callable

    from cl_local_server.pytest_plugin import ServerFactory
    from conftest import Api

pytestmark = pytest.mark.timeout(60)


def claims_of(token: str) -> dict[str, object]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def test_health(cl_server_jwt: LocalServer) -> None:
    r = httpx.get(cl_server_jwt.info.auth_url + "/")
    assert r.status_code == 200
    assert r.json() == {"message": "authentication service is running"}


def test_login_token_shape_and_claims(cl_server_jwt: LocalServer) -> None:
    r = httpx.post(
        cl_server_jwt.info.auth_url + "/auth/token",
        data={"username": "admin", "password": ADMIN_PASSWORD, "grant_type": "password"},
    )
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"access_token", "token_type"} and body["token_type"] == "bearer"
    header = json.loads(base64.urlsafe_b64decode(body["access_token"].split(".")[0] + "=="))
    assert header == {"alg": "ES256", "typ": "JWT"}
    claims = claims_of(body["access_token"])
    assert set(claims) == {"id", "permissions", "is_admin", "exp"}
    assert claims["id"] == "1" and claims["is_admin"] is True and claims["permissions"] == ["*"]
    assert isinstance(claims["exp"], int)


def test_login_failures(cl_server_jwt: LocalServer) -> None:
    url = cl_server_jwt.info.auth_url + "/auth/token"
    for creds in (
        {"username": "admin", "password": "wrong"},
        {"username": "nobody", "password": "x"},
    ):
        r = httpx.post(url, data=creds)
        assert r.status_code == 401
        assert r.json() == {"detail": "Incorrect username or password"}
        assert r.headers["www-authenticate"] == "Bearer"
    # JSON body: the form fields are missing → FastAPI-shaped 422
    r = httpx.post(url, json={"username": "admin", "password": ADMIN_PASSWORD})
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert [d["loc"] for d in detail] == [["body", "username"], ["body", "password"]]
    assert detail[0] == {
        "type": "missing",
        "loc": ["body", "username"],
        "msg": "Field required",
        "input": None,
    }
    r = httpx.post(url, data={"username": "admin"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "password"]
    r = httpx.post(url, data={"username": "admin", "password": "x", "grant_type": "magic"})
    assert r.status_code == 422 and r.json()["detail"][0]["type"] == "string_pattern_mismatch"


def test_public_key(cl_server_jwt: LocalServer, login_token: Callable[..., str]) -> None:
    r = httpx.get(cl_server_jwt.info.auth_url + "/auth/public-key")
    assert r.status_code == 200
    body = r.json()
    assert body["algorithm"] == "ES256"
    key = serialization.load_pem_public_key(body["public_key"].encode())
    assert isinstance(key, ec.EllipticCurvePublicKey)
    keys = cl_server_jwt.info.data_dir / "keys"
    assert body["public_key"] == (keys / "public_key.pem").read_text()
    assert b"BEGIN PRIVATE KEY" in (keys / "private_key.pem").read_bytes()  # PKCS8
    token = login_token(cl_server_jwt)
    assert jwt.decode(token, body["public_key"], algorithms=["ES256"])["id"] == "1"


def test_me_and_refresh(admin_api: Api) -> None:
    r = admin_api.auth.get("/users/me")
    assert r.status_code == 200
    me = r.json()
    assert set(me) == {"id", "username", "is_admin", "is_active", "created_at", "permissions"}
    assert me["username"] == "admin" and me["is_admin"] is True and me["permissions"] == ["*"]
    r = admin_api.auth.post("/auth/token/refresh")
    assert r.status_code == 200 and r.json()["token_type"] == "bearer"
    assert claims_of(r.json()["access_token"])["id"] == "1"


def test_auth_required_errors(cl_server_jwt: LocalServer) -> None:
    base = cl_server_jwt.info.auth_url
    r = httpx.get(base + "/users/me")
    assert r.status_code == 401 and r.json() == {"detail": "Not authenticated"}
    assert r.headers["www-authenticate"] == "Bearer"
    r = httpx.post(base + "/auth/token/refresh")
    assert r.status_code == 401 and r.json() == {"detail": "Not authenticated"}
    bad = {"Authorization": "Bearer not-a-jwt"}
    for method, path in (("GET", "/users/me"), ("POST", "/auth/token/refresh")):
        r = httpx.request(method, base + path, headers=bad)
        assert r.status_code == 401 and r.json() == {"detail": "Could not validate credentials"}


def test_user_crud(admin_api: Api, login_token: Callable[..., str]) -> None:
    auth = admin_api.auth
    r = auth.post(
        "/users/",
        data={
            "username": "alice",
            "password": "pw-alice",
            "permissions": "ai_inference_support,media_store_read",
        },
    )
    assert r.status_code == 201, r.text
    alice = r.json()
    assert (
        alice["username"] == "alice" and alice["is_admin"] is False and alice["is_active"] is True
    )
    assert alice["permissions"] == ["ai_inference_support", "media_store_read"]
    assert "T" in alice["created_at"] and "+" not in alice["created_at"]
    # JSON array and Dart list forms on create
    r = auth.post("/users/", data={"username": "bob", "password": "pw", "permissions": '["a","b"]'})
    assert r.json()["permissions"] == ["a", "b"]
    r = auth.post(
        "/users/",
        data={"username": "carol", "password": "pw", "permissions": "[x, y]", "is_admin": "yes"},
    )
    assert r.json()["permissions"] == ["x", "y"] and r.json()["is_admin"] is True
    # duplicate
    r = auth.post("/users/", data={"username": "alice", "password": "pw"})
    assert r.status_code == 400 and r.json() == {"detail": "Username already registered"}
    # missing field, bad boolean
    r = auth.post("/users/", data={"username": "dave"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "password"]
    r = auth.post("/users/", data={"username": "dave", "password": "pw", "is_active": "maybe"})
    assert r.status_code == 422 and r.json()["detail"][0]["type"] == "bool_parsing"

    r = auth.get("/users/", params={"skip": 0, "limit": 100})
    assert [u["username"] for u in r.json()] == ["admin", "alice", "bob", "carol"]
    assert [u["username"] for u in auth.get("/users/?skip=1&limit=2").json()] == ["alice", "bob"]
    assert auth.get("/users/?limit=abc").status_code == 422
    r = auth.get(f"/users/{alice['id']}")
    assert r.status_code == 200 and r.json()["username"] == "alice"
    r = auth.get("/users/999")
    assert r.status_code == 404 and r.json() == {"detail": "User not found"}
    r = auth.get("/users/abc")
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["path", "user_id"]

    # update: comma-separated only; an empty value means "not sent" (B9); JSON stored literally
    r = auth.put(
        f"/users/{alice['id']}", data={"permissions": "media_store_write", "is_active": "false"}
    )
    assert r.status_code == 200
    assert r.json()["permissions"] == ["media_store_write"] and r.json()["is_active"] is False
    r = auth.put(f"/users/{alice['id']}", data={"permissions": ""})
    assert r.json()["permissions"] == ["media_store_write"]
    r = auth.put(f"/users/{alice['id']}", data={"permissions": '["p","q"]'})
    assert r.json()["permissions"] == ['["p"', '"q"]']
    r = auth.put(f"/users/{alice['id']}", data={"password": "new-pw"})
    assert r.status_code == 200
    assert login_token(admin_api.server, "alice", "new-pw")  # inactive users can still log in (B10)
    assert auth.put("/users/999", data={"is_admin": "true"}).status_code == 404

    r = auth.delete(f"/users/{alice['id']}")
    assert r.status_code == 204 and r.content == b""
    assert auth.delete(f"/users/{alice['id']}").status_code == 404


def test_users_without_slash_redirects(admin_api: Api) -> None:
    r = admin_api.auth.get("/users")
    assert r.status_code == 307
    assert r.headers["location"].endswith("/users/")


def test_non_admin_gets_403(
    admin_api: Api, login_token: Callable[..., str], make_api: Callable[..., Api]
) -> None:
    admin_api.auth.post("/users/", data={"username": "eve", "password": "pw-eve"})
    eve = make_api(admin_api.server, login_token(admin_api.server, "eve", "pw-eve"))
    try:
        assert eve.auth.get("/users/me").status_code == 200
        for method, path in (
            ("GET", "/users/"),
            ("POST", "/users/"),
            ("GET", "/users/1"),
            ("DELETE", "/users/1"),
        ):
            r = eve.auth.request(method, path)
            assert r.status_code == 403, (method, path)
            assert r.json() == {"detail": "The user doesn't have enough privileges"}
    finally:
        eve.close()
    # auth runs before validation: no token and an invalid body → 401
    r = httpx.post(admin_api.server.info.auth_url + "/users/", data={})
    assert r.status_code == 401


def test_deleted_user_token_rejected_by_auth(
    admin_api: Api, login_token: Callable[..., str]
) -> None:
    r = admin_api.auth.post("/users/", data={"username": "gone", "password": "pw"})
    token = login_token(admin_api.server, "gone", "pw")
    admin_api.auth.delete(f"/users/{r.json()['id']}")
    r = httpx.get(
        admin_api.server.info.auth_url + "/users/me", headers={"Authorization": f"Bearer {token}"}
    )
    assert r.status_code == 401 and r.json() == {"detail": "Could not validate credentials"}


def test_refresh_sees_new_permissions(admin_api: Api, login_token: Callable[..., str]) -> None:
    r = admin_api.auth.post("/users/", data={"username": "frank", "password": "pw"})
    token = login_token(admin_api.server, "frank", "pw")
    assert claims_of(token)["permissions"] == []
    admin_api.auth.put(f"/users/{r.json()['id']}", data={"permissions": "ai_inference_support"})
    r = httpx.post(
        admin_api.server.info.auth_url + "/auth/token/refresh",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert claims_of(r.json()["access_token"])["permissions"] == ["ai_inference_support"]


@pytest.mark.timeout(30)
def test_expired_token_cannot_refresh(
    cl_server_factory: ServerFactory,
    login_token: Callable[..., str],
    wait_until: Callable[..., None],
) -> None:
    server = cl_server_factory.start(auth_mode="jwt", token_expire_minutes=1 / 60)  # 1 s
    token = login_token(server)
    headers = {"Authorization": f"Bearer {token}"}

    def expired() -> bool:
        return httpx.get(server.info.compute_url + "/jobs/x", headers=headers).status_code == 401

    wait_until(expired, timeout=10, what="token expiry")
    r = httpx.get(server.info.compute_url + "/jobs/x", headers=headers)
    assert r.json() == {"detail": "JWT token has expired"}
    r = httpx.post(server.info.auth_url + "/auth/token/refresh", headers=headers)
    assert r.status_code == 401 and r.json() == {"detail": "Could not validate credentials"}


def test_admin_password_generated_once(
    cl_server_factory: ServerFactory, tmp_path: Path, login_token: Callable[..., str]
) -> None:
    data_dir = tmp_path / "data"
    first = cl_server_factory.start(auth_mode="jwt", admin_password=None, data_dir=data_dir)
    assert first.info.admin_password_generated and first.info.admin_password
    password = first.info.admin_password
    assert login_token(first, "admin", password)
    first.stop()
    second = cl_server_factory.start(auth_mode="jwt", admin_password=None, data_dir=data_dir)
    assert second.info.admin_password is None and not second.info.admin_password_generated
    assert login_token(second, "admin", password)  # keys and users persist


def test_foreign_key_token_rejected(cl_server_jwt: LocalServer) -> None:
    other = ec.generate_private_key(ec.SECP256R1())
    token = jwt.encode(
        {"id": "1", "permissions": ["*"], "is_admin": True, "exp": 2**31}, other, algorithm="ES256"
    )
    r = httpx.get(
        cl_server_jwt.info.auth_url + "/users/me", headers={"Authorization": f"Bearer {token}"}
    )
    assert r.status_code == 401
