"""Headless-Chromium checks of the MLflow UI over a finished 2-configuration smoke sweep
(``make test-ui``): the child runs are nested under the sweep's parent run, the six factors of
the paper's grid are shown (as runs-table columns and in the compare view), and a per-meta-epoch
metric chart renders. Screenshots go to ``outputs/test-ui/`` and to the test's tmp folder.

Waits are on visible text and semantic elements (table rows, column headers, plotly's plotted
lines) rather than on MLflow's generated CSS classes; timeouts are generous because the SPA loads
slowly on a 2-core machine."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from espb.tracking import (
    SAVED_VIEW_ID,
    SAVED_VIEW_NAME,
    TRAINING_VIEW,
    compare_url,
    experiment_links,
)

try:
    from selenium import webdriver
    from selenium.common.exceptions import (
        NoSuchElementException,
        StaleElementReferenceException,
        WebDriverException,
    )
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.remote.webelement import WebElement
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:  # the tests skip (see _require_browser)
    webdriver = None

pytestmark = [pytest.mark.slow, pytest.mark.ui, pytest.mark.timeout(1800)]

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
#: screenshots of the last run (git-ignored, like all of outputs/)
SHOTS_DIR = REPO / "outputs" / "test-ui"
CHROME_ARGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1600,1000")

SWEEP_NAME = "ui_smoke"
EXPERIMENT = f"espb-{SWEEP_NAME}"
SWEEP_OVERRIDES = (
    "experiment=smoke",
    f"name={SWEEP_NAME}",
    "bvalue.dr=0.25,0.35",
    "bvalue.dt=150",
    "samples.m_lim=4.5",
    "training.loss=mae",
    "training.l_me=21",
    "autoencoder.enabled=false",
)
#: the six factors of the paper's grid, as logged params of each child run
FACTORS = ("dr", "dt", "M_lim", "loss", "l_ME", "AE")
#: summary metrics the saved view shows and a smoke sweep logs (a sweep stops at the end of the
#: development period: no test_* summary before `espb sweep continue`)
SAVED_METRICS = ("summary/val_acc_cumulative", "summary/val_auc_pooled")
#: a per-meta-epoch metric (step = meta-epoch index)
METRIC = "val/accuracy"
#: first load of the SPA (cold server, 2 busy cores) / any later wait
LOAD_S = 300
WAIT_S = 120


def _require_browser() -> None:
    if webdriver is None:
        pytest.skip("selenium is not installed in this environment (pip install selenium)")
    for exe, pkg in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not exe.exists():
            pytest.skip(f"{exe} is missing (Debian: apt-get install {pkg}; or run `make test-ui`)")


def _espb() -> str:
    exe = Path(sys.executable).with_name("espb")
    found = str(exe) if exe.exists() else shutil.which("espb")
    if not found:
        pytest.skip("the `espb` command is not installed (pip install -e .)")
    return found


@dataclass(frozen=True)
class Run:
    id: str
    name: str
    params: dict[str, str] = field(default_factory=dict)
    last_step: int = -1
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Ui:
    url: str
    store: str
    experiment_id: str
    parent: Run
    children: tuple[Run, ...]


# ---------------------------------------------------------------------------------------------
# fixtures: the sweep, the server over its store, the browser, the screenshot folders
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sweep_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run the 2-configuration smoke sweep into a tmp ESPB_OUT (about 2 minutes on 2 cores).
    ``ESPB_UI_SWEEP_OUT=<folder>`` reuses the output folder of such a sweep (its store is
    re-marked by ``experiment_links``): for working on the browser checks."""
    _require_browser()
    reuse = os.environ.get("ESPB_UI_SWEEP_OUT")
    if reuse:
        if not (Path(reuse) / "mlruns.db").exists():
            pytest.fail(f"ESPB_UI_SWEEP_OUT={reuse}: no mlruns.db there; unset it to run the sweep")
        return Path(reuse)
    out = tmp_path_factory.mktemp("ui_sweep")

    env = {**os.environ, "ESPB_OUT": str(out), "ESPB_CACHE_DIR": str(out / "cache")}
    cmd = [
        _espb(),
        "sweep",
        "run",
        "paper_432",
        *SWEEP_OVERRIDES,
        "-j",
        "2",
        "--no-report",
        "--no-prepare",
    ]
    t0 = time.monotonic()
    r = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=1200)
    log = out / "sweep.log"
    log.write_text(r.stdout + r.stderr)
    print(f"\n[test-ui] smoke sweep finished in {time.monotonic() - t0:.0f} s (log: {log})")
    if r.returncode != 0:
        tail = "\n".join((r.stdout + r.stderr).splitlines()[-40:])
        pytest.fail(f"`{' '.join(cmd)}` exited with status {r.returncode}:\n{tail}")
    return out


@pytest.fixture(scope="module")
def mlflow_ui(sweep_out: Path) -> Iterator[Ui]:
    """A loopback MLflow server (with its UI) over the sweep's store, and the runs to look for."""
    from mlflow import MlflowClient

    from espb.sweep.server import tracking_server

    with tracking_server(
        f"sqlite:///{sweep_out / 'mlruns.db'}",
        sweep_out / "mlartifacts",
        log_path=sweep_out / "mlflow-server.log",
    ) as url:
        client = MlflowClient(url)
        exp = client.get_experiment_by_name(EXPERIMENT)
        assert exp is not None, f"no MLflow experiment {EXPERIMENT!r} after the sweep"
        runs = client.search_runs([exp.experiment_id])
        parents = [r for r in runs if r.data.tags.get("sweep_role") == "parent"]
        assert len(parents) == 1, [r.info.run_name for r in runs]
        p = parents[0]
        kids = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == p.info.run_id]
        assert len(kids) == 2, [r.info.run_name for r in runs]
        children = []
        for r in sorted(kids, key=lambda r: float(r.data.params["dr"])):
            steps = [m.step for m in client.get_metric_history(r.info.run_id, METRIC)]
            assert steps, f"{r.info.run_name} has no {METRIC} history"
            children.append(
                Run(
                    r.info.run_id,
                    r.info.run_name,
                    {k: r.data.params[k] for k in FACTORS},
                    max(steps),
                    {m: r.data.metrics[m] for m in SAVED_METRICS},
                )
            )
        yield Ui(
            url,
            f"sqlite:///{sweep_out / 'mlruns.db'}",
            exp.experiment_id,
            Run(p.info.run_id, p.info.run_name),
            tuple(children),
        )


@pytest.fixture(scope="module")
def browser(mlflow_ui: Ui) -> Iterator[WebDriver]:
    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for arg in CHROME_ARGS:
        opts.add_argument(arg)
    driver = webdriver.Chrome(options=opts, service=Service(str(CHROMEDRIVER)))
    driver.set_page_load_timeout(LOAD_S)
    try:
        yield driver
    finally:
        driver.quit()


class Shots:
    """Screenshots (and, on failure, page sources) written to outputs/test-ui/ and to tmp."""

    def __init__(self, dirs: list[Path]) -> None:
        self.dirs = dirs

    def save(self, driver: WebDriver, name: str, page_source: bool = False) -> list[Path]:
        paths = []
        for d in self.dirs:
            png = d / f"{name}.png"
            assert driver.save_screenshot(str(png)), f"could not save {png}"
            paths.append(png)
            if page_source:
                html = d / f"{name}.html"
                html.write_text(driver.page_source)
                paths.append(html)
        print(f"[test-ui] {name}: " + "  ".join(str(p) for p in paths))
        return paths

    @contextmanager
    def on_failure(self, driver: WebDriver, name: str) -> Iterator[None]:
        try:
            yield
        except BaseException:
            try:
                self.save(driver, f"{name}-FAILED", page_source=True)
            except Exception as e:  # the original error matters more
                print(f"[test-ui] could not save the failure screenshot: {e}")
            raise


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Shots:
    SHOTS_DIR.mkdir(parents=True, exist_ok=True)
    for old in [*SHOTS_DIR.glob("*.png"), *SHOTS_DIR.glob("*.html")]:
        old.unlink()
    return Shots([SHOTS_DIR, tmp_path_factory.mktemp("ui_shots")])


# ---------------------------------------------------------------------------------------------
# helpers: waits on visible text and semantic elements
# ---------------------------------------------------------------------------------------------


def _wait(
    driver: WebDriver, cond: Callable[[WebDriver], Any], what: str, timeout: float = WAIT_S
) -> Any:
    return WebDriverWait(
        driver,
        timeout,
        poll_frequency=0.5,
        ignored_exceptions=(NoSuchElementException, StaleElementReferenceException),
    ).until(cond, message=f"waited {timeout:.0f} s for {what}")


def _text(driver: WebDriver) -> str:
    try:
        return driver.find_element(By.TAG_NAME, "body").text
    except (NoSuchElementException, StaleElementReferenceException):
        return ""


def _wait_text(driver: WebDriver, texts: list[str], timeout: float = WAIT_S) -> None:
    _wait(driver, lambda d: all(t in _text(d) for t in texts), f"the text {texts!r}", timeout)


def _close_assistant(driver: WebDriver) -> None:
    """MLflow 3.x opens an 'MLflow Assistant' side panel that takes a third of the width."""
    for b in driver.find_elements(
        By.CSS_SELECTOR, '[data-component-id="mlflow.assistant.chat_panel.close"]'
    ):
        try:
            b.click()
        except WebDriverException:
            pass


def _run_link(driver: WebDriver, run_id: str) -> WebElement:
    return driver.find_element(By.XPATH, f'//a[contains(@href, "/runs/{run_id}")]')


def _header_texts(driver: WebDriver) -> set[str]:
    return {e.text.strip() for e in driver.find_elements(By.CSS_SELECTOR, '[role="columnheader"]')}


def _same_number(text: str, value: float) -> bool:
    """A grid cell's text shows ``value`` (MLflow rounds to a few significant digits)."""
    try:
        return abs(float(text) - value) <= 5e-3 * max(1.0, abs(value))
    except ValueError:
        return False


def _compare_row(driver: WebDriver, name: str) -> list[str] | None:
    """The values of row ``name`` of the compare view's Parameters table (None if absent)."""
    rows = driver.find_elements(By.XPATH, f'//tr[th[normalize-space(.)="{name}"]]')
    return [td.text.strip() for td in rows[0].find_elements(By.TAG_NAME, "td")] if rows else None


def _plotted_lines(driver: WebDriver) -> int:
    """Plotly line traces with at least one segment (an "L" in the SVG path)."""
    paths = driver.find_elements(
        By.CSS_SELECTOR, ".js-plotly-plot .scatterlayer .trace path.js-line"
    )
    return sum("L" in (p.get_attribute("d") or "") for p in paths)


def _json_q(value: Any) -> str:
    return quote(json.dumps(value, separators=(",", ":")), safe="")


# ---------------------------------------------------------------------------------------------
# the checks
# ---------------------------------------------------------------------------------------------


def _cell_texts(driver: WebDriver, col_id: str) -> set[str]:
    return {
        e.text.strip()
        for e in driver.find_elements(By.CSS_SELECTOR, f'[role="gridcell"][col-id="{col_id}"]')
    }


def test_printed_address_opens_the_saved_view_with_factor_and_metric_columns(
    browser: WebDriver, mlflow_ui: Ui, shots: Shots
) -> None:
    """The address `make ui` / `espb links` print opens espb's saved view of the runs table:
    the six factors and the summary metrics as columns, filled in for the sweep's children,
    with no column picking (espb.tracking_links.saved_view_state)."""
    d, ui = browser, mlflow_ui
    with shots.on_failure(d, "01-saved-view"):
        (url,) = [u for n, u in experiment_links(ui.store, ui.url) if n == EXPERIMENT]
        assert f"viewStateShareKey={SAVED_VIEW_ID}" in url, url
        d.get(url)
        _wait_text(d, [SAVED_VIEW_NAME, "Model training", *(c.name for c in ui.children)], LOAD_S)
        _close_assistant(d)
        _wait(
            d,
            lambda d: {*FACTORS, *SAVED_METRICS} <= _header_texts(d),
            f"the columns {FACTORS + SAVED_METRICS} in the runs table's header",
        )

        def cells_ok(d: WebDriver) -> bool:
            for p in FACTORS:
                if not {c.params[p] for c in ui.children} <= _cell_texts(d, f"params.`{p}`"):
                    return False
            for m in SAVED_METRICS:
                got = _cell_texts(d, f"metrics.`{m}`")
                want = {c.metrics[m] for c in ui.children}
                if not all(any(_same_number(g, w) for g in got) for w in want):
                    return False
            return True

        _wait(d, cells_ok, "the child runs' factor and summary-metric values in their columns")
        shots.save(d, "01-runs-table-saved-view")


def test_experiment_page_nests_the_child_runs_under_the_parent(
    browser: WebDriver, mlflow_ui: Ui, shots: Shots
) -> None:
    """Without the saved view's sort, MLflow nests a sweep's children under its parent run."""
    d, ui = browser, mlflow_ui
    names = [c.name for c in ui.children]
    with shots.on_failure(d, "02-experiment"):
        # a fresh page load: a hash change from the shared view keeps MLflow's SPA loading
        d.get("about:blank")
        d.get(f"{ui.url}/#/experiments/{ui.experiment_id}/runs?{TRAINING_VIEW}")

        _wait_text(d, [ui.parent.name, "Model training"], LOAD_S)
        _close_assistant(d)
        # the run names carry the six factors in the paper's notation
        assert all(
            re.search(r" \[\d+d, [\d.]+°, [\d.]+, (MAE|BCE), \d+d, (ON|OFF)\]$", n) for n in names
        ), names
        if not any(n in _text(d) for n in names):
            # MLflow groups child runs under their parent, collapsed: expand the parent's row
            cell = (
                f'//a[contains(@href, "/runs/{ui.parent.id}")]'
                '/ancestor::*[@role="gridcell"][1]//button'
            )
            _wait(
                d, lambda d: d.find_element(By.XPATH, cell), "the parent run's expand button"
            ).click()
        _wait_text(d, names)
        parent = _run_link(d, ui.parent.id).location
        for c in ui.children:  # below the parent and indented: nested under it
            child = _run_link(d, c.id).location
            assert child["y"] > parent["y"] and child["x"] > parent["x"], (c.name, child, parent)
        shots.save(d, "02-experiment-runs-nested")


def test_compare_view_shows_the_six_factors(
    browser: WebDriver, mlflow_ui: Ui, shots: Shots
) -> None:
    d, ui = browser, mlflow_ui
    with shots.on_failure(d, "03-compare"):
        d.get(compare_url(ui.url, ui.experiment_id, [c.id for c in ui.children]))
        _wait_text(d, [c.name for c in ui.children], LOAD_S)
        _close_assistant(d)
        _wait(
            d,
            lambda d: all(_compare_row(d, p) for p in FACTORS),
            f"the rows {FACTORS} in the compare view's Parameters table",
        )
        for p in FACTORS:
            got = _compare_row(d, p)
            want = sorted(c.params[p] for c in ui.children)
            assert got is not None and sorted(got) == want, (p, got, want)
        # the Parameters table scrolls on its own and sorts the names (AE, M_lim, autoencoder.*,
        # bvalue.*, ..., dr, dt, l_ME, loss, ...): one screenshot with AE on top, one with dr
        for shot, first in (
            ("03-compare-runs-AE-M_lim", "AE"),
            ("03-compare-runs-dr-dt-l_ME-loss", "dr"),
        ):
            row = d.find_element(By.XPATH, f'//tr[th[normalize-space(.)="{first}"]]')
            d.execute_script("arguments[0].scrollIntoView({block: 'start'});", row)
            time.sleep(1)
            shots.save(d, shot)


def test_metric_chart_renders(browser: WebDriver, mlflow_ui: Ui, shots: Shots) -> None:
    d, ui = browser, mlflow_ui
    query = {
        "runs": _json_q([c.id for c in ui.children]),
        "metric": _json_q(METRIC),
        "experiments": _json_q([ui.experiment_id]),
        "plot_metric_keys": _json_q([METRIC]),
        "plot_layout": _json_q({}),
        "x_axis": "step",
        "y_axis_scale": "linear",
        "line_smoothness": "1",
        "show_point": "true",
        "deselected_curves": _json_q([]),
        "last_linear_y_axis_range": _json_q([]),
    }
    with shots.on_failure(d, "04-metric"):
        d.get(f"{ui.url}/#/metric?" + "&".join(f"{k}={v}" for k, v in query.items()))
        _wait_text(d, [METRIC, *(c.name for c in ui.children)], LOAD_S)
        _close_assistant(d)
        # one plotted line per child run, over the meta-epoch steps
        _wait(
            d,
            lambda d: _plotted_lines(d) >= len(ui.children),
            f"{len(ui.children)} plotted {METRIC} lines (plotly .js-plotly-plot svg traces)",
        )
        _wait_text(d, ["Step", *(f"step={c.last_step}" for c in ui.children)])
        time.sleep(1)  # let plotly finish its transition before the screenshot
        shots.save(d, "04-metric-chart")


def test_the_sweep_parent_run_opens_in_the_training_view(
    browser: WebDriver, mlflow_ui: Ui, shots: Shots
) -> None:
    """The parent-run address ``espb sweep run`` prints (espb.tracking.sweep_links)."""
    from espb.tracking import sweep_links

    d, ui = browser, mlflow_ui
    links = sweep_links(ui.store, EXPERIMENT, SWEEP_NAME, [c.id for c in ui.children])
    with shots.on_failure(d, "05-parent"):
        d.get(links["parent run"].replace("http://127.0.0.1:5000", ui.url))
        _wait_text(d, [ui.parent.name, "Model training"], LOAD_S)
        _close_assistant(d)
        shots.save(d, "05-parent-run")
