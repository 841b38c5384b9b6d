"""The sign-in console in a real Chromium: enrollment, PIN and recovery-code sign-in, with and without JS.

Every locator uses the accessible names of the contract (shared/CONTRACT.md, "UI copy"), so these tests
also prove the copy. Each test's pages are watched for console errors, uncaught exceptions, CSP
violations and 5xx answers (see the ``open_session`` fixture in conftest.py).
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pyotp
import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import ARTIFACTS, REPO_ROOT, Server, Session, User

pytestmark = pytest.mark.browser

TIMEOUT_MS = 10_000
STEP_SECONDS = 30
SAFE_MARGIN_SECONDS = 3.0  # never type a code in the last seconds of its 30-second step
BASE32_KEY = re.compile(r"[A-Z2-7]{32}")
RECOVERY_CODE = re.compile(r"[a-z2-7]{4}(?:-[a-z2-7]{4}){3}")
APPS = ("Authy", "Google Authenticator", "Microsoft Authenticator", "LastPass Authenticator")
ENROLL_HEADING = "Set up two-factor authentication"
DOCS_SCREENSHOT = REPO_ROOT / "docs" / "enrollment.png"
# The README screenshot is regenerated only when missing or on request: the QR code is different on every
# run, so rewriting it each time would leave a modified tracked file behind every `make test`.
UPDATE_DOCS_ENV = "PROVCONNECT_UPDATE_DOCS_SCREENSHOT"


# -- TOTP ------------------------------------------------------------------------------------------


def _away_from_step_boundary() -> None:
    remaining = STEP_SECONDS - (time.time() % STEP_SECONDS)
    if remaining < SAFE_MARGIN_SECONDS:
        time.sleep(remaining + 0.2)


def current_pin(secret: str) -> str:
    _away_from_step_boundary()
    return pyotp.TOTP(secret).now()


def next_step_pin(secret: str) -> str:
    """The code of the next 30-second step: inside the ±1 window, and later than any step already used."""
    _away_from_step_boundary()
    return pyotp.TOTP(secret).at(time.time() + STEP_SECONDS)


def wrong_pin(secret: str) -> str:
    """Six digits that match no step near now (so no drift hint either)."""
    totp = pyotp.TOTP(secret)
    near = {totp.at(time.time() + offset * STEP_SECONDS) for offset in range(-4, 5)}
    return next(candidate for candidate in ("000000", "123456", "999999", "424242") if candidate not in near)


# -- steps as a user takes them --------------------------------------------------------------------


def pin_box(page: Page) -> Locator:
    return page.get_by_role("textbox", name="PIN code", exact=True)


def activate(page: Page, control: Locator) -> None:
    """Click a control that replaces the panel, and wait until the old panel is gone.

    Without this, an expectation that also held for the previous panel (the same error message after a
    second failure, say) could pass before the answer arrives, and the next step would race the swap.
    """
    page.locator("#panel").evaluate("panel => panel.setAttribute('data-stale-panel', '')")
    control.click()
    expect(page.locator("#panel[data-stale-panel]")).to_have_count(0, timeout=TIMEOUT_MS)
    expect(page.locator("#panel")).to_have_count(1)


def press(page: Page, name: str) -> None:
    activate(page, page.get_by_role("button", name=name, exact=True))


def enter_password(page: Page, user: User, password: str | None = None) -> None:
    page.get_by_role("textbox", name="Username", exact=True).fill(user.username)
    page.get_by_label("Password", exact=True).fill(user.password if password is None else password)
    press(page, "Continue")


def expect_signed_in(page: Page, user: User) -> None:
    expect(page.get_by_text(f"Signed in as {user.username}", exact=True)).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.get_by_role("button", name="Sign out", exact=True)).to_be_visible()


def sign_out(page: Page) -> None:
    press(page, "Sign out")
    expect(page.get_by_role("textbox", name="Username", exact=True)).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.get_by_text("Signed in as")).to_have_count(0)


def expect_enrollment_panel(page: Page) -> str:
    """Checks the enrollment panel and returns the key shown for manual entry, spaces removed."""
    expect(page.get_by_role("heading", name=ENROLL_HEADING, exact=True)).to_be_visible(timeout=TIMEOUT_MS)
    for app in APPS:
        expect(page.get_by_text(app, exact=True)).to_be_visible()
    expect(page.get_by_role("img", name=re.compile("QR code"))).to_be_visible()
    shown = page.locator("[data-secret-key]").inner_text()
    key = re.sub(r"\s", "", shown)
    assert BASE32_KEY.fullmatch(key), f"the key shown is not 32 base32 characters: {shown!r}"
    assert re.fullmatch(r"[A-Z2-7]{4}( [A-Z2-7]{4})*", shown.strip()), f"the key is not grouped in 4s: {shown!r}"
    return key


def collect_recovery_codes(page: Page) -> list[str]:
    expect(page.get_by_role("heading", name="Recovery codes", exact=True)).to_be_visible(timeout=TIMEOUT_MS)
    codes_shown = page.locator("#panel code")
    expect(codes_shown).to_have_count(10)
    codes = [code.strip() for code in codes_shown.all_inner_texts()]
    assert all(RECOVERY_CODE.fullmatch(code) for code in codes), codes
    assert len(set(codes)) == 10, f"recovery codes repeat: {codes}"
    expect(page.get_by_role("link", name="Download recovery codes", exact=True)).to_be_visible()
    return codes


def enroll_through_ui(page: Page, user: User) -> User:
    """First sign-in of a user without 2FA, start to finish; records the key and the recovery codes."""
    page.goto("/")
    enter_password(page, user)
    user.secret = expect_enrollment_panel(page)
    pin_box(page).fill(current_pin(user.secret))
    press(page, "Sign in")
    user.recovery_codes = collect_recovery_codes(page)
    press(page, "Continue")
    expect_signed_in(page, user)
    return user


# -- the tests -------------------------------------------------------------------------------------


def test_first_sign_in_enrolls_with_javascript_without_reloading(server: Server, session: Session) -> None:
    page, context = session.page, session.context
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.origin)
    user = server.add_user("first")
    loads: list[str] = []
    page.on("framenavigated", lambda frame: loads.append(frame.url) if frame == page.main_frame else None)

    page.goto("/")
    home_url = page.url
    assert home_url == server.url("/")
    page.evaluate("window.__sameDocument = 'still here'")

    enter_password(page, user)
    shown_key = expect_enrollment_panel(page)

    # The copy button: revealed by app.js, copies the key without the grouping spaces.
    copy = page.get_by_role("button", name="Copy secret key to clipboard", exact=True)
    expect(copy).to_be_visible()
    copy.click()
    expect(page.locator("#copy-status")).to_have_text("Copied")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == shown_key, f"clipboard {copied!r} != key shown {shown_key!r}"
    assert BASE32_KEY.fullmatch(copied), copied

    # Live status while typing.
    box = pin_box(page)
    status = page.locator("#pin-status")
    box.fill(wrong_pin(copied))
    expect(status).to_have_text("Code is not valid")
    box.clear()
    box.press_sequentially(current_pin(copied))
    expect(status).to_have_text("Code is valid")

    press(page, "Sign in")
    codes = collect_recovery_codes(page)
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download recovery codes", exact=True).click()
    downloaded = Path(download_info.value.path()).read_text(encoding="utf-8")
    assert all(code in downloaded for code in codes), downloaded

    press(page, "Continue")
    expect_signed_in(page, user)

    assert page.url == home_url, f"the address changed: {page.url}"
    assert page.evaluate("window.__sameDocument") == "still here", "the page was reloaded"
    assert loads == [home_url], f"the page navigated more than once: {loads}"


def test_second_sign_in_with_pin_and_with_recovery_code(server: Server, session: Session) -> None:
    page = session.page
    user = enroll_through_ui(page, server.add_user("again"))
    assert user.secret is not None

    sign_out(page)
    enter_password(page, user)
    box = pin_box(page)
    expect(box).to_be_visible(timeout=TIMEOUT_MS)
    expect(page.get_by_role("heading", name=ENROLL_HEADING)).to_have_count(0)
    box.fill(next_step_pin(user.secret))
    press(page, "Sign in")
    expect_signed_in(page, user)

    sign_out(page)
    enter_password(page, user)
    expect(pin_box(page)).to_be_visible(timeout=TIMEOUT_MS)
    activate(page, page.get_by_role("link", name="Use a recovery code", exact=True))
    recovery_box = page.get_by_role("textbox", name="Recovery code", exact=True)
    expect(recovery_box).to_be_visible(timeout=TIMEOUT_MS)
    recovery_box.fill(user.recovery_codes[3])
    press(page, "Sign in")
    expect_signed_in(page, user)
    assert page.url == server.url("/")


def test_everything_works_with_javascript_off(server: Server, open_session) -> None:  # noqa: ANN001
    page = open_session(java_script_enabled=False).page
    user = server.add_user("nojs")

    page.goto("/")
    enter_password(page, user)
    key = expect_enrollment_panel(page)
    # Useless without JS, so it ships hidden and nothing reveals it.
    copy = page.get_by_role("button", name="Copy secret key to clipboard", exact=True, include_hidden=True)
    expect(copy).to_have_count(1)
    expect(copy).to_be_hidden()

    pin_box(page).fill(current_pin(key))
    press(page, "Sign in")
    user.recovery_codes = collect_recovery_codes(page)
    press(page, "Continue")
    expect_signed_in(page, user)
    assert page.url == server.url("/"), f"post/redirect/get should land on /, not {page.url}"

    sign_out(page)
    enter_password(page, user)
    box = pin_box(page)
    expect(box).to_be_visible(timeout=TIMEOUT_MS)
    box.fill(next_step_pin(key))
    press(page, "Sign in")
    expect_signed_in(page, user)
    assert page.url == server.url("/")


def test_wrong_pin_shows_invalid_pin_code_then_the_right_one_signs_in(server: Server, session: Session) -> None:
    page = session.page
    session.problems.allow_http_401()
    user = enroll_through_ui(page, server.add_user("wrongpin"))
    assert user.secret is not None
    sign_out(page)

    enter_password(page, user)
    box = pin_box(page)
    box.fill(wrong_pin(user.secret))
    press(page, "Sign in")
    alert = page.get_by_role("alert").filter(has_text="Invalid PIN code")
    expect(alert).to_be_visible(timeout=TIMEOUT_MS)
    expect(alert).to_have_text("Invalid PIN code")
    # Still on step 2, the message in the same panel as the box, and the box ready for another try.
    panel = page.locator("#panel")
    expect(panel.get_by_role("alert")).to_have_text("Invalid PIN code")
    expect(panel.get_by_role("textbox", name="PIN code", exact=True)).to_be_visible()
    expect(box).to_be_focused()
    expect(page.get_by_text("Signed in as")).to_have_count(0)

    box.fill(next_step_pin(user.secret))
    press(page, "Sign in")
    expect_signed_in(page, user)


def test_wrong_password_shows_invalid_username_or_password(server: Server, session: Session) -> None:
    page = session.page
    session.problems.allow_http_401()
    user = server.add_user("wrongpw")

    page.goto("/")
    enter_password(page, user, password="not the password at all")
    alert = page.get_by_role("alert").filter(has_text="Invalid username or password")
    expect(alert).to_be_visible(timeout=TIMEOUT_MS)
    expect(alert).to_have_text("Invalid username or password")
    expect(page.get_by_role("heading", name=ENROLL_HEADING)).to_have_count(0)
    expect(page.get_by_role("textbox", name="Username", exact=True)).to_have_value(user.username)

    # The same answer for a name that does not exist.
    page.get_by_role("textbox", name="Username", exact=True).fill(f"nobody-{user.username}")
    page.get_by_label("Password", exact=True).fill("not the password at all")
    press(page, "Continue")
    expect(page.get_by_role("alert")).to_have_text("Invalid username or password", timeout=TIMEOUT_MS)

    enter_password(page, user)
    expect(page.get_by_role("heading", name=ENROLL_HEADING, exact=True)).to_be_visible(timeout=TIMEOUT_MS)


def test_focus_moves_to_the_pin_box_after_continue(server: Server, session: Session) -> None:
    page = session.page
    user = enroll_through_ui(page, server.add_user("focus"))
    assert user.secret is not None
    sign_out(page)

    enter_password(page, user)
    box = pin_box(page)
    expect(box).to_be_focused(timeout=TIMEOUT_MS)
    assert page.evaluate("document.activeElement.id") == "pin"
    # Typing goes straight into the box.
    page.keyboard.type(next_step_pin(user.secret))
    page.keyboard.press("Enter")
    expect_signed_in(page, user)


def _qr_colours(page: Page) -> dict[str, str]:
    return page.evaluate(
        """() => {
          const svg = document.querySelector('.qr svg');
          const paths = svg.querySelectorAll('path');
          const drawn = svg.querySelector('path.qrline') || paths[paths.length - 1];
          return {
            light: getComputedStyle(paths[0]).fill,
            dark: getComputedStyle(drawn).stroke,
            box: getComputedStyle(document.querySelector('.qr')).backgroundColor,
            page: getComputedStyle(document.body).backgroundColor,
            dark_scheme: String(matchMedia('(prefers-color-scheme: dark)').matches),
          };
        }"""
    )


def test_qr_code_stays_readable_in_dark_mode_and_screenshots(server: Server, open_session) -> None:  # noqa: ANN001
    ARTIFACTS.mkdir(exist_ok=True)
    white, black = "rgb(255, 255, 255)", "rgb(0, 0, 0)"

    dark = open_session(color_scheme="dark", viewport={"width": 1100, "height": 1000}).page
    dark.goto("/")
    enter_password(dark, server.add_user("dark"))
    expect_enrollment_panel(dark)
    colours = _qr_colours(dark)
    assert colours["dark_scheme"] == "true", colours
    assert colours["page"] != white, f"dark mode is not applied to the page: {colours}"
    assert colours["light"] == white or colours["box"] == white, f"the QR code has no white background: {colours}"
    assert colours["dark"] == black, f"the QR modules are not black: {colours}"
    dark.locator("#panel").screenshot(path=str(ARTIFACTS / "enrollment.png"))

    light = open_session(color_scheme="light", viewport={"width": 1100, "height": 1000}).page
    light.goto("/")
    enter_password(light, server.add_user("light"))
    expect_enrollment_panel(light)
    assert _qr_colours(light)["dark_scheme"] == "false"
    light.locator("#panel").screenshot(path=str(ARTIFACTS / "enrollment-light.png"))
    if os.environ.get(UPDATE_DOCS_ENV) == "1" or not DOCS_SCREENSHOT.exists():
        DOCS_SCREENSHOT.parent.mkdir(exist_ok=True)
        light.locator("#panel").screenshot(path=str(DOCS_SCREENSHOT))


def test_qr_code_is_drawn_whole(server: Server, session: Session) -> None:
    """The whole symbol, quiet zone included, must be inside the box the page gives the QR image.

    An inline SVG without a viewBox is not scaled when CSS resizes it: it is cut off instead, and a QR
    code missing its corner finder patterns cannot be scanned.
    """
    page = session.page
    page.goto("/")
    enter_password(page, server.add_user("qr"))
    expect_enrollment_panel(page)
    geometry = page.evaluate(
        """() => {
          const svg = document.querySelector('.qr svg');
          const symbol = svg.querySelector('path');  // the light background: the symbol with its quiet zone
          const box = svg.getBoundingClientRect(), drawn = symbol.getBoundingClientRect();
          const rect = r => [r.left, r.top, r.right, r.bottom].map(v => Math.round(v * 10) / 10);
          return {svg: rect(box), symbol: rect(drawn), viewBox: svg.getAttribute('viewBox'),
                  size: [svg.getAttribute('width'), svg.getAttribute('height')]};
        }"""
    )
    (left, top, right, bottom), (s_left, s_top, s_right, s_bottom) = geometry["svg"], geometry["symbol"]
    assert right - left >= 150, f"the QR code is drawn too small to scan: {geometry}"
    assert (s_left >= left - 1 and s_top >= top - 1 and s_right <= right + 1 and s_bottom <= bottom + 1), (
        f"the QR code is cut off: the symbol spans {geometry['symbol']} but its SVG box is {geometry['svg']} "
        f"(viewBox={geometry['viewBox']!r}, width/height={geometry['size']})"
    )
