"""The installer's page refuses what it must, with the right status, logged, changing nothing:
a real agent and cabinet simulator, an HTTP client (aiohttp) as an attacker would use one."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cabinet_rig import CabinetRig, cabinet_rig
from diagnostics_page import PASSWORD, diagnostics_settings, page_url

from edge.diagnostics.server import MAX_BODY_BYTES, SECURITY_HEADERS
from testbed.rig import assert_agent_serving, wait_until

Answer = tuple[int, dict[str, str], str]


PAGE_CABINET = {"take_timeout_s": 5.0}


def with_page(workdir: Path, **diagnostics: Any) -> Any:
    """A cabinet rig whose agent serves the page (closed afterwards, checked like any rig)."""
    sections = {"diagnostics": diagnostics_settings(**diagnostics)}
    return cabinet_rig(workdir, cabinet=PAGE_CABINET, sections=sections)


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CabinetRig]:
    with with_page(tmp_path_factory.mktemp("page")) as box:
        yield box


class Client:
    """One browser-like client of the page: a cookie jar that takes the page's cookie."""

    def __init__(self, url: str, session: aiohttp.ClientSession) -> None:
        self.url = url.rstrip("/")
        self.session = session
        self.csrf: str | None = None

    async def call(
        self, method: str, path: str, body: Any = None, **headers: str
    ) -> tuple[int, dict[str, str], str]:
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body))
        if body is not None:
            headers.setdefault("Content-Type", "application/json")
        async with self.session.request(
            method, self.url + path, data=data, headers=headers
        ) as response:
            return response.status, dict(response.headers), await response.text()

    async def login(self, password: str = PASSWORD) -> int:
        status, _, text = await self.call("POST", "/api/login", {"password": password})
        if status == 200:
            self.csrf = json.loads(text)["csrf"]
        return status


async def with_client(url: str, steps: Any) -> Any:
    jar = aiohttp.CookieJar(unsafe=True)  # the page is on an IP address
    async with aiohttp.ClientSession(cookie_jar=jar) as session:
        return await steps(Client(url, session))


def run(url: str, steps: Any) -> Any:
    return asyncio.run(with_client(url, steps))


def refusals(rig: CabinetRig, since: int = 0, at_least: int = 1) -> list[tuple[int, str]]:
    """The refusals logged since `since`, once at least `at_least` are: the agent's log lines
    are read as it prints them, a moment after the responses the test has already seen."""
    agent = rig.agent
    assert agent is not None
    logged = wait_until(
        lambda: (
            (lines := agent.logged("diagnostics.refused", since))
            and len(lines) >= at_least
            and lines
        ),
        10,
        f"{at_least} diagnostics.refused lines",
    )
    return [(line["status"], line["reason"]) for line in logged]


def mark(rig: CabinetRig) -> int:
    assert rig.agent is not None
    return len(rig.agent.raw)


def test_every_response_carries_the_careful_headers(rig: CabinetRig) -> None:
    url = page_url(rig)

    async def steps(client: Client) -> list[Answer]:
        return [
            await client.call("GET", "/"),
            await client.call("GET", "/static/app.js"),
            await client.call("GET", "/api/state"),
            await client.call("GET", "/nowhere"),
        ]

    answers = run(url, steps)
    assert [status for status, _, _ in answers] == [200, 200, 401, 404]
    for _, headers, _ in answers:
        for name, value in SECURITY_HEADERS.items():
            assert headers.get(name) == value, (name, headers)
    assert "frame-ancestors 'none'" in answers[0][1]["Content-Security-Policy"]


def test_no_session_or_a_forged_one_sees_nothing(rig: CabinetRig) -> None:
    url, since = page_url(rig), mark(rig)

    async def steps(client: Client) -> list[int]:
        statuses = [(await client.call("GET", path))[0] for path in ("/api/state", "/api/stream")]
        client.session.cookie_jar.update_cookies({"edge_diag": "forged-token"})
        statuses += [(await client.call("GET", path))[0] for path in ("/api/state", "/api/stream")]
        return statuses

    assert run(url, steps) == [401, 401, 401, 401]
    assert refusals(rig, since, at_least=4) == [(401, "no_session")] * 4


def test_a_wrong_password_is_refused_and_the_right_one_opens_the_state(rig: CabinetRig) -> None:
    url, since = page_url(rig), mark(rig)

    async def steps(client: Client) -> tuple[int, int, dict[str, Any]]:
        wrong = await client.login("not-the-password")
        right = await client.login()
        status, _, text = await client.call("GET", "/api/state")
        assert status == 200
        return wrong, right, json.loads(text)

    wrong, right, state = run(url, steps)
    assert (wrong, right) == (401, 200)
    assert (401, "wrong_password") in refusals(rig, since)
    assert state["agent"]["device_id"] == rig.device_id
    assert len(state["telemetry"]["slots"]) == 48
    assert state["hardware"]["up"] is True


def test_cross_site_and_tokenless_requests_change_nothing(rig: CabinetRig) -> None:
    """A signed, valid grant posted cross-site or without the CSRF token is refused before it
    is read: no eject, no record, no reply."""
    url, since = page_url(rig), mark(rig)
    slot = next(n for n, s in rig.slots().items() if s["state"] == "occupied")
    grant = rig.backend.command(rig.device_id, "test_eject", {"slot": slot})
    body = {"envelope": json.dumps(grant)}

    async def steps(client: Client) -> list[int]:
        assert await client.login() == 200
        assert client.csrf is not None
        token = client.csrf
        return [
            (
                await client.call(
                    "POST",
                    "/api/grant",
                    body,
                    **{"X-CSRF-Token": token, "Origin": "http://evil.example"},
                )
            )[0],
            (
                await client.call(
                    "POST",
                    "/api/grant",
                    body,
                    **{"X-CSRF-Token": token, "Sec-Fetch-Site": "cross-site"},
                )
            )[0],
            (await client.call("POST", "/api/grant", body))[0],
            (await client.call("POST", "/api/grant", body, **{"X-CSRF-Token": "guessed"}))[0],
            (
                await client.call(
                    "POST",
                    "/api/grant",
                    json.dumps(body).encode(),
                    **{"X-CSRF-Token": token, "Content-Type": "text/plain"},
                )
            )[0],
        ]

    assert run(url, steps) == [403, 403, 403, 403, 415]
    assert [reason for _, reason in refusals(rig, since, at_least=5)] == [
        "cross_site",
        "cross_site",
        "csrf",
        "csrf",
        "not_json",
    ]
    assert not rig.replies(grant["id"])
    assert not rig.agent_lines("cabinet.eject_sent")
    assert rig.slots()[slot]["state"] == "occupied"


def test_a_body_over_the_cap_and_path_traversal_are_refused(rig: CabinetRig) -> None:
    url, since = page_url(rig), mark(rig)
    port = int(url.rsplit(":", 1)[1].strip("/"))

    async def steps(client: Client) -> list[int]:
        huge = {"password": "x" * (MAX_BODY_BYTES + 1)}
        return [(await client.call("POST", "/api/login", huge))[0]]

    assert run(url, steps) == [413]
    raw_paths = ["/static/../../etc/passwd", "/static/..%2F..%2Fedge.db", "/static/%2e%2e/app.js"]
    statuses = [_raw_get(port, path) for path in raw_paths]
    assert all(status in (400, 404) for status in statuses), statuses
    reasons = [reason for _, reason in refusals(rig, since, at_least=1 + statuses.count(404))]
    assert reasons[0] == "body_too_large"
    assert reasons.count("path_traversal") == sum(status == 404 for status in statuses) >= 2


def _raw_get(port: int, path: str) -> int:
    """A GET with the path exactly as written: no client normalises the dots away."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
        )
        head = sock.recv(64).decode(errors="replace")
    return int(head.split()[1])


def test_a_grant_passes_the_same_checks_as_any_command(rig: CabinetRig) -> None:
    """Forged, for another box, of a type no installer may use, replayed: each refused with the
    command checks' own code; a good one ejects, and its records name it."""
    url = page_url(rig)
    slot = next(n for n, s in rig.slots().items() if s["state"] == "occupied")
    good = rig.backend.command(rig.device_id, "test_eject", {"slot": slot})
    forged = {**good, "args": {"slot": slot + 1}}
    elsewhere = rig.backend.command("cab-other", "test_eject", {"slot": slot})
    rent = rig.backend.command(rig.device_id, "rent", {"order_id": "o-1", "count": 1})

    async def steps(client: Client) -> list[dict[str, Any]]:
        assert await client.login() == 200
        outcomes = []
        for envelope in (forged, elsewhere, rent, good, good):
            status, _, text = await client.call(
                "POST",
                "/api/grant",
                {"envelope": json.dumps(envelope)},
                **{"X-CSRF-Token": client.csrf or ""},
            )
            outcomes.append({"status": status, **json.loads(text)})
        return outcomes

    outcomes = run(url, steps)
    assert [(o["status"], o["code"]) for o in outcomes] == [
        (422, "bad_signature"),
        (422, "wrong_device"),
        (422, "bad_schema"),
        (202, None),
        (422, "replayed"),
    ]
    assert outcomes[3]["reply"]["status"] == "ok"
    assert outcomes[3]["reply"]["result"]["ejected"] == [slot]
    rig.take(slot)
    out = rig.wait_record("bank_out", slot=slot)
    assert out["grant_id"] == good["id"]
    (test_eject,) = rig.records_of("test_eject")
    assert (test_eject["grant_id"], test_eject["slot"]) == (good["id"], slot)
    assert test_eject["seq"] < out["seq"]
    assert_agent_serving(rig)


def test_logins_are_rate_limited_and_sessions_expire(tmp_path: Path) -> None:
    with cabinet_rig(tmp_path, start=False) as box:
        box.config_path = box._write_config(
            {
                "cabinet": {"boards": [1, 2, 3]},
                "diagnostics": diagnostics_settings(login_attempts_per_minute=3, session_ttl_s=1.5),
            }
        )
        box.start_agent()
        url = page_url(box)

        async def steps(client: Client) -> list[int]:
            statuses = [await client.login()]
            statuses.append((await client.call("GET", "/api/state"))[0])
            await asyncio.sleep(2.0)  # the session's lifetime passes: that is what is tested
            statuses.append((await client.call("GET", "/api/state"))[0])
            statuses += [await client.login("wrong-password") for _ in range(2)]
            statuses.append(await client.login())
            return statuses

        assert run(url, steps) == [200, 200, 401, 401, 401, 429]
        reasons = [reason for _, reason in refusals(box, at_least=4)]
        assert reasons[-1] == "rate_limited"
        assert_agent_serving(box)


def test_a_page_that_cannot_start_never_stops_the_agent(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with with_page(tmp_path, port=port) as box:
            assert box.agent is not None
            box.agent.wait_logged("diagnostics.failed", timeout=15)
            reply = box.command("set_slot", slot=1, enabled=False)
            assert reply["status"] == "ok"
            wait_until(lambda: box.agent is not None and box.agent.proc.poll() is None, 1, "alive")
            assert_agent_serving(box)
