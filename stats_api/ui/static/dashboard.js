// The dashboard page: reads the public stats API with the read key kept in sessionStorage.
import { followLive, POLL_MS } from "./sse.js";

const KEY_STORAGE = "stats.readKey";
const CARDS = ["totalMessages", "totalVoiceMinutes", "totalReactions", "uniqueActiveUsers",
  "newMembers", "leftMembers"];
const CHANGES = ["messagesChange", "voiceMinutesChange", "reactionsChange", "activeUsersChange"];
const numbers = new Intl.NumberFormat("en-US");
const $ = (selector, root = document) => root.querySelector(selector);
const byTestId = (id, root = document) => $(`[data-testid="${id}"]`, root);
const SECTIONS = ["dashboard", "activity", "leaderboard", "members", "voice"];

class ApiError extends Error {
  constructor(status, detail) {
    super(typeof detail === "string" ? detail : JSON.stringify(detail));
    this.status = status;
  }
}

function startGuildForm() {
  $("#guild-form").addEventListener("submit", (e) => {
    e.preventDefault();
    location.assign(`/ui/guilds/${encodeURIComponent($("#guild-id").value.trim())}`);
  });
}

function startGuildPage(guildId) {
  const page = { guildId, memberPage: 1, live: null, latest: {}, refreshing: null, refreshAgain: false };
  byTestId("guild-id").textContent = guildId;
  const controls = $("#controls");
  controls.elements.tz.value = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  $("#zones").replaceChildren(...["UTC", ...zones].map((z) => new Option(z, z)));

  $("#key-form").addEventListener("submit", (e) => {
    e.preventDefault();
    sessionStorage.setItem(KEY_STORAGE, $("#read-key").value.trim());
    $("#read-key").value = "";
    showDashboard(page);
  });
  $("#forget-key").addEventListener("click", () => askForKey(page, ""));
  // Selects outside the form belong to it (form="controls") but their events bubble elsewhere.
  controls.addEventListener("submit", (e) => { e.preventDefault(); onControl(page, "tz"); });
  $("#dashboard").addEventListener("change", (e) => onControl(page, e.target.name));
  $("#prev-page").addEventListener("click", () => turnPage(page, -1));
  $("#next-page").addEventListener("click", () => turnPage(page, +1));
  if (sessionStorage.getItem(KEY_STORAGE)) showDashboard(page);
  else askForKey(page, "");
}

function askForKey(page, message) {
  page.live?.abort();
  sessionStorage.removeItem(KEY_STORAGE);
  $("#dashboard").hidden = true;
  $("#forget-key").hidden = true;
  $("#key-form").hidden = false;
  showError(message);
  byTestId("live-status").textContent = "not connected";
  $("#read-key").focus();
}

function showDashboard(page) {
  $("#key-form").hidden = true;
  $("#dashboard").hidden = false;
  $("#forget-key").hidden = false;
  loadEverything(page);
}

function settings() {
  const f = $("#controls").elements;
  return { period: f.period.value, tz: f.tz.value.trim(), granularity: f.granularity.value,
    category: f.category.value, sortBy: f.sortBy.value, sortOrder: f.sortOrder.value,
    pageSize: f.pageSize.value };
}

function onControl(page, name) {
  if (name === "tz" && !validZone(settings().tz)) {
    showError(`Unknown time zone "${settings().tz}": use an IANA name such as Europe/Berlin.`);
    return;
  }
  if (name === "granularity") load(page, "activity");
  else if (name === "category") load(page, "leaderboard");
  else if (["sortBy", "sortOrder", "pageSize"].includes(name)) {
    page.memberPage = 1;
    load(page, "members");
  } else loadEverything(page);
}

function turnPage(page, step) {
  page.memberPage = Math.max(1, page.memberPage + step);
  load(page, "members");
}

function loadEverything(page) {
  showError("");
  refresh(page, SECTIONS);
  followStream(page);
}

function refresh(page, sections) {
  return Promise.all(sections.map((section) => load(page, section)));
}

// Renders a section's answer unless a newer request for that section was made meanwhile.
async function load(page, section) {
  const ticket = (page.latest[section] = (page.latest[section] || 0) + 1);
  const s = settings();
  const [path, params, render] = QUERIES[section](s, page);
  try {
    const body = await getStats(page.guildId, path, params);
    if (page.latest[section] === ticket) render(body, s, page);
  } catch (error) {
    if (page.latest[section] === ticket) failed(page, error);
  }
}

const QUERIES = {
  dashboard: (s) => ["dashboard", { period: s.period, tz: s.tz }, renderDashboard],
  activity: (s) => ["activity", { period: s.period, tz: s.tz, granularity: s.granularity },
    renderActivity],
  leaderboard: (s) => ["leaderboard", { period: s.period, tz: s.tz, category: s.category },
    renderLeaderboard],
  members: (s, page) => ["members", { page: page.memberPage, pageSize: s.pageSize,
    sortBy: s.sortBy, sortOrder: s.sortOrder }, renderMembers],
  voice: () => ["voice/live", {}, renderVoice],
};

async function getStats(guildId, path, params) {
  const query = new URLSearchParams(params).toString();
  const url = `/v1/guilds/${guildId}/stats/${path}${query ? `?${query}` : ""}`;
  const response = await fetch(url, { headers: authHeaders(), cache: "no-store" });
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, body?.detail ?? response.statusText);
  return body;
}

function authHeaders() {
  return { Authorization: `Bearer ${sessionStorage.getItem(KEY_STORAGE) || ""}` };
}

function failed(page, error) {
  if (!(error instanceof ApiError)) return showError(`The API did not answer: ${error.message}`);
  if (error.status === 401 || error.status === 403) {
    return askForKey(page, `The key was refused (${error.status}): ${error.message}`);
  }
  if (error.status === 404) return showError("Unknown guild, or one this key may not read.");
  showError(`The API answered ${error.status}: ${error.message}`);
}

function showError(message) {
  const box = byTestId("error");
  box.textContent = message;
  box.hidden = !message;
}

function followStream(page) {
  page.live?.abort();
  page.live = new AbortController();
  const s = settings();
  followLive({
    url: `/v1/guilds/${page.guildId}/stats/live?${new URLSearchParams({ tz: s.tz })}`,
    headers: authHeaders(),
    signal: page.live.signal,
    onMode: (mode) => {
      byTestId("live-status").textContent = mode === "polling"
        ? `updating every ${POLL_MS / 1000} s` : mode === "stream" ? "live" : "reconnecting…";
    },
    onEvent: (type, data) => { if (type === "totals") onLiveTotals(page, data); },
    onPoll: () => refresh(page, ["dashboard", "voice"]),
  });
}

// A `totals` event carries today's totals and who is in voice; the cards show them at once when
// they are today's, and the answers of the period (with their changes) are then read again.
function onLiveTotals(page, event) {
  if (event.voice) renderVoice(event.voice);
  const shown = byTestId("cards").dataset;
  if (shown.period === "today" && event.day?.from === shown.periodStart) {
    for (const name of CARDS) {
      if (event.totals && name in event.totals) setNumber(byTestId(`card-${name}`), event.totals[name]);
    }
  }
  refreshAfterEvent(page);
}

// One refresh at a time; an event that comes during one gets another after it, since the one
// under way may have read the database before that event's batch was committed.
function refreshAfterEvent(page) {
  if (page.refreshing) {
    page.refreshAgain = true;
    return;
  }
  page.refreshAgain = false;
  page.refreshing = refresh(page, ["dashboard", "activity", "leaderboard"]).finally(() => {
    page.refreshing = null;
    if (page.refreshAgain) refreshAfterEvent(page);
  });
}

function renderDashboard(body, s) {
  for (const name of CARDS) setNumber(byTestId(`card-${name}`), body[name]);
  for (const name of CHANGES) {
    const change = body[name];
    const box = byTestId(`change-${name}`);
    box.textContent = change === null ? "—" : `${change > 0 ? "+" : ""}${change}%`;
    box.className = `change ${change > 0 ? "up" : change < 0 ? "down" : ""}`;
    box.title = change === null ? "no previous period to compare with" : "against the previous period";
  }
  setInstant(byTestId("period-start"), body.periodStart, s.tz);
  setInstant(byTestId("period-end"), body.periodEnd, s.tz);
  setInstant(byTestId("data-as-of"), body.dataAsOf, s.tz);
  byTestId("resolution").textContent = body.resolution;
  Object.assign(byTestId("cards").dataset, { period: s.period, tz: s.tz,
    periodStart: body.periodStart, periodEnd: body.periodEnd });
}

function renderActivity(body, s) {
  const chart = byTestId("activity-chart");
  const x = body.dataPoints.map((p) => localLabel(p.timestamp, s.tz));
  const series = (name, field, extra) => ({ name, x, y: body.dataPoints.map((p) => p[field]), ...extra });
  const traces = [
    series("messages", "totalMessages", { type: "bar" }),
    series("reactions", "totalReactions", { type: "bar" }),
    series("active users", "uniqueActiveUsers", { type: "scatter", mode: "lines+markers" }),
    series("voice minutes", "totalVoiceMinutes", { type: "scatter", mode: "lines+markers", yaxis: "y2" }),
  ];
  const layout = {
    barmode: "group", margin: { t: 24, r: 56, b: 48, l: 48 }, legend: { orientation: "h" },
    xaxis: { title: { text: `bucket start (${s.tz})` }, type: "category" },
    yaxis: { title: { text: "count" }, rangemode: "tozero", tickformat: ",d" },
    yaxis2: { title: { text: "voice minutes" }, overlaying: "y", side: "right", rangemode: "tozero",
      tickformat: ",d" },
  };
  if (window.Plotly) window.Plotly.react(chart, traces, layout, { displaylogo: false, responsive: true });
  else chart.textContent = "The chart library did not load.";
  Object.assign(chart.dataset, { period: s.period, tz: s.tz, granularity: s.granularity,
    buckets: String(body.dataPoints.length) });
}

function renderLeaderboard(body, s) {
  const table = byTestId("leaderboard");
  const rows = body.entries.map((e) => row("leaderboard-row", [
    ["lb-rank", e.badge ? `${e.rank} (${e.badge})` : String(e.rank)], ["lb-user", e.userId],
    ["lb-score", numbers.format(e.score)], ["lb-messages", numbers.format(e.totalMessages)],
    ["lb-voice", numbers.format(e.totalVoiceMinutes)], ["lb-reactions", numbers.format(e.totalReactions)],
  ], e.badge));
  $("tbody", table).replaceChildren(...(rows.length ? rows : [emptyRow(6, "Nobody scored in this period.")]));
  Object.assign(table.dataset, { period: s.period, tz: s.tz, category: body.category });
}

function renderMembers(body, s, page) {
  const table = byTestId("members");
  const rows = body.members.map((m) => row("member-row", [
    ["m-user", m.userId], ["m-messages", numbers.format(m.totalMessages)],
    ["m-voice", numbers.format(m.totalVoiceMinutes)], ["m-reactions-given", numbers.format(m.totalReactionsGiven)],
    ["m-reactions-received", numbers.format(m.totalReactionsReceived)],
    ["m-last-seen", instantText(m.lastSeen, s.tz)], ["m-joined", instantText(m.joinedAt, s.tz)],
  ]));
  $("tbody", table).replaceChildren(...(rows.length ? rows : [emptyRow(7, "No members on this page.")]));
  const p = body.pagination;
  byTestId("page-info").textContent =
    `Page ${p.page} of ${Math.max(p.totalPages, 1)} · ${numbers.format(p.total)} members`;
  $("#prev-page").disabled = p.page <= 1;
  $("#next-page").disabled = p.page >= p.totalPages;
  Object.assign(table.dataset, { page: String(p.page), sortBy: s.sortBy, sortOrder: s.sortOrder });
}

function renderVoice(body) {
  const list = byTestId("voice-live");
  const items = body.channels.map((channel) => {
    const item = document.createElement("li");
    item.dataset.testid = "voice-channel";
    item.dataset.channelId = channel.channelId;
    const title = document.createElement("strong");
    title.textContent = `Channel ${channel.channelId}`;
    const members = document.createElement("ul");
    members.replaceChildren(...channel.members.map((m) => {
      const member = document.createElement("li");
      const user = document.createElement("span");
      user.dataset.testid = "voice-member";
      user.textContent = m.userId;
      const since = document.createElement("time");
      setInstant(since, m.since, settings().tz);
      member.append(user, " since ", since);
      return member;
    }));
    item.append(title, members);
    return item;
  });
  list.replaceChildren(...(items.length ? items : [Object.assign(document.createElement("li"),
    { textContent: "Nobody is in a voice channel." })]));
  list.dataset.asOf = body.dataAsOf ?? "";
}

function row(testId, cells, badge) {
  const tr = document.createElement("tr");
  tr.dataset.testid = testId;
  if (badge) tr.className = `badge-${badge}`;
  tr.replaceChildren(...cells.map(([id, text]) => {
    const td = document.createElement("td");
    td.dataset.testid = id;
    td.textContent = text;
    return td;
  }));
  return tr;
}

function emptyRow(columns, text) {
  const tr = document.createElement("tr");
  const td = Object.assign(document.createElement("td"), { colSpan: columns, textContent: text });
  tr.append(td);
  return tr;
}

function setNumber(element, value) {
  element.textContent = numbers.format(value);
}

function setInstant(element, iso, tz) {
  element.dateTime = iso ?? "";
  element.textContent = instantText(iso, tz);
}

function instantText(iso, tz) {
  if (!iso) return "—";
  return new Intl.DateTimeFormat("en-GB", { timeZone: tz, dateStyle: "medium", timeStyle: "medium" })
    .format(new Date(iso));
}

// A bucket's start as wall-clock time in `tz`: "2026-12-01 00:00".
function localLabel(iso, tz) {
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-CA", {
    timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  }).formatToParts(new Date(iso)).map((p) => [p.type, p.value]));
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}`;
}

function validZone(tz) {
  try {
    new Intl.DateTimeFormat("en", { timeZone: tz });
    return tz !== "";
  } catch {
    return false;
  }
}

// Last, once every declaration above is initialised.
const guildMatch = location.pathname.match(/^\/ui\/guilds\/(\d{1,20})\/?$/);
if (guildMatch) startGuildPage(guildMatch[1]);
else startGuildForm();
