// The console at /dashboard: each panel fetches one endpoint of /dashboard/api/ with the page's
// query (range, grain, filters) and draws it. docs/operations.md describes the endpoints.
"use strict";

// One colour per record state, everywhere on the page (issue 32: delivered green, failed red,
// unknown grey); "other" is every state still on its way.
const STATE_COLOURS = { delivered: "#2e7d32", failed: "#c62828", unknown: "#9e9e9e", other: "#1565c0" };
const STATE_GROUPS = ["delivered", "failed", "unknown", "other"];
const PERCENTILE_COLOURS = { p50_ms: "#90caf9", p90_ms: "#1e88e5", p99_ms: "#0d47a1" };
const QUERY = JSON.parse(document.getElementById("api-query").textContent);
const REGION_NAMES = JSON.parse(document.getElementById("region-names").textContent);
const PLOT_CONFIG = { displayModeBar: false, responsive: true };

const api = (name, extra) => `/dashboard/api/${name}?${QUERY}${extra || ""}`;
const byId = (id) => document.getElementById(id);

function element(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes || {})) {
    if (value !== undefined && value !== null) node.setAttribute(key, value);
  }
  for (const child of children) node.append(child instanceof Node ? child : String(child));
  return node;
}

// Numbers with their unit, always.
const whole = (n) => (n === null || n === undefined ? "–" : Number(n).toLocaleString("en-US"));
const fmt = {
  records: (n) => `${whole(n)} ${n === 1 ? "record" : "records"}`,
  parts: (n) => `${whole(n)} ${n === 1 ? "part" : "parts"}`,
  messages: (n) => `${whole(n)} messages`,
  ms: (n) => (n === null || n === undefined ? "–" : `${whole(Math.round(n))} ms`),
  percent: (rate) => (rate === null || rate === undefined ? "no final records" : `${(rate * 100).toFixed(1)} %`),
  yuan: (fen) =>
    fen === null || fen === undefined
      ? "–"
      : `${(fen / 100).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })} 元`,
  seconds: (s) => {
    if (s === null || s === undefined) return "none waiting";
    const value = Math.max(0, Math.floor(s));
    for (const [unit, size, next, nextSize] of [["d", 86400, "h", 3600], ["h", 3600, "m", 60], ["m", 60, "s", 1]]) {
      if (value >= size) {
        const rest = Math.floor((value % size) / nextSize);
        return `${Math.floor(value / size)}${unit}${rest ? ` ${rest}${next}` : ""}`;
      }
    }
    return `${value} s`;
  },
  days: (d) => (d === null || d === undefined ? "no recent use" : `${Number(d).toFixed(1)} days`),
};

function card(id, label, value, note) {
  return element("div", { class: "card" }, label, element("b", { id }, value), note ? element("small", {}, note) : "");
}

// A table of `rows` with `columns` [{key, label, format, text}] into the element `target`, or the
// words saying there is nothing in the range.
function table(target, id, rows, columns, emptyWords) {
  const holder = byId(target);
  holder.replaceChildren();
  if (!rows.length) {
    holder.append(element("p", { class: "empty", id: `${id}-empty` }, emptyWords));
    return;
  }
  const head = element("tr", {}, ...columns.map((c) => element("th", { class: c.text ? "text" : null }, c.label)));
  const body = rows.map((row) =>
    element(
      "tr",
      {},
      ...columns.map((c) => {
        const value = c.format ? c.format(row[c.key], row) : row[c.key];
        return element("td", { class: c.text ? "text" : null }, value);
      })
    )
  );
  holder.append(element("table", { id }, element("thead", {}, head), element("tbody", {}, ...body)));
}

function failed(target, error) {
  byId(target).replaceChildren(element("p", { class: "error" }, `could not load: ${error.message}`));
}

async function load(name, target, draw, url) {
  try {
    const response = await fetch(url || api(name), { credentials: "same-origin", headers: { Accept: "application/json" } });
    const json = await response.json();
    if (!response.ok) throw new Error(json.error || response.statusText);
    draw(json);
  } catch (error) {
    failed(target, error);
  }
}

function group(counts) {
  const groups = { delivered: 0, failed: 0, unknown: 0, other: 0 };
  for (const [state, count] of Object.entries(counts || {})) {
    groups[STATE_GROUPS.includes(state) ? state : "other"] += count;
  }
  return groups;
}

function stateLayout(extra) {
  return Object.assign(
    { margin: { t: 10, r: 10, b: 40, l: 55 }, barmode: "stack", legend: { orientation: "h", y: -0.2, traceorder: "normal" } },
    extra || {}
  );
}

function drawSummary(json) {
  byId("range").textContent = `${json.from} – ${json.to}`;
  const channels = json.channels || {};
  const totals = group({});
  for (const counts of Object.values(channels)) {
    const groups = group(counts);
    for (const key of STATE_GROUPS) totals[key] += groups[key];
  }
  const empty = !json.records;
  const words = byId("empty-range");
  words.hidden = !empty;
  words.textContent = empty ? `No messages were sent from ${json.from} to ${json.to} with these filters.` : "";
  const cards = [
    card("card-records", "messages", fmt.records(json.records)),
    card("card-parts", "billed parts", fmt.parts(json.parts)),
    card("card-delivery-rate", "delivery rate", fmt.percent(json.delivery_rate), "delivered / (delivered + failed)"),
  ];
  for (const key of STATE_GROUPS) {
    const label = key === "other" ? "on their way" : key;
    const node = card(`card-${key}`, label, fmt.records(totals[key]));
    node.querySelector("b").classList.add(`state-${key}`);
    cards.push(node);
  }
  for (const channel of ["station", "tenant"]) {
    const count = Object.values(channels[channel] || {}).reduce((a, b) => a + b, 0);
    cards.push(card(`card-${channel}-records`, `${channel}s`, fmt.records(count)));
  }
  byId("summary-cards").replaceChildren(...cards);
  const chart = byId("chart-channels");
  if (empty) {
    Plotly.purge(chart);
    chart.hidden = true;
    return;
  }
  chart.hidden = false;
  const names = ["station", "tenant"];
  Plotly.newPlot(
    chart,
    STATE_GROUPS.map((key) => ({
      type: "bar",
      orientation: "h",
      name: key,
      y: names.map((name) => `${name}s`),
      x: names.map((name) => group(channels[name])[key]),
      marker: { color: STATE_COLOURS[key] },
      hovertemplate: "%{x} records<extra>%{fullData.name}</extra>",
    })),
    stateLayout({ xaxis: { title: { text: "records" } }, margin: { t: 10, r: 10, b: 40, l: 70 }, legend: { orientation: "h", y: -0.45, traceorder: "normal" } }),
    PLOT_CONFIG
  );
}

function drawSeries(json) {
  const chart = byId("chart-series");
  const points = json.points || [];
  byId("series-grain").textContent = json.grain || "day";
  const total = points.reduce((sum, p) => sum + STATE_GROUPS.reduce((s, key) => s + (p[key] || 0), 0), 0);
  if (!total) {
    Plotly.purge(chart);
    chart.replaceChildren(element("p", { class: "empty", id: "series-empty" }, "No messages in this range."));
    chart.style.height = "auto";
    return;
  }
  Plotly.newPlot(
    chart,
    STATE_GROUPS.map((key) => ({
      type: "bar",
      name: key,
      x: points.map((p) => p.at),
      y: points.map((p) => p[key] || 0),
      marker: { color: STATE_COLOURS[key] },
      hovertemplate: "%{y} records<extra>%{fullData.name}</extra>",
    })),
    stateLayout({ yaxis: { title: { text: "records" }, rangemode: "tozero" } }),
    PLOT_CONFIG
  );
}

function drawHealth(json) {
  const plural = (n, one, many) => `${whole(n)} ${n === 1 ? one : many}`;
  byId("health-cards").replaceChildren(
    card("health-unknown", "outcome unknown", fmt.records(json.unknown_records)),
    card(
      "health-awaiting-report",
      "waiting for their report",
      fmt.records(json.awaiting_report),
      json.awaiting_report ? `oldest submitted ${fmt.seconds(json.oldest_awaiting_report_seconds)} ago` : ""
    ),
    card("health-pending", "reports matching no record yet", plural(json.pending_reports, "report", "reports")),
    card(
      "health-queued",
      "queued",
      fmt.records(json.queued_records),
      json.queued_records ? `oldest waiting ${fmt.seconds(json.oldest_queued_seconds)}` : "none waiting"
    ),
    card("health-dead-events", "dead webhook events", plural(json.dead_webhook_events, "event", "events"))
  );
}

function drawFailures(json) {
  table(
    "failures",
    "table-failures",
    json.failures || [],
    [
      { key: "provider", label: "provider", text: true },
      { key: "code", label: "code", text: true },
      { key: "count", label: "records", format: fmt.records },
      {
        key: "example_record_id",
        label: "example",
        text: true,
        format: (id) => (id ? element("a", { href: `/admin/sms/sendrecord/${id}/change/` }, `record ${id}`) : "–"),
      },
    ],
    "No failed records in this range."
  );
}

function drawLatency(json) {
  const rows = json.providers || [];
  table(
    "latency",
    "table-latency",
    rows,
    [
      { key: "provider", label: "provider", text: true },
      { key: "p50_ms", label: "p50", format: fmt.ms },
      { key: "p90_ms", label: "p90", format: fmt.ms },
      { key: "p99_ms", label: "p99", format: fmt.ms },
      { key: "count", label: "reports", format: fmt.records },
    ],
    "No delivery reports in this range."
  );
  const chart = byId("chart-latency");
  if (!rows.length) {
    Plotly.purge(chart);
    chart.hidden = true;
    return;
  }
  Plotly.newPlot(
    chart,
    ["p50_ms", "p90_ms", "p99_ms"].map((key) => ({
      type: "bar",
      name: key.replace("_ms", ""),
      x: rows.map((row) => row.provider),
      y: rows.map((row) => row[key]),
      marker: { color: PERCENTILE_COLOURS[key] },
      hovertemplate: "%{y} ms<extra>%{fullData.name}</extra>",
    })),
    { margin: { t: 10, r: 10, b: 40, l: 60 }, barmode: "group", legend: { orientation: "h", y: -0.2 }, yaxis: { title: { text: "ms" } } },
    PLOT_CONFIG
  );
}

function drawMoney(json) {
  const totals = json.totals || {};
  byId("money-cards").replaceChildren(
    card("money-revenue", "revenue", fmt.yuan(totals.revenue_fen), `${fmt.parts(totals.charged_parts)} charged`),
    card("money-cost", "provider cost", fmt.yuan(totals.cost_fen), `${fmt.parts(totals.provider_parts)} billed by providers`),
    card("money-margin", "margin", fmt.yuan(totals.margin_fen))
  );
  const rows = [
    ...(json.providers || []).map((row) => ({ who: "provider", name: row.provider, ...row })),
    ...(json.owners || []).map((row) => ({ who: row.channel, name: row.owner, ...row })),
  ];
  table(
    "money",
    "table-money",
    rows,
    [
      { key: "who", label: "", text: true },
      { key: "name", label: "name", text: true },
      { key: "charged_parts", label: "charged", format: fmt.parts },
      { key: "provider_parts", label: "provider-billed", format: fmt.parts },
      { key: "revenue_fen", label: "revenue", format: fmt.yuan },
      { key: "cost_fen", label: "cost", format: fmt.yuan },
      { key: "margin_fen", label: "margin", format: fmt.yuan },
    ],
    "No money moved in this range."
  );
  const unpriced = json.unpriced || [];
  if (unpriced.length) {
    const words = unpriced.map((item) => `${item.provider} ${item.region ? `${item.region} ${REGION_NAMES[item.region] || ""}`.trim() : "(no region)"}: ${fmt.parts(item.provider_parts)}`);
    byId("money").append(
      element("p", { class: "unit", id: "money-unpriced" }, `No price in SMS_PROVIDER_PRICES, counted at 0: ${words.join("; ")}`)
    );
  }
}

function drawBalances(json) {
  const unitText = (unit) => (unit === "CNY" ? "元" : unit === "messages" ? "messages" : "");
  const rows = [
    ...(json.providers || []).map((row) => ({ who: "provider", name: row.provider, amount: row.remaining, ...row })),
    ...(json.low_accounts || []).map((row) => ({ who: row.channel, name: row.owner, amount: row.balance, ...row })),
  ];
  const withUnit = (value, row) =>
    value === null || value === undefined ? "unknown" : `${whole(value)} ${unitText(row.unit)}`.trim();
  table(
    "balances",
    "table-balances",
    rows,
    [
      { key: "who", label: "", text: true },
      { key: "name", label: "name", text: true },
      { key: "amount", label: "balance", format: withUnit },
      { key: "per_day", label: `use per day (last ${json.rate_days || 7} days)`, format: withUnit },
      {
        key: "days_left",
        label: "days left",
        format: (days, row) => (row.amount === null || row.amount === undefined ? "unknown" : fmt.days(days)),
      },
    ],
    "No balances to show."
  );
}

function drawAlerts(json) {
  const open = json.alerts || [];
  const holder = byId("alerts");
  const link = element("a", { href: "/dashboard/alerts" }, "all alerts");
  if (!open.length) {
    holder.replaceChildren(element("p", { class: "empty", id: "alerts-none" }, "No open alerts. ", link));
    return;
  }
  holder.replaceChildren(
    element("p", { id: "alerts-open" }, `${open.length} open ${open.length === 1 ? "alert" : "alerts"} · `, link),
    element("ul", {}, ...open.slice(0, 5).map((alert) => element("li", { class: "state-failed" }, alert.message)))
  );
}

function drawTop(json) {
  table(
    "top",
    "table-top",
    json.owners || [],
    [
      { key: "channel", label: "channel", text: true },
      { key: "owner", label: "sender", text: true },
      { key: "records", label: "messages", format: fmt.records },
      { key: "parts", label: "parts", format: fmt.parts },
      { key: "delivery_rate", label: "delivered", format: fmt.percent },
    ],
    "No messages in this range."
  );
}

// Each table's CSV: its endpoint with the page's query and format=csv.
for (const link of document.querySelectorAll("a.csv")) link.href = api(link.dataset.endpoint, "&format=csv");

// body[data-ready] once every panel has drawn (or said why it could not): tests and
// `make screenshots` wait for it.
Promise.all([
  load("summary", "summary-cards", drawSummary),
  load("series", "chart-series", drawSeries),
  load("health", "health-cards", drawHealth),
  load("failures", "failures", drawFailures),
  load("latency", "latency", drawLatency),
  load("money", "money", drawMoney),
  load("balances", "balances", drawBalances),
  load("top", "top", drawTop),
  load("alerts", "alerts", drawAlerts, "/dashboard/api/alerts?state=open"),
]).then(() => {
  document.body.dataset.ready = "yes";
});
