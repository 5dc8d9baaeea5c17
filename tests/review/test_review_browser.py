"""End to end in a real headless Chromium: label three rows by keyboard, reload, check the review
file and the resumed page, undo, jump from a video timeline, open the large view; screenshot in the
test's tmp folder. Skipped only where no Chromium (and its chromedriver) can be found."""

from __future__ import annotations

import csv
import shutil

import pytest

from llava_cli.review import ReviewSession
from llava_cli.review.server import ReviewServer

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install -e '.[test]')")

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


def find_chromium() -> tuple[str, str]:
    browser = next((p for p in map(shutil.which, BROWSERS) if p), None)
    driver = shutil.which("chromedriver") or next(
        (p for p in ("/usr/lib/chromium/chromedriver", "/usr/lib/chromium-browser/chromedriver") if shutil.os.path.exists(p)), None)
    if not browser or not driver:
        pytest.skip("no Chromium with chromedriver here (Debian: apt-get install chromium chromium-driver)")
    return browser, driver


@pytest.fixture
def browser():
    from selenium.webdriver.chrome.service import Service

    binary, driver_path = find_chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,900", "--no-first-run", "--disable-extensions"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(driver_path))
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def review_file(path) -> dict[tuple[str, str], str]:
    if not path.exists():
        return {}
    with path.open(newline="") as fh:
        return {(r["source"], r["frame"]): r["label"] for r in csv.DictReader(fh)}


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_label_by_keyboard_reload_resume_undo(browser, output, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 20)
    review = output.with_name("plays.review.csv")

    def ready():
        wait.until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-ready") == "1")

    # read through the page's own DOM in one call: cards are redrawn, so element handles go stale
    def current() -> int | None:
        found = browser.execute_script("const c = document.querySelector('.card.current'); return c && c.dataset.id")
        return None if found is None else int(found)

    def press(*keys):
        for key in keys:
            ActionChains(browser).send_keys(key).perform()

    def summary(name) -> str:
        return browser.execute_script(
            "const b = document.querySelector(`#summary b[data-name='${arguments[0]}']`); return b && b.textContent", name)

    with ReviewServer(ReviewSession(output), port=0) as server:
        browser.get(server.url)
        ready()
        legend = browser.find_element(By.ID, "label-keys").text.split()
        assert legend == ["1", "red", "2", "blue"]  # which key is which label
        assert current() == 3  # lowest confidence first
        assert len(browser.find_elements(By.CSS_SELECTOR, "#grid .card")) == 7
        assert "bad.jpg: not a readable image" in browser.find_element(By.ID, "error-list").text

        press("2")  # row 3 (the model was unsure): blue
        wait.until(lambda d: current() == 2)
        press(Keys.ENTER)  # row 2: the model's red is right
        wait.until(lambda d: current() == 6)
        press("u")  # row 6 (video frame 20): unsure
        wait.until(lambda d: summary("reviewed") == "3 / 7")
        assert review_file(review) == {("img2.png", ""): "red", ("img3.png", ""): "blue", ("clip.mp4", "20"): "unsure"}
        assert summary("changed") == "1" and summary("unsure") == "1"

        browser.refresh()  # the state is in the file: the page resumes from it
        ready()
        assert summary("reviewed") == "3 / 7" and summary("model accuracy on reviewed") == "0.50 (on 2)"
        assert current() == 0  # the first row not reviewed yet, in this order
        reviewed = set(map(int, browser.execute_script(
            "return [...document.querySelectorAll('.card.reviewed')].map(c => c.dataset.id)")))
        assert reviewed == {3, 2, 6}
        assert browser.execute_script("return document.querySelector('.card[data-id=\"3\"]').className").split() == [
            "card", "reviewed", "changed"]
        assert len(browser.find_elements(By.CSS_SELECTOR, ".strip .tick")) == 1  # frame 20 marked reviewed

        press("z")  # undo the last decision (row 6's unsure), even after the reload
        wait.until(lambda d: summary("reviewed") == "2 / 7")
        assert current() == 6 and ("clip.mp4", "20") not in review_file(review)
        press("1")
        wait.until(lambda d: summary("reviewed") == "3 / 7")
        assert review_file(review)[("clip.mp4", "20")] == "red"

        assert current() == 0  # a decision moves on to the next row in the list
        press(Keys.ARROW_RIGHT)
        assert current() == 4
        press(Keys.ARROW_LEFT)
        assert current() == 0
        strip = browser.find_element(By.CSS_SELECTOR, ".strip")
        ActionChains(browser).move_to_element_with_offset(strip, -strip.size["width"] // 2 + 3, 0).click().perform()
        wait.until(lambda d: current() == 4)  # frame 0 of the video
        press(" ")
        wait.until(lambda d: d.execute_script(
            "const i = document.getElementById('viewer-img'); return !document.getElementById('viewer').hidden && i.complete && i.naturalWidth > 0"))
        shot = tmp_path / "review.png"  # kept in the test's tmp folder
        assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
        press(Keys.ESCAPE)
        assert browser.find_element(By.ID, "viewer").get_attribute("hidden") is not None
        broken = browser.execute_script(
            "return [...document.querySelectorAll('#grid img')].filter(i => i.complete && i.naturalWidth === 0).length")
        assert broken == 0
        errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        assert not errors, errors
    assert ReviewSession(output).summary().reviewed == 3


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_multi_label_keys_toggle_and_enter_keeps(browser, tmp_path, monkeypatch):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    from review_factories import write_output

    monkeypatch.chdir(tmp_path)
    output = write_output(tmp_path, fmt="jsonl", multi=True)
    review = output.with_name("plays.review.csv")
    wait = WebDriverWait(browser, 20)
    with ReviewServer(ReviewSession(output), port=0) as server:
        browser.get(server.url)
        wait.until(lambda d: d.execute_script("return document.body.dataset.ready") == "1")

        def step(key, expect_current, expect_file):
            ActionChains(browser).send_keys(key).perform()
            wait.until(lambda d: d.execute_script("return S.rows[S.cur].id") == expect_current
                       and review_file(review) == expect_file)

        # row 2: the model gave no label; 2 then 1 toggle blue and red on, Enter keeps them
        step("2", 2, {("img2.png", ""): "blue"})
        step("1", 2, {("img2.png", ""): "red;blue"})
        step(Keys.ENTER, 3, {("img2.png", ""): "red;blue"})
        step(Keys.ENTER, 6, {("img2.png", ""): "red;blue", ("img3.png", ""): "blue"})  # accepts the model's
        step("2", 6, {("img2.png", ""): "red;blue", ("img3.png", ""): "blue", ("clip.mp4", "20"): ""})  # toggled off
    assert ReviewSession(output).summary().changed == 2
