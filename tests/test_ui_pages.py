"""The Command Center in a real browser: Debian's chromium driven by Playwright, against one
control plane (its own process, the pages served by it) and one runtime agent on loopback.

What a person does: log in with a token, walk the Create Batch Job wizard to a COMPLETE job,
read a metrics job's ROC plot, see a bad input's error next to its field, dismiss a
notification, edit a runtime's tags as an admin (and not as a viewer), use a phone. With
``UI_SCREENSHOTS=DIR`` (``make screenshots``) each page is saved there as a PNG.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.servers import moto_s3_open  # noqa: F401  (a fixture: a loopback S3 whose presigned links download)
from tests.snapshots import make_snapshot
from tests.test_controlplane_e2e import (
    SCORING_MODEL,
    TOKEN,
    TRAINING_MODEL,
    control_plane,
    start_agent,
    wait_for,
)

pytestmark = [pytest.mark.controlplane, pytest.mark.browser]

VIEWER_TOKEN = "ui-viewer-token-7f3a"
SCHEMA_LESS_MODEL = SCORING_MODEL
SCORE_ONLY_MODEL = """
    # modelop.score
    def action(record):
        yield record
"""
SHOTS = os.environ.get("UI_SCREENSHOTS")
# a model whose life cycle passes its test (the default DMN: tpr > 0.45) and smoke job on DEV
LIFE_CYCLE_MODEL = """
    # modelop.score
    def action(record):
        yield {"id": record["id"], "flagged": record["prediction"]}

    # modelop.metrics
    def metrics(df):
        positives = df[df["label"] == 1]
        yield {"tpr": float((positives["prediction"] == 1).mean()), "rows": len(df)}
"""


def chromium_path() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.fail("Debian's chromium is needed (apt-get install chromium); .ci/run installs it")
    return found


class Site:
    def __init__(self, url: str) -> None:
        self.url = url
        self.api = httpx.Client(base_url=url + "/api/v1", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)


@pytest.fixture(scope="module")
def site(spark, tmp_path_factory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("ui")
    tokens = root / "tokens.toml"
    tokens.write_text(f'[[user]]\nname = "vera"\nroles = ["viewer"]\ntoken = "{VIEWER_TOKEN}"\n')
    # --max-job-mb 1: uploads (embedded in the job) are limited to 1 MB here
    with control_plane(root / "data", extra=("--tokens", str(tokens), "--mlc-poll-seconds", "0.3", "--max-job-mb", "1")) as server:
        agent = start_agent(server.url, "spark-dev-1", ["DEV", "cc-fraud"], root / "agent", spark)
        current = Site(server.url)
        try:
            folder = root / "snapshots"
            make_snapshot(folder / "fraud", SCHEMA_LESS_MODEL, manifest={"name": "cc-fraud", "version": "1.0.0", "lineage": {"parent": "none", "data": "s3://bank/train.csv"}})
            make_snapshot(folder / "eval", SCORE_ONLY_MODEL)
            make_snapshot(folder / "churn", TRAINING_MODEL, manifest={"name": "churn", "version": "1.0.0"})
            from modelop_spark.moc.cli import main as moc

            os.environ["MODELOP_URL"], os.environ["MODELOP_TOKEN"] = server.url, TOKEN
            try:
                for name, path in (("cc-fraud", "fraud"), ("fraud-eval", "eval"), ("churn", "churn")):
                    assert moc(["model", "create", name]) == 0
                    assert moc(["snapshot", "create", str(folder / path), "--model", name, "--service-tag", "cc-fraud"]) == 0
            finally:
                del os.environ["MODELOP_URL"], os.environ["MODELOP_TOKEN"]
            yield current
        finally:
            agent.stop(wait_for_jobs=False, timeout=5)
            current.api.close()


@pytest.fixture(scope="module")
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


def login(browser, site: Site, token: str = TOKEN, **context_options):
    context = browser.new_context(base_url=site.url, **context_options)
    page = context.new_page()
    page.goto("/login")
    page.get_by_label("Access token", exact=True).fill(token)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(site.url + "/")
    return page


@pytest.fixture
def admin(browser, site):
    page = login(browser, site)
    yield page
    page.context.close()


def shot(page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def next_step(page) -> None:
    page.get_by_role("button", name="Next").click()


def walk_wizard(page, *, model: str, job_type: str, upload: Path, stage: str = "DEV", columns: dict[str, str] | None = None,
                output_url: str | None = None) -> None:
    """Model -> snapshot -> runtime -> type -> schemas -> inputs -> outputs -> review."""
    page.goto("/jobs")
    page.get_by_role("link", name="Create Batch Job").click()
    page.get_by_label("Model", exact=True).select_option(model)
    next_step(page)
    page.get_by_text("(newest)").wait_for(state="attached")
    next_step(page)  # the newest snapshot is chosen
    page.get_by_label("Stage", exact=True).select_option(stage)
    next_step(page)
    page.get_by_role("radio", name=job_type, exact=True).check()
    for name, value in (columns or {}).items():
        page.get_by_label(name).fill(value)
    next_step(page)
    next_step(page)  # schemas off
    page.get_by_label("an uploaded file").check()
    page.set_input_files("#input_file", str(upload))
    next_step(page)
    if output_url:
        page.get_by_label("an S3 or HDFS location").check()
        page.get_by_label("Location", exact=True).fill(output_url)
    else:
        page.get_by_label("embedded in the job result").check()
    next_step(page)


def test_without_a_session_every_page_sends_you_to_the_login_page(browser, site):
    context = browser.new_context(base_url=site.url)
    page = context.new_page()
    page.goto("/jobs?status=COMPLETE")
    assert page.url.startswith(site.url + "/login") and "next=%2Fjobs%3Fstatus%3DCOMPLETE" in page.url
    shot(page, "login")
    page.get_by_label("Access token", exact=True).fill("not-a-real-token")
    page.get_by_role("button", name="Log in").click()
    error = page.locator("#token-error")
    assert "not valid for this control plane" in error.inner_text()
    assert page.get_by_label("Access token", exact=True).get_attribute("aria-invalid") == "true"
    assert "not-a-real-token" not in page.content() and "not-a-real-token" not in page.url
    page.get_by_label("Access token", exact=True).fill(TOKEN)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/jobs?status=COMPLETE")
    cookie = next(c for c in context.cookies() if c["name"] == "moc_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["secure"]
    assert TOKEN not in cookie["value"] and all(TOKEN not in c["value"] for c in context.cookies())
    # logging out ends the session: the old cookie opens nothing
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/login")
    assert httpx.get(site.url + "/jobs", cookies={"moc_session": cookie["value"]}).status_code == 303
    context.close()


def test_the_wizard_runs_an_uploaded_csv_to_complete_with_the_right_row_counts(admin, site, tmp_path):
    data = tmp_path / "transactions.csv"
    data.write_text("id,x\n" + "".join(f"{i},{i * 1.5}\n" for i in range(1, 6)))
    page = admin
    walk_wizard(page, model="cc-fraud", job_type="Scoring", upload=data)
    review = page.locator("dl.review").inner_text()
    assert "cc-fraud version 1.0.0" in review and "transactions.csv (5 records" in review and "matching decides (DEV)" in review
    shot(page, "wizard-review")
    page.get_by_role("button", name="Run Job").click()
    page.wait_for_url("**/jobs/*")
    page.locator("#job-status", has_text="COMPLETE").wait_for(timeout=120_000)
    assert page.locator("#rows-in").inner_text() == "5"
    assert page.locator("#rows-scored").inner_text() == "5" and page.locator("#rows-rejected").inner_text() == "0"
    assert "spark-dev-1" in page.locator("#live").inner_text()
    shot(page, "job-detail")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download (JSON lines)").click()
    lines = Path(download.value.path()).read_text().splitlines()
    assert [json.loads(line) for line in lines] == [{"id": i, "doubled": i * 3.0} for i in range(1, 6)]
    job_id = page.url.rsplit("/", 1)[1]
    assert site.api.get(f"/jobs/{job_id}").json()["created_by"] == "admin"


def test_an_s3_output_is_a_presigned_link_on_the_job_page(admin, site, tmp_path, moto_s3_open, monkeypatch):  # noqa: F811
    for name, value in moto_s3_open.env().items():  # the agent (in this process) writes with them
        monkeypatch.setenv(name, value)
    moto_s3_open.client().create_bucket(Bucket="ui-scores")
    data = tmp_path / "few.csv"
    data.write_text("id,x\n1,1.0\n2,2.0\n")
    page = admin
    walk_wizard(page, model="cc-fraud", job_type="Scoring", upload=data, output_url="s3://ui-scores/daily/scores.csv")
    assert "s3://ui-scores/daily/scores.csv" in page.locator("dl.review").inner_text()
    page.get_by_role("button", name="Run Job").click()
    page.wait_for_url("**/jobs/*")
    page.locator("#job-status", has_text="COMPLETE").wait_for(timeout=120_000)
    link = page.get_by_role("link", name="s3://ui-scores/daily/scores.csv")
    href = link.get_attribute("href")
    assert "X-Amz-Signature=" in href and "(presigned link)" in page.locator(".outputs").inner_text()
    downloaded = httpx.get(href, timeout=10)
    assert downloaded.status_code == 200
    assert [tuple(float(v) for v in line.split(",")) for line in downloaded.text.splitlines()[1:]] == [(1, 2.0), (2, 4.0)]


def test_a_training_job_from_the_wizard_links_the_new_snapshot_it_registered(admin, site, tmp_path):
    labeled = tmp_path / "train.csv"
    labeled.write_text("id,x,y\n1,1,3\n2,2,6\n3,4,12\n")
    page = admin
    walk_wizard(page, model="churn", job_type="Training", upload=labeled)
    page.get_by_role("button", name="Run Job").click()
    page.wait_for_url("**/jobs/*")
    page.locator("#job-status", has_text="COMPLETE").wait_for(timeout=120_000)
    job_id = page.url.rsplit("/", 1)[1]
    page.get_by_role("link", name="churn version 1.0.1").click()
    page.wait_for_url("**/snapshots/*")
    assert "version 1.0.1" in page.locator("h1").inner_text()
    assert page.locator("#versions-title + ul").inner_text().count("version") == 2
    assert job_id in page.get_by_role("link", name=job_id).get_attribute("href")  # lineage: the training job


def test_a_metrics_job_shows_its_roc_plot_and_report(admin, site, tmp_path):
    labeled = tmp_path / "labeled.csv"
    rows = [(i, i % 2, 0.9 if i % 2 else 0.2) if i % 5 else (i, i % 2, 0.4) for i in range(40)]
    labeled.write_text("id,label,probability\n" + "".join(f"{i},{y},{p}\n" for i, y, p in rows))
    page = admin
    walk_wizard(page, model="fraud-eval", job_type="Metrics", upload=labeled,
                columns={"Label column (Metrics: the built-in evaluation's actual value)": "label",
                         "Score column (Metrics: the predicted probability)": "probability"})
    page.get_by_role("button", name="Run Job").click()
    page.wait_for_url("**/jobs/*")
    page.locator("#job-status", has_text="COMPLETE").wait_for(timeout=120_000)
    roc = page.locator("img[data-plot=roc]")
    roc.wait_for()
    assert roc.evaluate("img => img.complete && img.naturalWidth > 100")
    report = page.frame_locator("iframe.report")
    report.locator("img[alt=roc]").wait_for()
    assert "ROC AUC" in report.locator("body").inner_text()
    shot(page, "job-metrics")


def test_bad_inputs_show_their_error_next_to_the_field_and_nothing_runs(admin, site, tmp_path):
    before = len(site.api.get("/jobs", params={"limit": 500}).json())
    page = admin
    page.goto("/jobs/new")
    page.get_by_label("Model", exact=True).select_option("cc-fraud")
    next_step(page)
    next_step(page)
    next_step(page)
    page.get_by_role("radio", name="Scoring", exact=True).check()
    next_step(page)
    page.get_by_label("Check the input and output").check()
    next_step(page)
    error = page.locator("#schema_check-error")
    assert "has no input or output schema" in error.inner_text()
    assert page.locator("#schema_check").get_attribute("aria-describedby") == "schema_check-error"
    page.get_by_label("Check the input and output").uncheck()
    next_step(page)
    big = tmp_path / "big.csv"
    big.write_text("id,x\n" + "".join(f"{i},{i}.5\n" for i in range(150_000)))  # about 1.6 MB
    page.set_input_files("#input_file", str(big))
    next_step(page)
    assert "uploads are limited to 1.0 MB" in page.locator("#input_file-error").inner_text()
    page.get_by_label("an S3 or HDFS location").check()
    page.get_by_label("Location", exact=True).fill("s3://bucket-only")
    next_step(page)
    assert "names a bucket but no object" in page.locator("#input_url-error").inner_text()
    assert page.locator("#input_url").get_attribute("aria-invalid") == "true"
    page.get_by_label("a SQL statement").check()
    page.get_by_role("textbox", name="SQL statement").fill("DELETE FROM transactions")
    next_step(page)
    assert "read-only" in page.locator("#input_sql-error").inner_text()
    shot(page, "wizard-error")
    page.get_by_role("textbox", name="SQL statement").fill("SELECT * FROM transactions")
    next_step(page)
    page.get_by_label("a SQL table").check()
    page.get_by_label("SQL table", exact=True).fill("drop table; --")
    next_step(page)
    assert "is not a table name" in page.locator("#output_table-error").inner_text()
    page.get_by_role("button", name="Back").click()  # what was typed is kept
    assert page.get_by_role("textbox", name="SQL statement").input_value() == "SELECT * FROM transactions"
    assert len(site.api.get("/jobs", params={"limit": 500}).json()) == before  # nothing was submitted


def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(admin, site):
    job = site.api.post("/jobs", params={"stage": "UAT"}, json={"job_type": "batchjob", "snapshot": "cc-fraud", "inputs": [{"kind": "embedded", "name": "in", "records": [{"id": 1, "x": 1.0}]}], "outputs": [{"kind": "embedded", "name": "out"}]}).json()
    note = wait_for(lambda: site.api.get("/notifications", params={"job": job["id"]}).json(), what="the no-match notification")[0]
    page = admin
    for path in (f"/notifications/{note['id']}/dismiss", f"/jobs/{job['id']}/cancel"):
        refused = page.request.post(site.url + path, form={"comment": "x"})
        assert refused.status == 403 and "CSRF" in refused.text()
    forged = page.request.post(site.url + f"/jobs/{job['id']}/cancel", form={"csrf_token": "guessed"})
    assert forged.status == 403
    assert site.api.get(f"/jobs/{job['id']}").json()["cancel_requested"] is False
    assert site.api.get("/notifications", params={"job": job["id"]}).json()[0]["dismissed_at"] is None
    # the same dismissal from the page's own button works
    page.goto("/")
    shot(page, "home")
    pane = page.locator("#notifications")
    assert job["id"][:8] in pane.inner_text()
    pane.get_by_role("button", name=f"Dismiss notification {note['id']}: NO_MATCHING_RUNTIME").click()
    page.locator("#notifications", has_not_text=job["id"][:8]).wait_for()
    assert site.api.get("/notifications", params={"job": job["id"]}).json()[0]["dismissed_at"] is not None
    site.api.post(f"/jobs/{job['id']}/cancel")


def test_the_jobs_list_filters_and_pages(admin, site):
    for _ in range(3):
        site.api.post("/jobs", params={"stage": "SIT"}, json={"job_type": "testjob", "snapshot": "fraud-eval", "inputs": [{"kind": "embedded", "name": "in", "records": [{"label": 1, "probability": 0.5}]}], "outputs": [{"kind": "embedded", "name": "m"}]})
    page = admin
    page.goto("/jobs")
    page.get_by_label("Stage", exact=True).select_option("SIT")
    page.get_by_label("Type", exact=True).select_option("testjob")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/jobs?*stage=SIT*")
    rows = page.locator("tbody tr")
    assert rows.count() == 3 and all("metrics" in rows.nth(i).inner_text() for i in range(3))
    shot(page, "jobs")
    total = len(site.api.get("/jobs", params={"limit": 500}).json())
    if total > 20:
        page.goto("/jobs")
        page.get_by_role("link", name="Older").click()
        assert page.locator("tbody tr").count() == min(total - 20, 20)


def test_the_snapshot_page_shows_versions_lineage_manifest_and_its_life_cycle(admin, site):
    snapshot = site.api.get("/snapshots/cc-fraud").json()
    page = admin
    page.goto("/models")
    shot(page, "models")
    page.get_by_role("region", name="cc-fraud", exact=True).get_by_role("link", name="1.0.0").click()
    page.wait_for_url(f"**/snapshots/{snapshot['id']}")
    text = page.locator("main").inner_text()
    assert "version 1.0.0" in text and "cc-fraud" in text and "s3://bank/train.csv" in text and "Stage" in text
    assert '"version": "1.0.0"' in page.locator("#manifest-title + pre").inner_text()
    mlc = page.locator("#mlc").inner_text()
    has_life_cycles = site.api.get("/mlc/instances", params={"snapshot": snapshot["id"]}).status_code == 200
    assert ("History" in mlc or "No model life cycle for this snapshot yet" in mlc) if has_life_cycles else "No model life cycle." in mlc
    assert page.locator("#mlc .error").count() == 0
    shot(page, "snapshot")


def test_an_admin_edits_a_runtimes_tags_and_a_viewer_cannot(browser, admin, site):
    runtime = next(r for r in site.api.get("/runtimes").json() if r["name"] == "spark-dev-1")
    page = admin
    page.goto("/runtimes")
    shot(page, "runtimes")
    page.get_by_label("Service tags (comma separated)").fill("cc-fraud, churn")
    page.get_by_role("button", name="Save tags").click()
    page.wait_for_url("**/runtimes")
    assert site.api.get("/runtimes").json()[0]["service_tags"] == ["cc-fraud", "churn"]
    assert page.locator(".runtime .tag", has_text="churn").count() == 1
    viewer = login(browser, site, VIEWER_TOKEN)
    try:
        viewer.goto("/runtimes")
        assert viewer.get_by_role("button", name="Save tags").count() == 0
        assert viewer.get_by_role("link", name="Create Batch Job").count() == 0
        refused = viewer.goto("/jobs/new")
        assert refused.status == 403 and "may not create jobs" in viewer.locator(".error").inner_text()
        # even a hand-made request with the viewer's own CSRF token is refused by the API's check
        csrf = viewer.locator("input[name=csrf_token]").first.get_attribute("value")
        answer = viewer.request.post(site.url + f"/runtimes/{runtime['id']}/tags", form={"csrf_token": csrf, "stage_tags": "PROD", "service_tags": "x"})
        assert "user vera (roles viewer) may not admin" in answer.text()
        assert site.api.get("/runtimes").json()[0]["stage_tags"] == ["DEV"]
    finally:
        viewer.context.close()
    site.api.put(f"/runtimes/{runtime['id']}/tags", json={"stage_tags": ["DEV"], "service_tags": ["cc-fraud"]})


def test_pages_fit_a_phone(browser, site):
    page = login(browser, site, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    try:
        for path in ("/", "/jobs", "/runtimes", "/models"):
            page.goto(path)
            assert page.evaluate("document.documentElement.scrollWidth") <= 390, path
            assert page.get_by_role("navigation", name="Main").is_visible()
        page.goto("/")
        shot(page, "home-phone")
        page.goto("/jobs/new")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.keyboard.press("Tab")  # the skip link comes first
        assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    finally:
        page.context.close()


def test_moc_makes_the_same_calls_dismiss_and_runtime_tags(site, capsys, monkeypatch):
    from modelop_spark.moc.cli import main as moc

    monkeypatch.setenv("MODELOP_URL", site.url)
    monkeypatch.setenv("MODELOP_TOKEN", TOKEN)
    job = site.api.post("/jobs", params={"stage": "PROD"}, json={"job_type": "batchjob", "snapshot": "cc-fraud", "inputs": [{"kind": "embedded", "name": "in", "records": [{"id": 1, "x": 1.0}]}], "outputs": [{"kind": "embedded", "name": "out"}]}).json()
    note = wait_for(lambda: site.api.get("/notifications", params={"job": job["id"]}).json(), what="the no-match notification")[0]
    capsys.readouterr()
    assert moc(["notifications", "dismiss", str(note["id"])]) == 0
    assert capsys.readouterr().out.strip() == f"notification {note['id']} dismissed"
    assert moc(["notifications", "--undismissed", "--json"]) == 0
    assert note["id"] not in [n["id"] for n in json.loads(capsys.readouterr().out)]
    assert moc(["notifications", "dismiss", "999999"]) == 3
    assert "no notification 999999" in capsys.readouterr().err
    # an admin's tags outlive the agent registering again, and a waiting job is matched at once
    assert moc(["runtime", "tags", "spark-dev-1", "--stage-tag", "DEV", "--stage-tag", "PROD"]) == 0
    assert capsys.readouterr().out.strip() == "runtime spark-dev-1: stage tags DEV, PROD; service tags cc-fraud"
    wait_for(lambda: site.api.get(f"/jobs/{job['id']}").json()["status"] == "COMPLETE", timeout=120, what="the PROD job on the re-tagged runtime")
    runtime = next(r for r in site.api.get("/runtimes").json() if r["name"] == "spark-dev-1")
    assert runtime["details"]["tags_set_by"] == "admin"
    again = site.api.post("/runtimes", json={"name": "spark-dev-1", "stage_tags": ["DEV"], "service_tags": ["cc-fraud"], "capacity": runtime["capacity"],
                                             "details": {k: v for k, v in runtime["details"].items() if k != "tags_set_by"}}).json()
    assert again["runtime"]["stage_tags"] == ["DEV", "PROD"]  # what the agent registers does not undo the admin's edit
    site.api.put(f"/runtimes/{runtime['id']}/tags", json={"stage_tags": ["DEV"], "service_tags": ["cc-fraud"]})
    monkeypatch.setenv("MODELOP_TOKEN", VIEWER_TOKEN)
    assert moc(["runtime", "tags", "spark-dev-1", "--stage-tag", "UAT"]) == 3
    assert "may not admin" in capsys.readouterr().err


def test_an_approval_from_the_snapshot_page_moves_the_life_cycle_on(browser, admin, site, tmp_path):
    from modelop_spark.moc.cli import main as moc

    test_data = tmp_path / "test.csv"
    test_data.write_text("id,label,prediction\n1,1,1\n2,1,1\n3,1,0\n4,0,0\n")
    folder = make_snapshot(tmp_path / "governed", LIFE_CYCLE_MODEL)
    os.environ["MODELOP_URL"], os.environ["MODELOP_TOKEN"] = site.url, TOKEN
    try:
        assert moc(["model", "create", "governed"]) == 0
        assert moc(["snapshot", "create", str(folder), "--model", "governed", "--service-tag", "cc-fraud", "--version", "2.0.0", "--test-data", str(test_data)]) == 0
    finally:
        del os.environ["MODELOP_URL"], os.environ["MODELOP_TOKEN"]
    snapshot = site.api.get("/snapshots/governed").json()

    def waiting():
        found = site.api.get("/mlc/instances", params={"snapshot": snapshot["id"]}).json()
        return found[0] if found and found[0]["state"] == "WAITING_APPROVAL" else None

    instance = wait_for(waiting, timeout=180, what="the life cycle to wait for the SIT approval")
    step = instance["current_step"]
    # a viewer sees the life cycle but no Approve button
    viewer = login(browser, site, VIEWER_TOKEN)
    try:
        viewer.goto(f"/snapshots/{snapshot['id']}")
        assert "WAITING_APPROVAL" in viewer.locator("#mlc").inner_text()
        assert viewer.get_by_role("button", name="Approve").count() == 0
    finally:
        viewer.context.close()
    page = admin
    page.goto(f"/snapshots/{snapshot['id']}")
    section = page.locator("#mlc")
    assert step["name"] in section.inner_text() and "Test job on DEV" in section.inner_text()
    diagram = section.locator("img.diagram")
    assert f"highlight={step['id']}" in diagram.get_attribute("src")
    assert diagram.evaluate("img => img.complete && img.naturalWidth > 100")  # the SVG came through the session
    shot(page, "snapshot-life-cycle")
    section.get_by_role("button", name="Reject").click()  # without the comment a rejection needs
    assert "a rejection needs a comment" in page.locator("main > .error").inner_text()
    assert site.api.get(f"/mlc/instances/{instance['id']}").json()["state"] == "WAITING_APPROVAL"
    section.get_by_label("Comment (required to reject)").fill("ready for SIT")
    section.get_by_role("button", name="Approve").click()
    page.wait_for_url(f"**/snapshots/{snapshot['id']}")
    moved = site.api.get(f"/mlc/instances/{instance['id']}").json()
    assert moved["current_step"]["id"] != step["id"] and moved["state"] != "WAITING_APPROVAL"
    decision = next(h for h in moved["history"] if h["name"] == step["name"])
    assert decision["user"] == "admin" and decision["comment"] == "ready for SIT" and decision["outcome"] == "approved"
    assert "ready for SIT" in page.locator("#mlc").inner_text()


def test_every_page_passes_axe_accessibility_checks(admin, site):
    """axe-core's rules (WCAG A/AA and best practices: contrast, labels, landmarks, names...)."""
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    snapshot = site.api.get("/snapshots/cc-fraud").json()
    job = site.api.post("/jobs", params={"stage": "DEV"}, json={"job_type": "batchjob", "snapshot": "cc-fraud", "inputs": [{"kind": "embedded", "name": "in", "records": [{"id": 1, "x": 1.0}]}], "outputs": [{"kind": "embedded", "name": "out"}]}).json()
    wait_for(lambda: site.api.get(f"/jobs/{job['id']}").json()["status"] == "COMPLETE", timeout=120, what="the job")
    found = {}
    for path in ("/login", "/", "/jobs", "/jobs/new", "/models", f"/snapshots/{snapshot['id']}", f"/jobs/{job['id']}", "/runtimes"):
        admin.goto(path)
        violations = axe.run(admin).response["violations"]
        found[path] = [f"{v['id']} ({v['impact']}): {v['help']}: {[n['html'][:80] for n in v['nodes']]}" for v in violations]
    assert found == {path: [] for path in found}
