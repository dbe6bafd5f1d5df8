"""The upload form in a real browser (Debian Chromium through Playwright): upload, choose the
target from the file's header, start, watch the leaderboard appear, open a candidate."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "e2e"))
from service_process import ServiceProcess  # noqa: E402

pytestmark = pytest.mark.slow


def test_upload_pick_target_run_and_open_candidate(browser, tmp_path, sample_data):
    service = ServiceProcess(tmp_path / "data").start()
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(service.url + "/")
        page.set_input_files("#file", str(sample_data / "titanic.csv"))
        page.wait_for_selector("#target option[value='Survived']", state="attached")
        options = page.eval_on_selector_all("#target option", "els => els.map(e => e.value)")
        assert options[1:3] == ["Survived", "Pclass"]
        page.select_option("#target", "Survived")
        page.fill("input[name=time_budget]", "20")
        page.click("#start")
        page.wait_for_url("**/jobs/job_*")
        first_row = page.wait_for_selector("#leaderboard tbody tr td a", timeout=150_000)
        page.wait_for_function("['completed', 'failed', 'cancelled'].includes("
                               "document.getElementById('status').textContent)", timeout=180_000)
        assert page.text_content("#status") == "completed", page.text_content("#error")
        page.wait_for_selector("#chart circle")
        assert page.is_visible("#deploy"), "the Deploy button appears without a reload"
        page.screenshot(path=str(tmp_path / "job.png"), full_page=True)
        first_row = page.query_selector("#leaderboard tbody tr td a")
        name = first_row.text_content()
        first_row.click()
        page.wait_for_url(f"**/candidates/{name}")
        assert page.text_content("h1") == name
        assert "Per-fold scores" in page.content()
        page.screenshot(path=str(tmp_path / "candidate.png"), full_page=True)
        phone = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2)
        phone.goto(page.url.split("/candidates/")[0])
        phone.wait_for_selector("#leaderboard tbody tr td a")
        phone.screenshot(path=str(tmp_path / "job-phone.png"), full_page=True)
    finally:
        service.stop()
