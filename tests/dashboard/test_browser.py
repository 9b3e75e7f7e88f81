"""The dashboard in a real headless Chromium: it loads with sandbox data, every chart draws, filters change the
figures, and what it shows equals SQL over the synced tables, written here independently of the dashboard's code.
"""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.dashboard.world import World

CHARTS = ("cost", "tokens", "users-cost", "users-tokens")


# ------------------------------------------------------------------------------------------------- helpers


def sign_in(page: Any, world: World, environment: str) -> None:
    """Open the page, type the environment's token and press Enter, as a person would; wait for the figures."""
    page.goto(world.url + "/")
    page.get_by_label("API token", exact=True).fill(world.tokens[environment])
    page.get_by_label("API token", exact=True).press("Enter")
    wait_loaded(page, environment)


def wait_loaded(page: Any, environment: str) -> None:
    page.wait_for_function(
        "env => document.getElementById('status').textContent.startsWith('Showing ' + env + ',')"
        " && document.getElementById('main').getAttribute('aria-busy') === 'false'",
        arg=environment,
    )


def choose(page: Any, label: str, value: str, environment: str) -> None:
    """Pick an option of a labelled select and wait for the figures it asks for."""
    page.evaluate("() => { document.getElementById('status').textContent = ''; }")
    page.get_by_label(label, exact=True).select_option(value)
    wait_loaded(page, environment)


def set_period(page: Any, start: date, end: date, environment: str) -> None:
    """Type a custom period into the From and To fields (each change reloads the figures)."""
    for label, day in (("From (UTC day)", start), ("To (UTC day, included)", end)):
        page.evaluate("() => { document.getElementById('status').textContent = ''; }")
        field = page.get_by_label(label, exact=True)
        field.fill(day.isoformat())
        field.dispatch_event("change")
        wait_loaded(page, environment)


def shown_period(page: Any) -> tuple[date, date]:
    return date.fromisoformat(page.input_value("#from")), date.fromisoformat(page.input_value("#to"))


def shown_totals(page: Any) -> dict[str, Decimal]:
    """The bill tile as a person reads it: each currency's amount, its grouping commas removed."""
    totals = {}
    for item in page.locator("#totals li[data-currency]").all():
        text = item.locator(".amount").inner_text()
        assert re.fullmatch(r"-?\d{1,3}(,\d{3})*\.\d{2,}", text), text
        totals[item.get_attribute("data-currency")] = Decimal(text.replace(",", ""))
    return totals


def bounds(start: date, end: date) -> tuple[datetime, datetime]:
    return datetime.combine(start, time.min, tzinfo=UTC), datetime.combine(
        end + timedelta(days=1), time.min, tzinfo=UTC
    )


def sql_net(
    world: World, environment: str, start: date, end: date, integration: str | None = None
) -> dict[str, Decimal]:
    """Σ net per currency of an environment's rows whose period starts on a UTC day of [start, end]."""
    low, high = bounds(start, end)
    vendor = "AND u.integration = ?" if integration else ""
    rows = world.sql(
        "SELECT c.currency, SUM(c.amount) FROM unimeter.usage u JOIN unimeter.charges c ON c.usage_id = u.id "
        f"WHERE c.type = 'net' AND u.environment = ? AND u.start_date >= ? AND u.start_date < ? {vendor} "
        "GROUP BY c.currency",
        environment,
        low,
        high,
        *([integration] if integration else []),
    )
    return {currency: Decimal(amount) for currency, amount in rows}


def sql_rows(world: World, environment: str, start: date, end: date) -> int:
    low, high = bounds(start, end)
    return int(
        world.sql(
            "SELECT COUNT(*) FROM unimeter.usage WHERE environment = ? AND start_date >= ? AND start_date < ?",
            environment,
            low,
            high,
        )[0][0]
    )


def chart_option(page: Any, name: str) -> dict[str, Any]:
    option: dict[str, Any] = page.evaluate(
        "id => echarts.getInstanceByDom(document.getElementById(id)).getOption()", f"chart-{name}"
    )
    return option


def drawn_marks(page: Any, name: str) -> int:
    """Filled shapes the chart drew in its SVG (bars are paths): what a person sees as data."""
    count: int = page.evaluate(
        "id => [...document.querySelectorAll('#' + id + ' svg path')]"
        ".filter(p => (p.getAttribute('fill') || 'none') !== 'none' && p.getBBox().width * p.getBBox().height > 4)"
        ".length",
        f"chart-{name}",
    )
    return count


# --------------------------------------------------------------------------------------------------- tests


def test_the_page_loads_with_sandbox_data_and_every_chart_draws(page: Any, world: World, screenshots: Path) -> None:
    sign_in(page, world, "prod")
    for name in CHARTS:
        assert page.get_attribute(f"#chart-{name}", "data-rendered") == "true", name
        assert page.locator(f"#chart-{name} svg").count() == 1, name
        assert drawn_marks(page, name) >= 5, f"{name} drew {drawn_marks(page, name)} marks"
    start, end = shown_period(page)
    assert end == datetime.now(UTC).date() and (end - start).days == 29  # the default: the last 30 UTC days
    assert shown_totals(page) == sql_net(world, "prod", start, end)
    assert int(page.get_attribute("#row-count", "data-value") or -1) == sql_rows(world, "prod", start, end)
    assert not [error for error in page.log.errors if error.startswith("uncaught")]
    page.screenshot(path=str(screenshots / "charts.png"), full_page=True)


def test_the_cost_chart_stacks_each_vendor_by_day_as_sql_sums_it(page: Any, world: World) -> None:
    sign_in(page, world, "prod")
    start, end = shown_period(page)
    low, high = bounds(start, end)
    expected: dict[tuple[str, str], float] = {
        (integration, day.isoformat()): float(net)
        for integration, day, net in world.sql(
            "SELECT u.integration, CAST(u.start_date AT TIME ZONE 'UTC' AS DATE), SUM(c.amount) "
            "FROM unimeter.usage u JOIN unimeter.charges c ON c.usage_id = u.id WHERE c.type = 'net' "
            "AND c.currency = 'USD' AND u.environment = 'prod' AND u.start_date >= ? AND u.start_date < ? "
            "GROUP BY 1, 2",
            low,
            high,
        )
    }
    option = chart_option(page, "cost")
    days = option["xAxis"][0]["data"]
    assert days[0] == start.isoformat() and days[-1] == end.isoformat() and len(days) == (end - start).days + 1
    drawn = {
        (series["name"], days[index]): value
        for series in option["series"]
        for index, value in enumerate(series["data"])
        if value is not None
    }
    assert drawn == expected
    assert {series["stack"] for series in option["series"]} == {"cost"}


def test_changing_a_filter_changes_the_figures_to_what_sql_says(page: Any, world: World, screenshots: Path) -> None:
    sign_in(page, world, "prod")
    page.get_by_label("Period", exact=True).select_option("all")
    wait_loaded(page, "prod")
    start, end = shown_period(page)
    everything = shown_totals(page)
    assert everything == sql_net(world, "prod", start, end)

    choose(page, "Vendor", "confluent", "prod")
    confluent = shown_totals(page)
    assert confluent == sql_net(world, "prod", start, end, "confluent")
    assert confluent != everything
    assert [series["name"] for series in chart_option(page, "cost")["series"]] == ["confluent"]

    choose(page, "Vendor", "", "prod")
    choose(page, "Cost by", "month", "prod")
    months = chart_option(page, "cost")["xAxis"][0]["data"]
    assert all(re.fullmatch(r"\d{4}-\d{2}-01", month) for month in months), months
    page.screenshot(path=str(screenshots / "by-month.png"), full_page=True)

    last_day = datetime.now(UTC).date()
    set_period(page, last_day - timedelta(days=1), last_day, "prod")
    two_days = shown_totals(page)
    assert two_days == sql_net(world, "prod", last_day - timedelta(days=1), last_day)
    assert two_days != everything


def test_tokens_and_top_users_are_sql_over_the_same_rows(page: Any, world: World) -> None:
    sign_in(page, world, "prod")
    start, end = shown_period(page)
    low, high = bounds(start, end)
    where = "u.environment = 'prod' AND u.start_date >= ? AND u.start_date < ?"
    by_model = {
        model: (input_ or 0, output or 0)
        for model, input_, output in world.sql(
            f"SELECT model_id, SUM(tokens_input), SUM(tokens_output) FROM unimeter.usage u WHERE {where} "
            "AND model_id IS NOT NULL AND (tokens_input IS NOT NULL OR tokens_output IS NOT NULL "
            "OR tokens_total IS NOT NULL OR tokens_cache_read IS NOT NULL OR tokens_cache_write IS NOT NULL) "
            "GROUP BY model_id",
            low,
            high,
        )
    }
    option = chart_option(page, "tokens")
    models = option["yAxis"][0]["data"]
    series = {entry["name"]: entry["data"] for entry in option["series"]}
    assert models and set(models) <= set(by_model)
    for index, model in enumerate(models):
        assert (series["Input"][index], series["Output"][index]) == by_model[model], model

    users = world.sql(
        "SELECT COALESCE(u.user_email, u.user_id) AS who, SUM(c.amount) AS net FROM unimeter.usage u "
        f"JOIN unimeter.charges c ON c.usage_id = u.id WHERE c.type = 'net' AND c.currency = 'USD' AND {where} "
        "AND COALESCE(u.user_email, u.user_id) IS NOT NULL GROUP BY 1 ORDER BY net DESC, who LIMIT 10",
        low,
        high,
    )
    option = chart_option(page, "users-cost")
    drawn = list(zip(reversed(option["yAxis"][0]["data"]), reversed(option["series"][0]["data"]), strict=True))
    assert drawn == [(who, float(net)) for who, net in users]


def test_a_token_sees_its_own_environment_and_switching_shows_the_other(page: Any, world: World) -> None:
    sign_in(page, world, "prod")
    prod_vendors = page.locator("#vendor option").all_inner_texts()
    assert "datadog" in prod_vendors
    page.get_by_role("button", name="Add a token").click()
    page.get_by_label("API token", exact=True).fill(world.tokens["staging"])
    page.get_by_role("button", name="Sign in").click()
    wait_loaded(page, "staging")
    assert page.locator("#environment option").all_inner_texts() == ["prod", "staging"]
    assert page.input_value("#environment") == "staging"
    assert page.locator("#vendor option").all_inner_texts() == ["All vendors", "cursor", "openai"]
    start, end = shown_period(page)
    assert shown_totals(page) == sql_net(world, "staging", start, end)
    assert shown_totals(page) != sql_net(world, "prod", start, end)

    page.get_by_label("Environment", exact=True).select_option("prod")
    wait_loaded(page, "prod")
    assert shown_totals(page) == sql_net(world, "prod", start, end)


def test_the_table_view_pages_the_rows_and_downloads_them_as_csv(page: Any, world: World, screenshots: Path) -> None:
    sign_in(page, world, "prod")
    start, end = shown_period(page)
    page.get_by_role("tab", name="Table").click()
    page.wait_for_selector("#rows-table tbody tr")
    total = sql_rows(world, "prod", start, end)
    assert page.inner_text("#rows-caption").startswith(f"Usage rows 1\N{EN DASH}100 of {total:,}")
    assert page.locator("#rows-table tbody tr").count() == 100
    page.screenshot(path=str(screenshots / "table.png"), full_page=False)
    page.get_by_role("button", name="Next rows").click()
    page.wait_for_function("() => document.getElementById('rows-caption').textContent.startsWith('Usage rows 101')")

    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download CSV").click()
    download = download_info.value
    assert download.suggested_filename == f"unimeter-usage-prod-{start.isoformat()}-{end.isoformat()}.csv"
    rows = list(csv.DictReader(io.StringIO(Path(download.path()).read_text(encoding="utf-8"))))
    assert len(rows) == total
    assert len({row["id"] for row in rows}) == total
    assert sum(Decimal(row["net_USD"]) for row in rows if row["net_USD"]) == sql_net(world, "prod", start, end)["USD"]


def test_health_shows_each_account_its_last_sync_and_what_to_do(page: Any, world: World, screenshots: Path) -> None:
    sign_in(page, world, "prod")
    banner = page.locator("#problems")
    assert banner.is_visible()
    assert "2 accounts need attention" in banner.inner_text()
    page.get_by_role("tab", name="Health").click()
    failing = page.locator(f'#health-table tr[data-account="{world.accounts["prod"]["failing"]}"]')
    reauth = page.locator(f'#health-table tr[data-account="{world.accounts["prod"]["reauth"]}"]')
    good = page.locator(f'#health-table tr[data-account="{world.accounts["prod"]["datadog"]}"]')
    [(state_error,)] = world.sql(
        "SELECT last_error FROM unimeter._unimeter_sync_state WHERE integrated_account_id = ?",
        world.accounts["prod"]["failing"],
    )
    assert failing.locator(".badge").inner_text() == "failing"
    assert state_error and state_error in failing.inner_text()
    assert f"unimeter sync --account {world.accounts['prod']['failing']}" in failing.inner_text()
    assert reauth.locator(".badge").inner_text() == "needs_reauth"
    assert "unimeter accounts update" in reauth.inner_text()
    assert good.locator(".badge").inner_text() == "ok"
    [(last_run,)] = world.sql(
        "SELECT MAX(last_run_at) FROM unimeter._unimeter_sync_state WHERE integrated_account_id = ?",
        world.accounts["prod"]["datadog"],
    )
    assert last_run.astimezone(UTC).isoformat().replace("+00:00", "Z") in good.inner_text()
    assert page.locator("#health-table tbody tr").count() == len(world.accounts["prod"])
    page.screenshot(path=str(screenshots / "health.png"), full_page=True)


def test_empty_and_wrong_token_states_say_what_to_do(page: Any, world: World, screenshots: Path) -> None:
    page.goto(world.url + "/")
    assert page.get_by_role("heading", name="Sign in with an API token").is_visible()
    assert "unimeter tokens create --environment NAME" in page.inner_text("#sign-in")
    page.screenshot(path=str(screenshots / "sign-in.png"))
    page.get_by_label("API token", exact=True).fill("not-a-token")
    page.get_by_label("API token", exact=True).press("Enter")
    page.wait_for_function("() => document.getElementById('sign-in-error').textContent.length > 0")
    assert "not accepted" in page.inner_text("#sign-in-error")

    page.get_by_label("API token", exact=True).fill(world.tokens["empty"])
    page.get_by_label("API token", exact=True).press("Enter")
    page.wait_for_selector("#notice:not([hidden])")
    notice = page.inner_text("#notice")
    assert "No integrated accounts in empty yet" in notice
    assert "unimeter accounts create INTEGRATION --environment empty" in notice
    assert "unimeter sync --environment empty" in notice
    assert page.locator("#dashboard").is_hidden()
    page.screenshot(path=str(screenshots / "empty.png"))


def test_a_token_in_the_address_is_taken_and_removed_from_it(page: Any, world: World) -> None:
    page.goto(f"{world.url}/#token={world.tokens['staging']}")
    wait_loaded(page, "staging")
    assert "token" not in page.url
    assert world.tokens["staging"] not in page.url
    assert all(world.tokens["staging"] not in url for url in page.log.requests)


def test_controls_are_labelled_reachable_by_keyboard_and_readable(page: Any, world: World) -> None:
    sign_in(page, world, "prod")
    unlabelled = page.evaluate(
        "() => [...document.querySelectorAll('select, input, button, [role=tab]')]"
        ".filter(el => el.offsetParent !== null)"
        ".filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.textContent.trim())"
        ".map(el => el.id || el.outerHTML.slice(0, 60))"
    )
    assert unlabelled == []
    # Keyboard: Tab from the period reaches the other filters in order; arrows move between the views.
    page.get_by_label("Period", exact=True).focus()
    order: list[str] = []
    for _ in range(14):  # a date field takes a Tab per part (month, day, year)
        page.keyboard.press("Tab")
        focused = page.evaluate("() => document.activeElement.id")
        if not order or order[-1] != focused:
            order.append(focused)
    assert order[:5] == ["from", "to", "granularity", "vendor", "currency"], order
    page.get_by_role("tab", name="Charts").focus()
    page.keyboard.press("ArrowRight")
    assert page.get_attribute("#tab-table", "aria-selected") == "true"
    assert page.evaluate("() => document.activeElement.id") == "tab-table"
    assert page.locator("#view-table").is_visible() and page.locator("#view-charts").is_hidden()
    page.keyboard.press("End")
    assert page.locator("#view-health").is_visible()
    page.keyboard.press("Home")
    assert page.locator("#view-charts").is_visible()
    # The vendor filter works from the keyboard alone.
    page.get_by_label("Vendor", exact=True).focus()
    page.evaluate("() => { document.getElementById('status').textContent = ''; }")
    page.keyboard.press("ArrowDown")
    wait_loaded(page, "prod")
    assert page.input_value("#vendor") != ""
    # Contrast (WCAG AA, 4.5:1 for text) of every visible text element against its background.
    low = page.evaluate(CONTRAST_SCRIPT)
    assert low == [], low


CONTRAST_SCRIPT = """() => {
  const rgb = (text) => (text.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => [r, g, b]
    .map((c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; })
    .reduce((sum, c, i) => sum + c * [0.2126, 0.7152, 0.0722][i], 0);
  const background = (el) => {
    for (let node = el; node; node = node.parentElement) {
      const color = rgb(getComputedStyle(node).backgroundColor);
      if (color.length === 3 || (color.length === 4 && color[3] > 0.9)) return color.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const low = [];
  for (const el of document.querySelectorAll('body *')) {
    if (el.closest('svg') || !el.offsetParent) continue;
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own) continue;
    const style = getComputedStyle(el);
    const fg = rgb(style.color).slice(0, 3);
    const [a, b] = [lum(fg), lum(background(el))].sort((x, y) => y - x);
    const ratio = (a + 0.05) / (b + 0.05);
    if (ratio < 4.5 && !el.disabled) {
      low.push(el.tagName + '#' + el.id + ' ' + ratio.toFixed(2) + ' ' + el.textContent.trim().slice(0, 30));
    }
  }
  return low;
}"""


def test_loading_then_an_unreadable_destination_say_what_is_happening(
    page: Any, world: World, screenshots: Path
) -> None:
    held: list[Any] = []
    page.route("**/dashboard/api/overview*", lambda route: held.append(route))
    page.goto(f"{world.url}/#token={world.tokens['prod']}")
    page.wait_for_function(
        "() => document.getElementById('status').textContent.startsWith('Loading the figures of prod')"
    )
    assert page.get_attribute("#main", "aria-busy") == "true"
    message = "cannot read the sync destination /srv/usage.duckdb: IOException: Could not set lock on file"
    envelope = {"status": 503, "error": "sync_destination_unavailable", "message": message, "details": {}}
    held[0].fulfill(status=503, content_type="application/json", body=json.dumps(envelope))
    page.wait_for_selector("#notice:not([hidden])")
    notice = page.inner_text("#notice")
    assert "The synced data cannot be read" in notice and message in notice
    assert page.get_attribute("#main", "aria-busy") == "false"
    assert page.get_attribute("#notice", "role") == "alert"
    page.screenshot(path=str(screenshots / "error.png"))
