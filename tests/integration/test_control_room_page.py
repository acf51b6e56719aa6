"""The control-room page in a real headless Chromium against the real API, worker, Kafka and Redis.

The API (`create_control_app`) runs under uvicorn in a daemon thread on a free port; alerts are produced
on `sca.alert-signals.v1` while the page is open, so they reach the board through the alert manager,
Redis and Server-Sent Events, as in production. Actions are clicked on the page and checked on a second,
separately logged-in browser and in Redis.
"""
from __future__ import annotations

import shutil
import socket
import struct
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI

from pipeline.alerts.manager import fingerprint
from pipeline.alerts.store import AlertReader
from pipeline.config import load_site
from pipeline.contracts import topic
from pipeline.control.api import create_control_app
from pipeline.control.publisher import KafkaPublisher
from pipeline.control.users import UserBook
from pipeline.messages import Alert, EvidenceRef
from pipeline.settings import REPO_ROOT
from tests.conftest import DATA
from tests.integration.kafka_io import produce

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
SCREENSHOT = REPO_ROOT / "build" / "screenshots" / "control-room-board.png"
ADMIN, OPERATOR = "admin-token-for-page-tests", "operator-token-for-page-tests"
WAIT_S = 20

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
                       reason=f"needs Debian's chromium and chromedriver ({CHROMIUM}, {CHROMEDRIVER}): "
                              "apt-get install chromium chromium-driver"),
]

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException, WebDriverException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.remote.webelement import WebElement  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


# ------------------------------------------------------------------ the API in a thread


class ApiServer:
    """uvicorn serving `app` on 127.0.0.1:`port` in a daemon thread; can be stopped and started again."""

    def __init__(self, app: FastAPI, port: int):
        self.app, self.port = app, port
        self.url = f"http://127.0.0.1:{port}"
        self.server: uvicorn.Server | None = None
        self.thread: threading.Thread | None = None

    def start(self, timeout_s: float = 10.0) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False,
                                lifespan="off", timeout_graceful_shutdown=1)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]}, daemon=True,
                                       name=f"control-room-{self.port}")
        self.thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the control-room API did not start on {self.url}")
            time.sleep(0.02)

    def stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
            self.thread.join(timeout=15)


@pytest.fixture(scope="module")
def evidence_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("page-evidence")
    (root / "ui").mkdir()
    shutil.copy(DATA / "images" / "bus.jpg", root / "ui" / "bus.jpg")  # a real 810x1080 JPEG
    return root


@pytest.fixture(scope="module")
def server(infra, worker, evidence_dir) -> Iterator[ApiServer]:
    users = UserBook(infra.users_file)
    users.add("admin-page", "admin", ADMIN)
    users.add("guard-page", "operator", OPERATOR)
    publisher = KafkaPublisher(infra)
    app = create_control_app(load_site(infra.site_file), users, publisher, infra.redis_url, evidence_dir)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    running = ApiServer(app, port)
    running.start()
    try:
        yield running
    finally:
        running.stop()
        publisher.close()


# ------------------------------------------------------------------ browsers


def new_browser() -> WebDriver:
    """Debian's headless Chromium through its own chromedriver (selenium-manager never downloads anything)."""
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,900",
                "--autoplay-policy=no-user-gesture-required", "--disable-gpu"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(executable_path=str(CHROMEDRIVER)))


def browser_fixture() -> Iterator[WebDriver]:
    driver = new_browser()
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def page(server) -> Iterator[WebDriver]:
    """The operator's page, logged in and live; the tests below keep it open (no reloads)."""
    for driver in browser_fixture():
        login(driver, server.url, OPERATOR)
        wait_live(driver)
        yield driver


@pytest.fixture(scope="module")
def second_page(server) -> Iterator[WebDriver]:
    """A second, separate browser (its own session storage): used by the admin."""
    yield from browser_fixture()


def tid(testid: str, extra: str = "") -> str:
    return f'[data-testid="{testid}"]{extra}'


def row(alert_id: str) -> str:
    return tid("alert-row", f'[data-alert-id="{alert_id}"]')


def until(driver: WebDriver, condition: Callable[[WebDriver], object], what: str, timeout_s: float = WAIT_S):
    """WebDriverWait that retries through re-rendered (stale) elements and names what it waited for."""
    return WebDriverWait(driver, timeout_s, poll_frequency=0.1,
                         ignored_exceptions=(StaleElementReferenceException,)).until(condition, message=what)


def visible(driver: WebDriver, selector: str) -> WebElement | bool:
    found = driver.find_elements(By.CSS_SELECTOR, selector)
    return found[0] if found and found[0].is_displayed() else False


def attr_is(selector: str, name: str, value: str) -> Callable[[WebDriver], bool]:
    return lambda d: any(e.get_attribute(name) == value for e in d.find_elements(By.CSS_SELECTOR, selector))


def click(driver: WebDriver, selector: str) -> None:
    """Click once the element is there; the board re-renders rows, so a stale element is found again."""
    def attempt(d: WebDriver) -> bool:
        element = visible(d, selector)
        if element:
            element.click()
            return True
        return False
    until(driver, attempt, f"clickable {selector}")


def login(driver: WebDriver, base: str, token: str) -> None:
    driver.get(base + "/")
    field = until(driver, lambda d: visible(d, tid("login-token")), "the login form")
    field.clear()
    field.send_keys(token)
    click(driver, tid("login-submit"))


def wait_live(driver: WebDriver) -> None:
    until(driver, attr_is(tid("conn-status"), "data-state", "live"), "the live stream connected")


def as_admin(driver: WebDriver, server: ApiServer) -> None:
    """Log the second browser in as the admin unless an earlier test already has."""
    if not driver.find_elements(By.CSS_SELECTOR, tid("conn-status", '[data-state="live"]')):
        login(driver, server.url, ADMIN)
        wait_live(driver)


def js_errors(driver: WebDriver) -> list[str]:
    """Console errors from the page's own code (a refused request is the API answering, not a page bug)."""
    try:
        entries = driver.get_log("browser")
    except WebDriverException:
        return []
    return [e["message"] for e in entries if e["level"] == "SEVERE" and "Failed to load resource" not in e["message"]]


# ------------------------------------------------------------------ alerts on the signals topic


def make_signal(type_: str, severity: str = "high", details: dict | None = None,
                evidence: list[EvidenceRef] | None = None) -> Alert:
    """A detector's signal with a device of its own, so the manager never groups it with another test's."""
    now = time.time()
    device = f"ui-{uuid.uuid4().hex[:8]}"
    return Alert(id=f"sig-{uuid.uuid4().hex[:10]}", type=type_, severity=severity, site="test-compound",
                 device=device, location=f"UI test {device}", started_at=now, updated_at=now,
                 title=f"{type_} at {device}", details=details or {}, evidence=evidence or [])


def on_board(infra, driver: WebDriver, sig: Alert, timeout_s: float = 30) -> None:
    """Wait for the alert's row; if it never shows, say whether the pipeline stored it (worker) or not (page)."""
    try:
        until(driver, lambda d: visible(d, row(sig.id)), f"{sig.type} {sig.id} on the board", timeout_s)
    except TimeoutException:
        in_redis = AlertReader(infra.redis_url).get(sig.id)
        state = driver.find_element(By.CSS_SELECTOR, tid("conn-status")).get_attribute("data-state")
        rows = len(driver.find_elements(By.CSS_SELECTOR, tid("alert-row")))
        raise AssertionError(f"{sig.id} not on the board after {timeout_s} s: in Redis: {in_redis is not None}, "
                             f"stream {state}, {rows} rows shown") from None


def send_signals(infra, *alerts: Alert) -> None:
    produce(infra, topic("alert_signals").name,
            [(fingerprint(a).encode(), a.model_dump_json().encode(), None) for a in alerts])


BUS = [EvidenceRef(kind="image", uri="ui/bus.jpg", content_type="image/jpeg")]


@pytest.fixture(scope="module")
def board(infra, page) -> dict:
    """Three alerts produced on the signals topic while the page is open, once they show on the board."""
    page.execute_script("window.__sameDocument = 'yes'")
    beeps = int(page.find_element(By.TAG_NAME, "body").get_attribute("data-beeps") or 0)
    sensor = make_signal("smoke_alarm", severity="critical", details={"sensor_type": "smoke"})
    lane = make_signal("fire_lane_occupied", details={
        "zone": "lane-t", "polygon": [[40, 560], [780, 560], [800, 1070], [20, 1070]],
        "objects": [{"class": "bus", "box": [15.0, 230.0, 800.0, 740.0], "since": time.time(), "conf": 0.9}],
        "broadcasts": 2, "escalated": True}, evidence=BUS)
    thrown = make_signal("thrown_object", severity="critical", details={
        "floor": 3, "column": 2, "floors": 4, "columns": 3, "image_size": [810, 1080],
        "trajectory": [[0.0, 420, 180], [0.1, 428, 230], [0.2, 436, 330], [0.3, 444, 480], [0.4, 452, 690]]},
        evidence=BUS)
    send_signals(infra, sensor, lane, thrown)
    for sig in (sensor, lane, thrown):
        on_board(infra, page, sig)
    return {"sensor": sensor.id, "lane": lane.id, "thrown": thrown.id, "beeps_before": beeps}


# ------------------------------------------------------------------ tests


def test_login_refuses_a_wrong_token_and_accepts_a_real_one(second_page, server):
    login(second_page, server.url, "not-a-real-token")
    error = until(second_page, lambda d: visible(d, tid("login-error")), "the login error")
    assert "令牌无效" in error.text  # Chinese is the default language
    assert second_page.execute_script("return sessionStorage.getItem('sca.token')") is None
    login(second_page, server.url, ADMIN)
    wait_live(second_page)
    assert "admin-page" in second_page.find_element(By.CSS_SELECTOR, tid("user-name")).text
    assert second_page.execute_script("return sessionStorage.getItem('sca.token')") == ADMIN
    assert not visible(second_page, tid("login-form"))


def test_a_new_alert_appears_live_without_reload_and_a_critical_one_beeps(page, board):
    assert page.execute_script("return window.__sameDocument") == "yes"  # shown without a reload
    first = page.find_element(By.CSS_SELECTOR, tid("alert-row")).get_attribute("data-alert-id")
    assert first in {board["sensor"], board["lane"], board["thrown"]}  # newest first
    assert page.find_element(By.CSS_SELECTOR, row(board["sensor"])).get_attribute("data-severity") == "critical"
    until(page, lambda d: int(d.find_element(By.TAG_NAME, "body").get_attribute("data-beeps") or 0)
          >= board["beeps_before"] + 2, "a beep for each new critical alert")
    chip = page.find_element(By.CSS_SELECTOR, tid("count-chip", '[data-type="thrown_object"]'))
    assert int(chip.get_attribute("data-count")) >= 1 and "高空抛物" in chip.text


def test_acknowledge_with_a_note_changes_the_state_here_and_on_a_second_page(infra, page, second_page, server, board):
    alert_id = board["sensor"]
    as_admin(second_page, server)  # its own browser, own session storage
    until(second_page, lambda d: visible(d, row(alert_id)), "the alert on the second page")

    click(page, row(alert_id))
    until(page, attr_is(tid("alert-detail"), "data-alert-id", alert_id), "the detail panel")
    note = f"camera 3 shows steam, checking {uuid.uuid4().hex[:4]}"
    until(page, lambda d: visible(d, tid("action-note")), "the note field").send_keys(note)
    click(page, tid("btn-acknowledge"))

    until(page, attr_is(tid("detail-status"), "data-status", "acknowledged"), "the detail shows acknowledged")
    until(page, attr_is(row(alert_id), "data-status", "acknowledged"), "the row shows acknowledged")
    until(second_page, attr_is(row(alert_id), "data-status", "acknowledged"), "the second page shows acknowledged")
    assert second_page.find_element(By.CSS_SELECTOR, row(alert_id) + " " + tid("alert-status")).text == "已确认"
    until(page, lambda d: any(note in e.text for e in d.find_elements(By.CSS_SELECTOR,
                                                                      tid("history-item", '[data-action="acknowledged"]'))),
          "the note in the history")
    stored = AlertReader(infra.redis_url)
    assert stored.get(alert_id).status.value == "acknowledged"
    assert any(u.by == "guard-page" and u.note == note for u in stored.history(alert_id))

    click(page, tid("btn-acknowledge"))  # again: the API refuses with 409 and the page says why
    until(page, attr_is(tid("action-message"), "data-state", "error"), "the refusal message")
    assert "cannot acknowledge an alert that is acknowledged" in page.find_element(By.CSS_SELECTOR,
                                                                                   tid("action-message")).text
    click(page, tid("btn-assign"))  # no assignee: the API's 422 names the field
    until(page, lambda d: "assignee" in d.find_element(By.CSS_SELECTOR, tid("action-message")).text,
          "the 422 message naming assignee")
    readings = until(page, lambda d: visible(d, tid("readings-chart")) or visible(d, tid("readings-empty")),
                     "the readings chart or its empty note")
    assert readings.is_displayed()


def test_evidence_image_loads_with_zone_vehicle_and_trajectory_drawn(page, board):
    click(page, row(board["lane"]))
    until(page, lambda d: d.execute_script(
        "const i = document.querySelector('[data-testid=evidence-image]');"
        "return i && i.complete && i.naturalWidth > 0 && i.closest('[data-testid=alert-detail]')"
        "  .dataset.alertId === arguments[0]", board["lane"]), "the fire-lane evidence image loaded")
    src = page.find_element(By.CSS_SELECTOR, tid("evidence-image")).get_attribute("src")
    assert "/v1/evidence/ui/bus.jpg?token=" in src
    assert page.execute_script("return document.querySelector('[data-testid=evidence-image]').naturalWidth") == 810
    assert visible(page, tid("zone-polygon")) and visible(page, tid("vehicle-box"))

    click(page, row(board["thrown"]))
    origin = until(page, lambda d: visible(d, tid("facade-origin")), "the origin window on the facade")
    assert (origin.get_attribute("data-floor"), origin.get_attribute("data-column")) == ("3", "2")
    assert len(page.find_elements(By.CSS_SELECTOR, tid("facade") + " rect")) == 12  # 4 floors x 3 columns
    until(page, lambda d: d.execute_script(
        "const i = document.querySelector('[data-testid=evidence-image]'); return i && i.naturalWidth > 0"),
        "the thrown-object evidence image loaded")
    assert visible(page, tid("trajectory-line"))


def test_screenshot_of_the_board(page, board):
    click(page, row(board["lane"]))
    until(page, lambda d: d.execute_script(
        "const i = document.querySelector('[data-testid=evidence-image]'); return i && i.naturalWidth > 0"),
        "the evidence image before the screenshot")
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    SCREENSHOT.unlink(missing_ok=True)
    assert page.save_screenshot(str(SCREENSHOT))
    data = SCREENSHOT.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert width >= 1000 and height >= 600, (width, height)  # the 1400x900 window
    assert len(data) > 30_000, len(data)  # a real board, not a blank page


def test_language_toggle_switches_the_strings(page, board):
    click(page, row(board["lane"]))
    until(page, lambda d: visible(d, tid("btn-resolve")), "the detail's buttons")
    nav = page.find_element(By.CSS_SELECTOR, tid("nav-board"))
    assert nav.text == "告警"
    click(page, tid("lang-toggle"))
    until(page, lambda d: d.find_element(By.CSS_SELECTOR, tid("nav-board")).text == "Alerts", "English nav")
    status = page.find_element(By.CSS_SELECTOR, row(board["lane"]) + " " + tid("alert-status")).text
    assert status.startswith("Open")
    assert "Thrown object" in page.find_element(By.CSS_SELECTOR, tid("count-chip", '[data-type="thrown_object"]')).text
    assert page.find_element(By.CSS_SELECTOR, tid("btn-resolve")).text == "Resolve"
    assert page.execute_script("return document.documentElement.lang") == "en"
    page.save_screenshot(str(SCREENSHOT.with_name("control-room-board-en.png")))  # readable without CJK fonts
    click(page, tid("lang-toggle"))
    until(page, lambda d: d.find_element(By.CSS_SELECTOR, tid("nav-board")).text == "告警", "Chinese again")


def test_admin_silences_devices_and_logout(second_page, server):
    as_admin(second_page, server)
    click(second_page, tid("nav-silences"))
    form = until(second_page, lambda d: visible(d, tid("silence-form")), "the admin's silence form")
    comment = f"painters on B2 {uuid.uuid4().hex[:4]}"
    form.find_element(By.CSS_SELECTOR, tid("silence-type")).send_keys("ui_test_type")
    form.find_element(By.CSS_SELECTOR, tid("silence-comment")).send_keys(comment)
    click(second_page, tid("silence-create"))
    until(second_page, attr_is(tid("silence-message"), "data-state", "ok"), "the silence created")
    row_sel = tid("silence-row", '[data-state="active"]')
    until(second_page, lambda d: any(comment in r.text for r in d.find_elements(By.CSS_SELECTOR, row_sel)),
          "the new silence listed as active")
    for r in second_page.find_elements(By.CSS_SELECTOR, row_sel):
        if comment in r.text:
            r.find_element(By.CSS_SELECTOR, tid("silence-delete")).click()
            break
    until(second_page, lambda d: d.switch_to.alert, "the delete confirmation").accept()
    until(second_page, lambda d: any(comment in r.text for r in d.find_elements(
        By.CSS_SELECTOR, tid("silence-row", '[data-state="deleted"]'))), "the silence shown deleted")

    click(second_page, tid("nav-devices"))
    until(second_page, lambda d: visible(d, tid("devices-unavailable")) or d.find_elements(
        By.CSS_SELECTOR, tid("camera-row")), "device health, or a note that the server has none")
    assert js_errors(second_page) == []
    click(second_page, tid("logout"))
    until(second_page, lambda d: visible(d, tid("login-form")), "the login form after logging out")
    assert second_page.execute_script("return sessionStorage.getItem('sca.token')") is None


def test_stream_drop_shows_a_banner_and_the_page_reconnects(infra, page, server):
    click(page, tid("nav-board"))
    wait_live(page)
    server.stop()
    until(page, lambda d: visible(d, tid("conn-banner")), "the connection-lost banner")
    assert page.find_element(By.CSS_SELECTOR, tid("conn-status")).get_attribute("data-state") == "down"
    server.start()
    until(page, attr_is(tid("conn-status"), "data-state", "live"), "the stream reconnected", timeout_s=30)
    until(page, attr_is(tid("conn-banner"), "data-state", "ok"), "the restored notice")
    later = make_signal("water_leak", severity="medium")
    send_signals(infra, later)
    on_board(infra, page, later)
    assert js_errors(page) == []
