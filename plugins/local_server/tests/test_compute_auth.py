"""Compute authentication, guest mode and the admin routes (PROTOCOL §4.1, §4.2, §4.7)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import jwt
import pytest
from cl_local_server.server import LocalServer
from cryptography.hazmat.primitives.asymmetric import ec

if TYPE_CHECKING:
    from cl_local_server.pytest_plugin import ServerFactory
    from conftest import Api

pytestmark = pytest.mark.timeout(60)

JOB_ROUTES = (
    ("GET", "/jobs/some-id"),
    ("DELETE", "/jobs/some-id"),
    ("GET", "/jobs/some-id/files/x"),
)
ADMIN_ROUTES = (
    ("GET", "/admin/jobs/storage/size"),
    ("DELETE", "/admin/jobs/cleanup"),
    ("GET", "/admin/config"),
    ("GET", "/admin/pref"),
    ("PUT", "/admin/config/guest-mode"),
)


def sign(server: LocalServer, claims: dict[str, object]) -> str:
    key = (server.info.data_dir / "keys" / "private_key.pem").read_bytes()
    return jwt.encode(claims, key, algorithm="ES256")


def call(server: LocalServer, method: str, path: str, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return httpx.request(method, server.info.compute_url + path, headers=headers)


def test_health_and_capabilities_never_need_auth(cl_server_jwt: LocalServer) -> None:
    r = httpx.get(cl_server_jwt.info.compute_url + "/")
    assert r.json() == {
        "status": "healthy",
        "service": "Task Server",
        "version": "v1",
        "guestMode": "off",
    }
    r = httpx.get(
        cl_server_jwt.info.compute_url + "/capabilities", headers={"Authorization": "Bearer junk"}
    )
    assert r.status_code == 200 and r.json()["num_workers"] == 2


def test_decision_table(cl_server_jwt: LocalServer, media_path: Callable[[str], Path]) -> None:
    server = cl_server_jwt
    far = int(time.time()) + 3600
    tokens = {
        "admin": sign(server, {"id": "1", "permissions": [], "is_admin": True, "exp": far}),
        "inference": sign(
            server,
            {"id": "2", "permissions": ["ai_inference_support"], "is_admin": False, "exp": far},
        ),
        "plain": sign(
            server, {"id": "3", "permissions": ["media_store_read"], "is_admin": False, "exp": far}
        ),
    }
    expired = sign(
        server, {"id": "1", "permissions": ["*"], "is_admin": True, "exp": int(time.time()) - 5}
    )
    legacy_sub = sign(server, {"sub": "1", "permissions": ["*"], "is_admin": True, "exp": far})
    wrong_types = sign(server, {"id": 1, "permissions": "*", "is_admin": "yes", "exp": far})
    foreign_key = ec.generate_private_key(ec.SECP256R1())
    forged = jwt.encode(
        {"id": "1", "permissions": ["*"], "is_admin": True, "exp": far},
        foreign_key,
        algorithm="ES256",
    )

    for method, path in JOB_ROUTES + ADMIN_ROUTES:
        for token, detail in (
            (None, "Authentication required"),
            (expired, "JWT token has expired"),
            (forged, "Could not validate credentials"),
            ("garbage", "Could not validate credentials"),
            (legacy_sub, "JWT payload is invalid"),
            (wrong_types, "JWT payload is invalid"),
        ):
            r = call(server, method, path, token)
            assert r.status_code == 401, (method, path, detail, r.text)
            assert r.json() == {"detail": detail}
            assert r.headers["www-authenticate"] == "Bearer"

    for method, path in JOB_ROUTES:
        assert call(server, method, path, tokens["admin"]).status_code == 404
        assert call(server, method, path, tokens["inference"]).status_code == 404
        r = call(server, method, path, tokens["plain"])
        assert r.status_code == 403
        assert r.json() == {"detail": "Insufficient permissions. Required: ai_inference_support"}
    for method, path in ADMIN_ROUTES:
        for who in ("inference", "plain"):
            r = call(server, method, path, tokens[who])
            assert r.status_code == 403
            assert r.json() == {"detail": "Insufficient permissions. Admin access required"}
        assert call(server, method, path, tokens["admin"]).status_code in (200, 422)

    # auth runs before body validation: no token and no file → 401, not 422
    r = httpx.post(server.info.compute_url + "/jobs/hash")
    assert r.status_code == 401
    r = httpx.post(
        server.info.compute_url + "/jobs/hash",
        headers={"Authorization": f"Bearer {tokens['plain']}"},
    )
    assert r.status_code == 403
    r = httpx.post(
        server.info.compute_url + "/jobs/hash",
        headers={"Authorization": f"Bearer {tokens['inference']}"},
        files={"file": ("a.jpg", media_path("astronaut.jpg").read_bytes())},
    )
    assert r.status_code == 200


def test_guest_mode_switching(admin_api: Api, make_api: Callable[..., Api]) -> None:
    server = admin_api.server
    anonymous = make_api(server)
    r = admin_api.compute.get("/admin/config")
    body = r.json()
    assert (
        body["guest_mode"] is False
        and body["updated_by"] is None
        and isinstance(body["updated_at"], int)
    )
    assert anonymous.compute.get("/jobs/x").status_code == 401

    r = admin_api.compute.put("/admin/config/guest-mode", data={"guest_mode": "true"})
    assert r.status_code == 200
    assert r.json() == {"guest_mode": True, "message": "Configuration updated successfully"}
    assert anonymous.compute.get("/").json()["guestMode"] == "on"
    # guest mode: any header is ignored, admin routes are open to anyone (B4)
    assert anonymous.compute.get("/jobs/x").status_code == 404
    assert call(server, "GET", "/jobs/x", "garbage").status_code == 404
    r = anonymous.compute.get("/admin/pref")
    assert r.status_code == 200 and r.json()["guest_mode"] is True and r.json()["updated_by"] == "1"

    r = anonymous.compute.put("/admin/config/guest-mode", data={"guest_mode": "off"})
    assert r.status_code == 200 and r.json()["guest_mode"] is False
    assert anonymous.compute.get("/").json()["guestMode"] == "off"
    assert admin_api.compute.get("/admin/config").json()["updated_by"] is None
    assert anonymous.compute.get("/jobs/x").status_code == 401

    r = admin_api.compute.put("/admin/config/guest-mode", data={})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "guest_mode"]
    r = admin_api.compute.put("/admin/config/guest-mode", data={"guest_mode": "perhaps"})
    assert r.status_code == 422 and r.json()["detail"][0]["type"] == "bool_parsing"


def test_fresh_guest_server_has_no_config_key(cl_server_factory: ServerFactory) -> None:
    server = cl_server_factory.start(auth_mode="jwt", guest_mode=True)
    r = httpx.get(server.info.compute_url + "/admin/config")
    assert r.json() == {"guest_mode": True, "updated_at": None, "updated_by": None}
    assert httpx.get(server.info.compute_url + "/").json()["guestMode"] == "on"


def test_no_auth_mode_is_always_open(cl_server: LocalServer) -> None:
    base = cl_server.info.compute_url
    assert httpx.get(base + "/").json()["guestMode"] == "on"
    httpx.put(base + "/admin/config/guest-mode", data={"guest_mode": "false"})
    assert httpx.get(base + "/").json()["guestMode"] == "on"
    assert httpx.get(base + "/jobs/x", headers={"Authorization": "Bearer junk"}).status_code == 404


def test_deleted_user_token_still_works_on_compute(
    admin_api: Api, login_token: Callable[..., str]
) -> None:
    r = admin_api.auth.post(
        "/users/", data={"username": "tmp", "password": "pw", "permissions": "ai_inference_support"}
    )
    token = login_token(admin_api.server, "tmp", "pw")
    admin_api.auth.delete(f"/users/{r.json()['id']}")
    # compute only checks signature and exp (B11)
    assert call(admin_api.server, "GET", "/jobs/x", token).status_code == 404


def test_storage_size_and_cleanup(api: Api, media_path: Callable[[str], Path]) -> None:
    r = api.compute.get("/admin/jobs/storage/size")
    assert r.json() == {"total_size": 0, "job_count": 0}
    job_id = api.submit_ok("hash", media_path("astronaut.jpg"))
    api.wait(job_id)
    r = api.compute.get("/admin/jobs/storage/size").json()
    assert r["job_count"] == 1 and r["total_size"] > media_path("astronaut.jpg").stat().st_size
    assert api.compute.delete("/admin/jobs/cleanup", params={"days": -1}).status_code == 422
    assert api.compute.delete("/admin/jobs/cleanup", params={"days": "x"}).status_code == 422
    r = api.compute.delete("/admin/jobs/cleanup")  # default 7 days: nothing that old
    assert r.json() == {"deleted_count": 0, "freed_space": 0}
    job_dir = api.server.info.data_dir / "compute" / "jobs" / job_id
    old = time.time() - 3 * 86400
    import os

    os.utime(job_dir, (old, old))
    r = api.compute.delete("/admin/jobs/cleanup", params={"days": 2}).json()
    assert r["deleted_count"] == 1 and r["freed_space"] > 0
    assert not job_dir.exists()
    # the row is younger than 2 days, so it stays (upstream counts directories only, B22)
    assert api.compute.get(f"/jobs/{job_id}").status_code == 200
    r = api.compute.delete("/admin/jobs/cleanup", params={"days": 0}).json()
    assert r == {"deleted_count": 0, "freed_space": 0}
    assert api.compute.get(f"/jobs/{job_id}").status_code == 404
