/* unimeter dashboard: reads /dashboard/api/* with the tab's API tokens and draws the figures with Apache ECharts.

   Why no framework: one page, four charts, three tables; plain DOM calls keep it readable and the package small.
   Every value from the server is put in the page as text (textContent), never as HTML. Money arrives as exact
   decimal strings and is shown as such (grouped, never rounded); the charts draw it as numbers, their tooltips show
   the exact strings. Tokens are kept in sessionStorage (this tab only), one per environment. */
(function () {
  "use strict";

  const STORE_KEY = "unimeter.dashboard.tokens";
  const CURRENT_KEY = "unimeter.dashboard.environment";
  const PAGE_ROWS = 100;
  const TABLE_COLUMNS = ["start_date", "integration", "report", "product", "metric", "user", "model", "quantity",
    "unit", "tokens_total"];
  const NUMBER_COLUMNS = new Set(["quantity", "tokens_input", "tokens_output", "tokens_cache_read",
    "tokens_cache_write", "tokens_total"]);
  /* Okabe-Ito, the palette made for colour-blind readers, darkened where it was under 3:1 against white. */
  const PALETTE = ["#0072b2", "#d55e00", "#009e73", "#cc79a7", "#8a6d00", "#56b4e9", "#6b4c9a", "#333333",
    "#e69f00", "#117733"];

  const $ = (id) => document.getElementById(id);
  const state = { overview: null, health: null, offset: 0, charts: {}, requestId: 0, rowsTotal: 0 };

  /* ------------------------------------------------------------------------------------------ tokens */

  function tokens() {
    try { return JSON.parse(sessionStorage.getItem(STORE_KEY) || "{}"); } catch (e) { return {}; }
  }
  function saveTokens(map) { sessionStorage.setItem(STORE_KEY, JSON.stringify(map)); }
  function currentEnvironment() {
    const map = tokens();
    const chosen = sessionStorage.getItem(CURRENT_KEY);
    if (chosen && map[chosen]) return chosen;
    const names = Object.keys(map).sort();
    return names.length ? names[0] : null;
  }

  async function api(path, params, environment) {
    const env = environment || currentEnvironment();
    const token = env ? tokens()[env] : null;
    const url = new URL(path, window.location.origin);
    if (params) for (const [key, value] of params) url.searchParams.append(key, value);
    let response;
    try {
      response = await fetch(url, { headers: token ? { Authorization: "Bearer " + token } : {}, cache: "no-store" });
    } catch (error) {
      throw { kind: "network", message: "The service cannot be reached. Is `unimeter serve` still running?" };
    }
    if (response.ok) return response;
    let body = {};
    try { body = await response.json(); } catch (e) { body = {}; }
    throw { kind: "http", status: response.status, code: body.error, message: body.message || response.statusText,
      parameter: body.details && body.details.parameter, environment: env };
  }
  async function apiJson(path, params, environment) { return (await api(path, params, environment)).json(); }

  /* ----------------------------------------------------------------------------------------- numbers */

  function group(digits) { return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ","); }
  /* An exact decimal string, grouped, with at least two decimals: "1234.5" -> "1,234.50"; never rounded. */
  function formatMoney(text) {
    let value = String(text);
    const negative = value.startsWith("-");
    if (negative) value = value.slice(1);
    let [whole, fraction = ""] = value.split(".");
    if (fraction.length < 2) fraction = fraction.padEnd(2, "0");
    return (negative ? "-" : "") + group(whole) + "." + fraction;
  }
  function formatCount(number) {
    if (number === null || number === undefined) return "";
    return Number.isInteger(number) ? group(String(number)) : String(number);
  }
  function compact(number) {
    const abs = Math.abs(number);
    if (abs >= 1e9) return (number / 1e9).toFixed(1) + "B";
    if (abs >= 1e6) return (number / 1e6).toFixed(1) + "M";
    if (abs >= 1e3) return (number / 1e3).toFixed(1) + "k";
    return String(Math.round(number * 100) / 100);
  }

  /* ------------------------------------------------------------------------------------------- dates */

  function isoDay(date) { return date.toISOString().slice(0, 10); }
  function todayUtc() { const now = new Date(); return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate())); }
  function addDays(date, days) { return new Date(date.getTime() + days * 86400000); }
  function periodDays(choice, choices) {
    const today = todayUtc();
    if (/^\d+$/.test(choice)) return [isoDay(addDays(today, 1 - Number(choice))), isoDay(today)];
    if (choice === "this-month") return [isoDay(new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), 1))), isoDay(today)];
    if (choice === "last-month") {
      const first = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth() - 1, 1));
      const last = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), 0));
      return [isoDay(first), isoDay(last)];
    }
    if (choice === "all" && choices && choices.first_day) return [choices.first_day, choices.last_day];
    return null;
  }

  /* ------------------------------------------------------------------------------------------ states */

  function sentence(text) { return text ? text.charAt(0).toUpperCase() + text.slice(1) : ""; }
  function setStatus(text) { $("status").textContent = text; }
  function setBusy(busy) { $("main").setAttribute("aria-busy", busy ? "true" : "false"); }

  function paragraphs(node, title, lines, kind) {
    node.replaceChildren();
    node.className = "notice" + (kind ? " " + kind : "");
    if (title) { const h = document.createElement("h2"); h.textContent = title; node.append(h); }
    for (const line of lines) {
      const p = document.createElement("p");
      for (const part of String(line).split(/(`[^`]+`)/)) {
        if (part.startsWith("`") && part.endsWith("`") && part.length > 1) {
          const code = document.createElement("code"); code.textContent = part.slice(1, -1); p.append(code);
        } else { p.append(document.createTextNode(part)); }
      }
      node.append(p);
    }
    node.hidden = false;
  }
  function showNotice(title, lines, kind) { paragraphs($("notice"), title, lines, kind); }
  function hideNotice() { $("notice").hidden = true; $("notice").replaceChildren(); }

  function showSignIn(message, cancellable) {
    $("sign-in").hidden = false;
    $("dashboard").hidden = true;
    $("cancel-sign-in").hidden = !cancellable;
    $("sign-in-error").textContent = message || "";
    setBusy(false);
    setStatus("");
    $("token").value = "";
    $("token").focus();
  }

  function describeError(error) {
    if (error.kind === "network") return ["The service cannot be reached", [error.message]];
    if (error.status === 503) return ["The synced data cannot be read", [error.message]];
    if (error.status === 400) return ["Those filters cannot be used", [error.message]];
    return ["Something went wrong (" + (error.status || "?") + ")", [error.message,
      "The service's log has the details, under this request's X-Request-Id."]];
  }

  async function handleError(error) {
    setBusy(false);
    setStatus("");
    if (error.kind === "http" && error.status === 401) {
      const map = tokens();
      if (error.environment) delete map[error.environment];
      saveTokens(map);
      renderEnvironments();
      if (currentEnvironment()) {
        showNotice("A token stopped working", ["The token of environment " + error.environment +
          " is no longer accepted (revoked or expired?); it was removed from this tab."], "warning");
        return load();
      }
      return showSignIn("That token is not accepted (revoked or expired?). Create a new one with " +
        "unimeter tokens create --environment NAME.", false);
    }
    const [title, lines] = describeError(error);
    showNotice(title, lines, "error");
  }

  /* ------------------------------------------------------------------------------------ environments */

  function renderEnvironments() {
    const select = $("environment");
    const current = currentEnvironment();
    select.replaceChildren(...Object.keys(tokens()).sort().map((name) => {
      const option = document.createElement("option");
      option.value = name; option.textContent = name; option.selected = name === current;
      return option;
    }));
    $("session").hidden = !current;
  }

  async function signIn(token) {
    const url = new URL("/dashboard/api/session", window.location.origin);
    let response;
    try {
      response = await fetch(url, { headers: { Authorization: "Bearer " + token }, cache: "no-store" });
    } catch (e) {
      throw { kind: "network", message: "The service cannot be reached. Is `unimeter serve` still running?" };
    }
    if (!response.ok) {
      let body = {};
      try { body = await response.json(); } catch (e) { body = {}; }
      throw { kind: "http", status: response.status, message: body.message || response.statusText };
    }
    const { environment } = await response.json();
    const map = tokens();
    map[environment] = token;
    saveTokens(map);
    sessionStorage.setItem(CURRENT_KEY, environment);
    return environment;
  }

  /* ------------------------------------------------------------------------------------------ filters */

  function filterParams() {
    const params = [["from", $("from").value], ["to", $("to").value], ["granularity", $("granularity").value]];
    if ($("vendor").value) params.push(["integration", $("vendor").value]);
    if ($("currency").value) params.push(["currency", $("currency").value]);
    return params;
  }

  function fillSelect(select, values, firstLabel) {
    const previous = select.value;
    const options = [];
    if (firstLabel !== undefined) {
      const all = document.createElement("option"); all.value = ""; all.textContent = firstLabel; options.push(all);
    }
    for (const value of values) {
      const option = document.createElement("option"); option.value = value; option.textContent = value; options.push(option);
    }
    select.replaceChildren(...options);
    if ([...select.options].some((option) => option.value === previous)) select.value = previous;
  }

  /* ------------------------------------------------------------------------------------------- charts */

  function chart(id) {
    if (!state.charts[id]) {
      state.charts[id] = window.echarts.init($(id), null, { renderer: "svg" });
    }
    return state.charts[id];
  }
  function escapeHtml(text) {
    return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  }
  function showChart(name, hasData, emptyText) {
    const plot = $("chart-" + name);
    const empty = $("empty-" + name);
    plot.hidden = !hasData;
    empty.hidden = hasData;
    empty.textContent = hasData ? "" : emptyText;
    plot.dataset.rendered = hasData ? "true" : "empty";
    if (!hasData && state.charts["chart-" + name]) state.charts["chart-" + name].clear();
  }
  function base() {
    return {
      color: PALETTE,
      aria: { enabled: true },
      animation: false,
      textStyle: { color: "#1b1f24" },
      grid: { left: 12, right: 24, top: 40, bottom: 12, containLabel: true },
      legend: { top: 0, type: "scroll", textStyle: { color: "#1b1f24" } },
    };
  }
  function emptyWhy(what, data) {
    const filters = data.filters;
    const vendor = filters.integrations.length ? filters.integrations.join(", ") : "any vendor";
    let text = "No " + what + " from " + filters.from + " to " + filters.to + " for " + vendor + ".";
    if (data.choices.first_day) text += " The synced rows span " + data.choices.first_day + " to " + data.choices.last_day + ": widen the period.";
    return text;
  }

  function drawCost(data) {
    const cost = data.figures.cost_over_time;
    const has = cost.series.some((series) => series.values.some((value) => value !== null));
    $("cap-cost-hint").textContent = "(Σ net, " + cost.currency + ", by " + data.filters.granularity + ", stacked)";
    showChart("cost", has, emptyWhy("net charges in " + cost.currency, data));
    if (!has) return;
    const exact = {};
    const option = base();
    option.tooltip = {
      trigger: "axis", axisPointer: { type: "shadow" },
      formatter: (items) => {
        const lines = items.filter((item) => exact[item.seriesName + "|" + item.axisValue] !== undefined)
          .map((item) => escapeHtml(item.seriesName) + ": " + escapeHtml(formatMoney(exact[item.seriesName + "|" + item.axisValue])) + " " + escapeHtml(cost.currency));
        return escapeHtml(items.length ? items[0].axisValue : "") + "<br>" + lines.join("<br>");
      },
    };
    option.xAxis = { type: "category", data: cost.buckets, axisLabel: { color: "#1b1f24" } };
    option.yAxis = { type: "value", name: cost.currency, axisLabel: { color: "#1b1f24", formatter: compact } };
    option.series = cost.series.map((series) => {
      series.values.forEach((value, index) => { if (value !== null) exact[series.integration + "|" + cost.buckets[index]] = value; });
      return { name: series.integration, type: "bar", stack: "cost", data: series.values.map((value) => (value === null ? null : Number(value))) };
    });
    chart("chart-cost").setOption(option, true);
  }

  function drawTokens(data) {
    const figure = data.figures.tokens_by_model;
    const models = figure.models.slice().reverse();
    $("cap-tokens-hint").textContent = figure.more_models ? "(the " + figure.models.length + " largest; " + figure.more_models + " smaller not shown)" : "";
    showChart("tokens", models.length > 0, emptyWhy("tokens reported per model", data));
    if (!models.length) return;
    const parts = [["input", "Input"], ["output", "Output"], ["cache_read", "Cache read"], ["cache_write", "Cache write"]];
    const option = base();
    option.tooltip = { trigger: "axis", axisPointer: { type: "shadow" },
      formatter: (items) => escapeHtml(items[0].axisValue) + "<br>" + items.map((item) => escapeHtml(item.seriesName) + ": " + escapeHtml(formatCount(item.value))).join("<br>") };
    option.yAxis = { type: "category", data: models.map((model) => model.model), axisLabel: { color: "#1b1f24", width: 170, overflow: "truncate" } };
    option.xAxis = { type: "value", axisLabel: { color: "#1b1f24", formatter: compact } };
    option.series = parts.map(([key, label]) => ({ name: label, type: "bar", stack: "tokens", data: models.map((model) => model[key]) }));
    chart("chart-tokens").setOption(option, true);
  }

  function drawUsers(name, users, valueOf, exactOf, unit, emptyText) {
    const rows = users.slice().reverse();
    showChart(name, rows.length > 0, emptyText);
    if (!rows.length) return;
    const option = base();
    option.legend = { show: false };
    option.grid.top = 12;
    option.tooltip = { trigger: "axis", axisPointer: { type: "shadow" },
      formatter: (items) => escapeHtml(items[0].axisValue) + ": " + escapeHtml(exactOf(rows[items[0].dataIndex])) + (unit ? " " + escapeHtml(unit) : "") };
    option.yAxis = { type: "category", data: rows.map((user) => user.user), axisLabel: { color: "#1b1f24", width: 190, overflow: "truncate" } };
    option.xAxis = { type: "value", axisLabel: { color: "#1b1f24", formatter: compact } };
    option.series = [{ name: name === "users-cost" ? "Σ net" : "Tokens", type: "bar", data: rows.map(valueOf), itemStyle: { color: name === "users-cost" ? PALETTE[0] : PALETTE[2] } }];
    chart("chart-" + name).setOption(option, true);
  }

  function drawCharts(data) {
    drawCost(data);
    drawTokens(data);
    const currency = data.figures.currency;
    $("cap-users-cost-hint").textContent = "(Σ net, " + currency + ")";
    drawUsers("users-cost", data.figures.top_users_by_cost, (user) => Number(user.net), (user) => formatMoney(user.net), currency,
      emptyWhy("net charges in " + currency + " with a user", data));
    drawUsers("users-tokens", data.figures.top_users_by_tokens, (user) => user.tokens, (user) => formatCount(user.tokens), "tokens",
      emptyWhy("tokens with a user", data));
    resizeCharts();
  }
  function resizeCharts() { for (const instance of Object.values(state.charts)) instance.resize(); }

  /* ---------------------------------------------------------------------------------------- overview */

  function renderTotals(data) {
    const list = $("totals");
    const items = data.figures.totals.map((total) => {
      const item = document.createElement("li");
      item.dataset.currency = total.currency;
      item.dataset.value = total.net;
      const amount = document.createElement("span"); amount.className = "amount"; amount.textContent = formatMoney(total.net);
      const code = document.createElement("span"); code.className = "currency"; code.textContent = total.currency;
      item.append(amount, code);
      return item;
    });
    if (!items.length) {
      const item = document.createElement("li"); item.textContent = "none in this period"; items.push(item);
    }
    list.replaceChildren(...items);
    $("row-count").textContent = formatCount(data.figures.rows);
    $("row-count").dataset.value = String(data.figures.rows);
  }

  function renderOverview(data) {
    fillSelect($("vendor"), data.choices.integrations, "All vendors");
    fillSelect($("currency"), data.choices.currencies.length ? data.choices.currencies : [data.figures.currency]);
    $("currency").value = data.figures.currency;
    renderTotals(data);
    drawCharts(data);
  }

  function renderHealth(health) {
    const accounts = health.accounts;
    const bad = accounts.filter((account) => account.advice);
    $("health-summary").textContent = accounts.length + " account" + (accounts.length === 1 ? "" : "s") +
      (bad.length ? ", " + bad.length + " need" + (bad.length === 1 ? "s" : "") + " attention" : ", all synced");
    const body = $("health-table").tBodies[0];
    body.replaceChildren(...accounts.map((account) => {
      const row = document.createElement("tr");
      row.dataset.account = account.id;
      const cells = [account.integration, account.id.slice(0, 8), null, account.last_run_at || "never",
        account.last_success_at || "never",
        account.reports.map((report) => report.report + ": " + report.status +
          (report.status === "skipped" && report.last_error ? " (" + report.last_error + ")" : "") +
          (report.status !== "skipped" && report.last_rows !== null ? " (" + formatCount(report.last_rows) + " rows)" : "")).join("; ") || "none",
        account.last_error || account.error || "", sentence(account.advice)];
      cells.forEach((value, index) => {
        const cell = document.createElement("td");
        if (index === 2) {
          const badge = document.createElement("span");
          const failing = account.reports.some((report) => report.status === "failed");
          const label = account.status === "active" ? (failing ? "failing" : (account.reports.length ? "ok" : "not synced")) : account.status;
          badge.className = "badge " + (label === "ok" ? "ok" : (label === "not synced" ? "warn" : "bad"));
          badge.textContent = label;
          cell.append(badge);
        } else { cell.textContent = value; }
        if (index >= 5) cell.className = "wrap";
        row.append(cell);
      });
      return row;
    }));
    const problems = $("problems");
    if (health.sync_state_error) {
      paragraphs(problems, "The sync state cannot be read", [health.sync_state_error], "warning");
    } else if (bad.length) {
      paragraphs(problems, bad.length === 1 ? "One account needs attention" : bad.length + " accounts need attention",
        bad.map((account) => account.integration + " (" + account.id.slice(0, 8) + "): " +
          (account.last_error ? account.last_error.replace(/\.?$/, ". ") : "") + sentence(account.advice)), "warning");
    } else { problems.hidden = true; }
  }

  async function load() {
    const environment = currentEnvironment();
    if (!environment) return showSignIn("", false);
    $("sign-in").hidden = true;
    renderEnvironments();
    const request = ++state.requestId;
    setBusy(true);
    setStatus("Loading the figures of " + environment + "…");
    try {
      const [overview, health] = await Promise.all([
        apiJson("/dashboard/api/overview", filterParams()),
        apiJson("/dashboard/api/health"),
      ]);
      if (request !== state.requestId) return;
      state.overview = overview;
      state.health = health;
      hideNotice();
      if (!overview.accounts) {
        $("dashboard").hidden = true;
        showNotice("No integrated accounts in " + environment + " yet", [
          "Add one on the machine that runs the service: `unimeter accounts create INTEGRATION --environment " + environment + " --credential KEY=VALUE` (or POST /integrated-accounts with this token; `unimeter integrations` lists the integrations and docs/integrations.md their credentials).",
          "Then sync it: `unimeter sync --environment " + environment + "`, and reload this page. To try it with no credentials: `unimeter demo --dashboard`.",
        ]);
      } else if (!overview.synced) {
        $("dashboard").hidden = true;
        showNotice("Nothing synced yet", [overview.message,
          overview.accounts + " account" + (overview.accounts === 1 ? " is" : "s are") + " ready in " + environment + "."]);
      } else {
        $("dashboard").hidden = false;
        if (!$("from").value) { $("from").value = overview.filters.from; $("to").value = overview.filters.to; }
        renderOverview(overview);
      }
      renderHealth(health);
      if (!$("view-table").hidden) await loadRows();
      setStatus("Showing " + environment + ", " + overview.filters.from + " to " + overview.filters.to + " (UTC).");
    } catch (error) {
      if (request === state.requestId) await handleError(error);
    } finally {
      if (request === state.requestId) setBusy(false);
    }
  }

  /* ------------------------------------------------------------------------------------------- table */

  async function loadRows() {
    const params = filterParams().concat([["offset", String(state.offset)], ["limit", String(PAGE_ROWS)]]);
    const page = await apiJson("/dashboard/api/rows", params);
    if (!page.synced) return;
    state.rowsTotal = page.total;
    const netColumns = page.columns.filter((name) => name.startsWith("net_"));
    const shown = TABLE_COLUMNS.concat(netColumns);
    const indexes = shown.map((name) => page.columns.indexOf(name));
    const head = document.createElement("tr");
    for (const name of shown) {
      const th = document.createElement("th"); th.scope = "col"; th.textContent = name.replace(/_/g, " ");
      if (NUMBER_COLUMNS.has(name) || name.startsWith("net_")) th.className = "number";
      head.append(th);
    }
    $("rows-table").tHead.replaceChildren(head);
    $("rows-table").tBodies[0].replaceChildren(...page.rows.map((values) => {
      const row = document.createElement("tr");
      indexes.forEach((index, position) => {
        const name = shown[position];
        const value = values[index];
        const cell = document.createElement("td");
        if (name.startsWith("net_")) { cell.className = "number"; cell.textContent = value === null ? "" : formatMoney(value); if (value !== null) cell.dataset.value = value; }
        else if (NUMBER_COLUMNS.has(name)) { cell.className = "number"; cell.textContent = formatCount(value); }
        else cell.textContent = value === null ? "" : String(value);
        row.append(cell);
      });
      return row;
    }));
    const first = page.total ? page.offset + 1 : 0;
    const last = page.offset + page.rows.length;
    $("rows-caption").textContent = "Usage rows " + formatCount(first) + "–" + formatCount(last) + " of " + formatCount(page.total) +
      " (newest first; the CSV has every row and column)";
    $("previous-page").disabled = page.offset === 0;
    $("next-page").disabled = last >= page.total;
  }

  async function downloadCsv() {
    const button = $("download");
    button.disabled = true;
    setStatus("Preparing the CSV…");
    try {
      const response = await api("/dashboard/api/rows.csv", filterParams());
      const blob = await response.blob();
      const match = /filename="([^"]+)"/.exec(response.headers.get("Content-Disposition") || "");
      const link = document.createElement("a");
      link.href = URL.createObjectURL(blob);
      link.download = match ? match[1] : "unimeter-usage.csv";
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 10000);
      setStatus("CSV downloaded: " + link.download + ".");
    } catch (error) { await handleError(error); }
    finally { button.disabled = false; }
  }

  /* -------------------------------------------------------------------------------------------- tabs */

  function selectTab(tab, focus) {
    for (const other of document.querySelectorAll('[role="tab"]')) {
      const selected = other === tab;
      other.setAttribute("aria-selected", selected ? "true" : "false");
      other.tabIndex = selected ? 0 : -1;
      $(other.getAttribute("aria-controls")).hidden = !selected;
    }
    if (focus) tab.focus();
    if (tab.id === "tab-charts") resizeCharts();
    if (tab.id === "tab-table") { loadRows().catch(handleError); }
  }

  /* ------------------------------------------------------------------------------------------- wiring */

  function onPeriodChosen() {
    const days = periodDays($("period").value, state.overview && state.overview.choices);
    if (days) { $("from").value = days[0]; $("to").value = days[1]; }
    state.offset = 0;
    if ($("period").value !== "custom") load();
  }

  function wire() {
    $("sign-in-form").addEventListener("submit", async (event) => {
      event.preventDefault();
      const token = $("token").value.trim();
      if (!token) { $("sign-in-error").textContent = "Paste an API token first."; return; }
      $("sign-in-error").textContent = "";
      setStatus("Checking the token…");
      try {
        await signIn(token);
        $("token").value = "";
        $("sign-in").hidden = true;
        await load();
      } catch (error) {
        setStatus("");
        $("sign-in-error").textContent = error.status === 401
          ? "That token is not accepted (mistyped, revoked or expired?). Create one with unimeter tokens create --environment NAME."
          : describeError(error)[1][0];
      }
    });
    $("cancel-sign-in").addEventListener("click", () => { $("sign-in").hidden = true; if (currentEnvironment()) { $("dashboard").hidden = false; load(); } });
    $("add-token").addEventListener("click", () => showSignIn("", true));
    $("sign-out").addEventListener("click", () => { sessionStorage.removeItem(STORE_KEY); sessionStorage.removeItem(CURRENT_KEY); renderEnvironments(); hideNotice(); showSignIn("", false); });
    $("environment").addEventListener("change", () => {
      sessionStorage.setItem(CURRENT_KEY, $("environment").value);
      $("vendor").value = ""; state.offset = 0; load();
    });
    $("period").addEventListener("change", onPeriodChosen);
    for (const id of ["from", "to"]) {
      $(id).addEventListener("change", () => {
        $("period").value = "custom";
        if ($("from").value && $("to").value) { state.offset = 0; load(); }
      });
    }
    for (const id of ["granularity", "vendor", "currency"]) $(id).addEventListener("change", () => { state.offset = 0; load(); });
    $("download").addEventListener("click", downloadCsv);
    $("previous-page").addEventListener("click", () => { state.offset = Math.max(0, state.offset - PAGE_ROWS); loadRows().catch(handleError); });
    $("next-page").addEventListener("click", () => { state.offset += PAGE_ROWS; loadRows().catch(handleError); });
    const tabs = [...document.querySelectorAll('[role="tab"]')];
    tabs.forEach((tab, index) => {
      tab.addEventListener("click", () => selectTab(tab, false));
      tab.addEventListener("keydown", (event) => {
        let next = null;
        if (event.key === "ArrowRight") next = tabs[(index + 1) % tabs.length];
        if (event.key === "ArrowLeft") next = tabs[(index - 1 + tabs.length) % tabs.length];
        if (event.key === "Home") next = tabs[0];
        if (event.key === "End") next = tabs[tabs.length - 1];
        if (next) { event.preventDefault(); selectTab(next, true); }
      });
    });
    window.addEventListener("resize", resizeCharts);
  }

  /* A token in the address's fragment (#token=..., as `unimeter demo --dashboard` prints it) is taken into this tab
     and removed from the address at once; a fragment never reaches the server or its logs. A period there
     (#period=7, a value of the Period menu) is the one shown first. */
  async function takeTokenFromAddress() {
    const fragment = new URLSearchParams(window.location.hash.slice(1));
    const period = fragment.get("period");
    if (period && [...$("period").options].some((option) => option.value === period) && periodDays(period)) {
      $("period").value = period;
      const days = periodDays(period);
      $("from").value = days[0];
      $("to").value = days[1];
    }
    const token = fragment.get("token");
    if (!token) return;
    history.replaceState(null, "", window.location.pathname + window.location.search);
    try { await signIn(token); } catch (error) {
      showSignIn(error.status === 401 ? "The token in the address is not accepted (the demo that printed it has stopped?)." : describeError(error)[1][0], false);
      throw error;
    }
  }

  async function start() {
    wire();
    const days = periodDays($("period").value);
    $("from").value = days[0];
    $("to").value = days[1];
    try { await takeTokenFromAddress(); } catch (error) { return; }
    if (!window.echarts) {
      showNotice("The chart library did not load", ["/dashboard/static/vendor/echarts/echarts.common.min.js could not be loaded; reinstall unimeter."], "error");
    }
    await load();
  }

  document.addEventListener("DOMContentLoaded", start);
})();
