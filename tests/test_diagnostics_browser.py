"""The installer's page in a real browser: Debian's Chromium, headless, driven by Playwright,
against the real agent, simulators and mosquitto. The screenshots go to docs/ (see
docs/diagnostics.md)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cabinet_rig import cabinet_rig
from diagnostics_page import PASSWORD, diagnostics_settings, page_url
from playwright.sync_api import BrowserContext, Page, expect, sync_playwright
from vehicle_rig import vehicle_rig

from testbed.rig import BoxRig

CHROMIUM = "/usr/bin/chromium"  # scripts/bootstrap.sh installs it; never `playwright install`
FLAGS = [
    "--no-sandbox",  # the suite may run as root
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DOCS = Path(__file__).resolve().parent.parent / "docs"
WAIT_MS = 20_000
PHONE = {"width": 390, "height": 844}


@contextmanager
def chromium(profile: Path, phone: bool = False) -> Iterator[BrowserContext]:
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),  # a fresh --user-data-dir
            executable_path=CHROMIUM,
            headless=True,
            args=FLAGS,
            viewport=PHONE if phone else {"width": 1280, "height": 900},
            device_scale_factor=2 if phone else 1,
            is_mobile=phone,
            has_touch=phone,
        )
        try:
            yield context
        finally:
            context.close()


def logged_in(context: BrowserContext, rig: BoxRig) -> Page:
    page = context.new_page()
    page.goto(page_url(rig))
    expect(page.locator("#login")).to_be_visible()
    page.fill("#password", PASSWORD)
    page.click("#login-form button")
    expect(page.locator("#conn")).to_have_text("live", timeout=WAIT_MS)
    return page


def test_a_slot_ejected_by_a_grant_and_taken_changes_live(tmp_path: Path) -> None:
    sections = {"diagnostics": diagnostics_settings()}
    with (
        cabinet_rig(tmp_path / "rig", cabinet={"take_timeout_s": 60.0}, sections=sections) as rig,
        chromium(tmp_path / "profile") as context,
    ):
        page = logged_in(context, rig)
        slots = rig.slots(lambda s: all(slot["state"] != "unknown" for slot in s.values()))
        slot = next(n for n, s in slots.items() if s["state"] == "occupied")
        cell = page.locator(f'[data-slot="{slot}"]')
        expect(cell).to_have_attribute("data-state", "occupied", timeout=WAIT_MS)
        expect(cell).to_contain_text(slots[slot]["bank_id"])
        expect(page.locator("#mqtt-connected")).to_have_text("connected")
        page.screenshot(path=DOCS / "diagnostics-cabinet.png", full_page=True)

        grant = rig.backend.command(rig.device_id, "test_eject", {"slot": slot})
        page.fill("#grant-text", json.dumps(grant, indent=1))
        page.click("#grant-form button")
        expect(page.locator("#grant-result")).to_have_attribute("data-outcome", "ok")
        expect(cell).to_have_attribute("data-state", "ejecting", timeout=WAIT_MS)
        rig.sim.wait_event("eject", slot=slot)
        page.screenshot(path=DOCS / "diagnostics-cabinet-eject.png", full_page=True)

        rig.take(slot)  # a person takes the bank
        expect(cell).to_have_attribute("data-state", "empty", timeout=WAIT_MS)
        assert rig.wait_record("bank_out", slot=slot)["grant_id"] == grant["id"]

    with (
        cabinet_rig(tmp_path / "phone", sections=sections) as rig,
        chromium(tmp_path / "phone-profile", phone=True) as context,
    ):
        page = logged_in(context, rig)
        expect(page.locator('[data-slot="48"]')).to_be_visible(timeout=WAIT_MS)
        page.screenshot(path=DOCS / "diagnostics-phone.png")


def test_the_cars_lock_changes_live_when_the_renter_unlocks(tmp_path: Path) -> None:
    sections = {"diagnostics": diagnostics_settings()}
    with (
        vehicle_rig(tmp_path / "rig", sections=sections) as rig,
        chromium(tmp_path / "profile") as context,
    ):
        page = logged_in(context, rig)
        rig.readings()
        expect(page.locator("#vehicle-lock")).to_have_text("locked", timeout=WAIT_MS)
        fuel = page.locator('[data-signal="fuel_pct"] td')
        expect(fuel.nth(2)).to_have_text("fresh", timeout=WAIT_MS)
        expect(fuel.nth(3)).to_have_text(re.compile(r"^\d+\.\d\d s ago$"))

        # An installer pulses the lock open and shut with grants pasted into the page.
        grants = []
        for action, shown in (("unlock", "unlocked"), ("lock", "locked")):
            grant = rig.backend.command(rig.device_id, "test_lock_pulse", {"action": action})
            grants.append(grant["id"])
            page.fill("#grant-text", json.dumps(grant))
            page.click("#grant-form button")
            expect(page.locator("#grant-result")).to_have_attribute("data-outcome", "ok")
            expect(page.locator("#vehicle-lock")).to_have_text(shown, timeout=WAIT_MS)
            assert rig.reply_to(grant["id"])["via"] == "local"
            assert rig.wait_record("test_lock_pulse", grant_id=grant["id"])["action"] == action
        lines = [
            line
            for line in rig.agent_lines()
            if (line["event"], line.get("type")) == ("record.written", "test_lock_pulse")
            or line["event"] == "can.command_sent"
        ]
        assert [line["event"] for line in lines] == ["record.written", "can.command_sent"] * 2
        assert [line["command"] for line in lines[1::2]] == ["unlock", "lock"]
        expect(page.locator("#vehicle-rental")).to_have_text("none")

        rig.rent("order-2026-0042")
        from_cloud = [r for r in rig.on_topic("replies") if r["command_id"] not in grants]
        assert len(from_cloud) == 2  # start_rental, unlock
        assert all("via" not in reply for reply in from_cloud)
        expect(page.locator("#vehicle-lock")).to_have_text("unlocked", timeout=WAIT_MS)
        expect(page.locator("#vehicle-rental")).to_have_text("active")
        expect(page.locator("#vehicle-start")).to_have_text("yes", timeout=WAIT_MS)
        page.screenshot(path=DOCS / "diagnostics-vehicle.png", full_page=True)
        rig.ok("lock", order_id="order-2026-0042")
        expect(page.locator("#vehicle-lock")).to_have_text("locked", timeout=WAIT_MS)
