// The control-room page: login, live alert board over SSE, alert detail with actions, silences, device health.

import { Api } from "./api.js";
import * as draw from "./draw.js";
import { applyI18n, getLang, locale, setLang, t, typeLabel } from "./i18n.js";

const STATUSES = ["open", "acknowledged", "assigned", "resolved", "false_alarm"];
const SEVERITIES = ["critical", "high", "medium", "low", "info"];
const ACTIVE = new Set(["open", "acknowledged", "assigned"]);
// Mirrors pipeline.alerts.manager.ALLOWED; only used to dim buttons, the API still decides (409 with its reason).
const ALLOWED = { acknowledge: ["open"], assign: [...ACTIVE], resolve: [...ACTIVE], false_alarm: [...ACTIVE] };
const ACTION_PATH = { acknowledge: "acknowledge", assign: "assign", resolve: "resolve", false_alarm: "false-alarm" };
const VISION_TYPES = new Set(["thrown_object", "fire_lane_occupied"]);
const MAX_ROWS = 300;
const MAX_KEPT = 2000; // a long shift's stream: closed alerts beyond this are forgotten, oldest first
const TOKEN_KEY = "sca.token";

const state = {
  api: null, me: null, view: "board",
  alerts: new Map(), fresh: new Set(), selected: null, detail: null, pending: null,
  filters: { active: true, status: "", severity: "", type: "" },
  stream: null, retry: 0, retryTimer: null, dropped: false,
  users: [], devicesTimer: null, renderTimer: null, historyTimer: null,
  sound: localStorage.getItem("sca.sound") !== "off", beeps: 0,
};

// ------------------------------------------------------------------ small helpers

const $ = (testid, root = document) => root.querySelector(`[data-testid="${testid}"]`);

/** Create an element: attributes (on* become listeners, true is a bare attribute), then children. */
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

function fmtTime(ts) {
  if (typeof ts !== "number") return "";
  const d = new Date(ts * 1000);
  const time = d.toLocaleTimeString(locale(), { hour12: false });
  return d.toDateString() === new Date().toDateString() ? time : `${d.toLocaleDateString(locale())} ${time}`;
}

function fmtAge(ts) {
  if (typeof ts !== "number") return t("time.never");
  const s = Math.max(0, Date.now() / 1000 - ts);
  const span = s < 60 ? t("time.sec", { n: Math.round(s) })
    : s < 3600 ? t("time.min", { n: Math.round(s / 60) }) : t("time.hour", { n: (s / 3600).toFixed(1) });
  return t("time.ago", { s: span });
}

const statusLabel = (status) => t(`status.${status}`);
const severityLabel = (severity) => t(`severity.${severity}`);

function setMessage(el, text, kind = "") {
  el.textContent = text;
  el.dataset.state = kind;
  el.hidden = !text;
}

// ------------------------------------------------------------------ sound

let audio = null;

/** Browsers only let a page play sound after a user gesture: create/resume the context on clicks. */
function unlockAudio() {
  try {
    audio ??= new (window.AudioContext || window.webkitAudioContext)();
    if (audio.state === "suspended") audio.resume();
  } catch { /* no audio device: the beep counter still counts */ }
}

/** Two short 880 Hz tones made with WebAudio (no sound file). */
function beep() {
  state.beeps += 1;
  document.body.dataset.beeps = String(state.beeps);
  if (!state.sound || !audio) return;
  const now = audio.currentTime;
  for (const offset of [0, 0.25]) {
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.type = "square";
    osc.frequency.value = 880;
    gain.gain.setValueAtTime(0.0001, now + offset);
    gain.gain.exponentialRampToValueAtTime(0.2, now + offset + 0.01);
    gain.gain.exponentialRampToValueAtTime(0.0001, now + offset + 0.18);
    osc.connect(gain).connect(audio.destination);
    osc.start(now + offset);
    osc.stop(now + offset + 0.2);
  }
}

function renderSoundToggle() {
  const button = $("sound-toggle");
  button.textContent = state.sound ? t("sound.on") : t("sound.off");
  button.dataset.on = String(state.sound);
}

// ------------------------------------------------------------------ login / logout

async function login(token) {
  const api = new Api(token);
  let me;
  try {
    me = await api.get("/v1/me");
  } catch (err) {
    sessionStorage.removeItem(TOKEN_KEY);
    showLogin(err.status === 401 ? t("login.invalid") : t("login.failed", { msg: err.message }));
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  api.onUnauthorized = () => logout(t("login.expired"));
  Object.assign(state, { api, me });
  document.body.dataset.role = me.role;
  $("user-name").textContent = `${me.name} · ${t(`role.${me.role}`)}`;
  for (const id of ["nav", "logout", "conn-status", "sound-toggle"]) $(id).hidden = false;
  renderSoundToggle();
  connectStream();
  loadUsers();
  showView(["board", "silences", "devices"].includes(location.hash.slice(1)) ? location.hash.slice(1) : "board");
}

function showLogin(error = "") {
  document.body.dataset.view = "login";
  document.querySelectorAll("[data-view-name]").forEach((s) => { s.hidden = s.dataset.viewName !== "login"; });
  for (const id of ["nav", "logout", "conn-status", "sound-toggle"]) $(id).hidden = true;
  $("user-name").textContent = "";
  setMessage($("login-error"), error, error ? "error" : "");
  $("login-token").value = "";
  $("login-token").focus();
}

function logout(message = "") {
  closeStream();
  clearTimeout(state.retryTimer);
  clearInterval(state.devicesTimer);
  sessionStorage.removeItem(TOKEN_KEY);
  Object.assign(state, { api: null, me: null, alerts: new Map(), selected: null, detail: null, users: [],
    dropped: false, retry: 0 });
  $("conn-banner").hidden = true;
  $("alert-detail").hidden = true;
  $("alert-list").replaceChildren();
  delete document.body.dataset.role;
  showLogin(message);
}

async function loadUsers() {
  if (state.me?.role !== "admin") return;
  try {
    const data = await state.api.get("/v1/users");
    state.users = (Array.isArray(data) ? data : data.users || []).map((u) => u.name);
    renderAssigneeOptions();
  } catch { /* the datalist still offers names seen on alerts */ }
}

function renderAssigneeOptions() {
  const names = new Set(state.users);
  for (const alert of state.alerts.values()) if (alert.assignee) names.add(alert.assignee);
  if (state.me) names.add(state.me.name);
  document.getElementById("assignee-options").replaceChildren(...[...names].sort().map((n) => h("option", { value: n })));
}

// ------------------------------------------------------------------ views

function showView(view) {
  state.view = view;
  document.body.dataset.view = view;
  document.querySelectorAll("[data-view-name]").forEach((s) => { s.hidden = s.dataset.viewName !== view; });
  document.querySelectorAll("[data-view-link]").forEach((b) => {
    b.setAttribute("aria-current", b.dataset.viewLink === view ? "page" : "false");
  });
  history.replaceState(null, "", `#${view}`);
  clearInterval(state.devicesTimer);
  if (view === "silences") loadSilences();
  if (view === "devices") {
    loadDevices();
    state.devicesTimer = setInterval(loadDevices, 10_000);
  }
  if (view === "board") renderBoard();
}

// ------------------------------------------------------------------ live stream

function setConn(kind) {
  const el = $("conn-status");
  el.dataset.state = kind;
  el.textContent = t(`conn.${kind}`);
}

function showBanner(text, kind) {
  const banner = $("conn-banner");
  banner.textContent = text;
  banner.dataset.state = kind;
  banner.hidden = !text;
}

function closeStream() {
  if (state.stream) state.stream.close();
  state.stream = null;
}

/** Open the SSE stream; once open, (re)load the board so nothing between the fetch and the stream is missed. */
function connectStream() {
  closeStream();
  setConn("connecting");
  const stream = new EventSource(state.api.withToken("/v1/events"));
  state.stream = stream;
  stream.onopen = () => {
    if (state.stream !== stream) return;
    state.retry = 0;
    setConn("live");
    if (state.dropped) {
      state.dropped = false;
      showBanner(t("conn.restored"), "ok");
      setTimeout(() => { if ($("conn-banner").dataset.state === "ok") showBanner("", ""); }, 3000);
    }
    loadAlerts();
  };
  stream.addEventListener("alert", (event) => {
    try {
      upsert(JSON.parse(event.data), true);
    } catch (err) {
      console.warn("bad alert event", err);
    }
  });
  stream.onerror = () => {
    if (state.stream !== stream) return;
    stream.close();
    state.stream = null;
    state.dropped = true;
    scheduleReconnect();
  };
}

function scheduleReconnect() {
  const delay = Math.min(1000 * 2 ** state.retry, 10_000);
  state.retry += 1;
  setConn("down");
  showBanner(t("conn.banner", { s: Math.round(delay / 1000) }), "down");
  clearTimeout(state.retryTimer);
  state.retryTimer = setTimeout(async () => {
    if (!state.api) return;
    try {
      await state.api.get("/v1/me"); // a 401 here logs out instead of retrying forever
    } catch (err) {
      if (err.status !== 401) scheduleReconnect();
      return;
    }
    connectStream();
  }, delay);
}

// ------------------------------------------------------------------ board

async function loadAlerts() {
  try {
    const data = await state.api.get(`/v1/alerts?limit=${MAX_ROWS}`);
    for (const alert of data.alerts) upsert(alert, false);
  } catch (err) {
    if (err.status !== 401) showBanner(t("error.network", { msg: err.message }), "down");
  }
}

/** Keep the newest version of an alert; beep when a critical alert arrives (or becomes critical) live. */
function upsert(alert, live) {
  const prev = state.alerts.get(alert.id);
  if (prev && prev.updated_at > alert.updated_at) return;
  state.alerts.set(alert.id, alert);
  if (!prev && state.alerts.size > MAX_KEPT) prune();
  if (live && !prev) state.fresh.add(alert.id);
  if (live && alert.severity === "critical" && alert.status === "open" && !alert.silenced_by
      && (!prev || prev.severity !== "critical")) beep();
  scheduleRender();
  if (state.selected === alert.id && JSON.stringify(prev) !== JSON.stringify(alert)) alertChanged(prev, alert);
}

function prune() {
  const closed = [...state.alerts.values()].filter((a) => !ACTIVE.has(a.status) && a.id !== state.selected)
    .sort((a, b) => a.updated_at - b.updated_at);
  for (const a of closed.slice(0, state.alerts.size - MAX_KEPT)) state.alerts.delete(a.id);
}

function scheduleRender() {
  if (state.renderTimer) return;
  state.renderTimer = setTimeout(() => {
    state.renderTimer = null;
    renderBoard();
  }, 30);
}

function visibleAlerts() {
  const f = state.filters;
  return [...state.alerts.values()]
    .filter((a) => (!f.active || ACTIVE.has(a.status)) && (!f.status || a.status === f.status)
      && (!f.severity || a.severity === f.severity) && (!f.type || a.type === f.type))
    .sort((a, b) => b.started_at - a.started_at || b.updated_at - a.updated_at)
    .slice(0, MAX_ROWS);
}

function renderCounts() {
  const counts = new Map();
  for (const a of state.alerts.values()) if (ACTIVE.has(a.status)) counts.set(a.type, (counts.get(a.type) || 0) + 1);
  const total = [...counts.values()].reduce((x, y) => x + y, 0);
  const chip = (type, text, n) => h("button", {
    type: "button", class: `chip${state.filters.type === type ? " on" : ""}`, "data-testid": "count-chip",
    "data-type": type || "all", "data-count": n,
    onclick: () => { state.filters.type = state.filters.type === type ? "" : type; renderBoard(); },
  }, text, " ", h("b", {}, n));
  $("counts").replaceChildren(chip("", t("counts.total", { n: "" }).trim(), total),
    ...[...counts.entries()].sort((a, b) => b[1] - a[1]).map(([type, n]) => chip(type, typeLabel(type), n)));
  const critical = [...state.alerts.values()].filter((a) => a.severity === "critical" && a.status === "open").length;
  document.title = critical ? `(${critical}) ${t("app.title")}` : t("app.title");
}

function alertRow(a) {
  const classes = ["row", `sev-${a.severity}`, `status-${a.status}`];
  if (a.id === state.selected) classes.push("selected");
  if (state.fresh.has(a.id)) classes.push("fresh");
  return h("li", {
    class: classes.join(" "), tabindex: 0, "data-testid": "alert-row", "data-alert-id": a.id,
    "data-status": a.status, "data-severity": a.severity, "data-type": a.type,
    onclick: () => select(a.id),
    onkeydown: (e) => { if (e.key === "Enter") select(a.id); },
  },
  h("span", { class: "sev" }, severityLabel(a.severity)),
  h("span", { class: "type" }, typeLabel(a.type)),
  h("span", { class: "title" }, a.title || a.type,
    a.count > 1 ? h("span", { class: "badge" }, `×${a.count}`) : null,
    a.escalation ? h("span", { class: "badge esc", title: t("field.escalation") }, `↑${a.escalation}`) : null,
    a.silenced_by ? h("span", { class: "badge", title: a.silenced_by }, t("field.silenced")) : null),
  h("span", { class: "where" }, [a.location, a.device].filter(Boolean).join(" · ")),
  h("span", { class: "time" }, fmtTime(a.started_at)),
  h("span", { class: "status", "data-testid": "alert-status" }, statusLabel(a.status),
    a.assignee ? h("span", { class: "assignee" }, ` → ${a.assignee}`) : null));
}

function renderBoard() {
  renderCounts();
  const rows = visibleAlerts().map(alertRow);
  $("alert-list").replaceChildren(...rows);
  $("board-empty").hidden = rows.length > 0;
  state.fresh.clear();
}

function renderFilters() {
  const options = (values, all, label, current) => [h("option", { value: "" }, all),
    ...values.map((v) => h("option", { value: v, selected: v === current }, label(v)))];
  $("filter-status").replaceChildren(...options(STATUSES, t("filter.allStatus"), statusLabel, state.filters.status));
  $("filter-severity").replaceChildren(...options(SEVERITIES, t("filter.allSeverity"), severityLabel,
    state.filters.severity));
}

// ------------------------------------------------------------------ alert detail

async function select(id) {
  state.selected = id;
  state.detail = null;
  state.pending = null;
  const panel = $("alert-detail");
  panel.hidden = false;
  panel.dataset.alertId = id;
  panel.replaceChildren(h("div", { class: "detail-head" }), h("div", { class: "detail-media" }, t("detail.loading")),
    h("div", { class: "detail-actions" }), h("div", { class: "detail-history" }));
  renderBoard();
  renderHead();
  renderActions();
  try {
    const detail = await state.api.get(`/v1/alerts/${encodeURIComponent(id)}`);
    if (state.selected !== id) return;
    state.detail = detail;
    upsert(detail.alert, false);
    renderHead();
    renderMedia();
    renderHistory();
  } catch (err) {
    if (state.selected === id) panel.querySelector(".detail-media").textContent = err.message;
  }
}

function closeDetail() {
  state.selected = null;
  state.detail = null;
  $("alert-detail").hidden = true;
  renderBoard();
}

function currentAlert() {
  return state.alerts.get(state.selected) || state.detail?.alert;
}

/** The selected alert changed on the stream: new head, buttons and history; the media stay as drawn. */
function alertChanged(prev, alert) {
  renderHead();
  renderActions();
  if (state.pending && state.pending.id === alert.id && (!prev || prev.status !== alert.status
      || prev.assignee !== alert.assignee)) {
    setMessage($("action-message"), t("action.applied", { status: statusLabel(alert.status) }), "applied");
    state.pending = null;
  }
  clearTimeout(state.historyTimer);
  state.historyTimer = setTimeout(refreshHistory, 250);
}

async function refreshHistory() {
  const id = state.selected;
  if (!id || !state.api) return;
  try {
    const detail = await state.api.get(`/v1/alerts/${encodeURIComponent(id)}`);
    if (state.selected !== id) return;
    state.detail = { ...state.detail, ...detail };
    renderHistory();
  } catch { /* keep the history shown */ }
}

function renderHead() {
  const a = currentAlert();
  const head = $("alert-detail").querySelector(".detail-head");
  if (!a || !head) return;
  const field = (key, value) => (value === null || value === undefined || value === "" ? null
    : h("div", {}, h("dt", {}, t(key)), h("dd", {}, value)));
  head.replaceChildren(
    h("div", { class: "detail-title" },
      h("span", { class: `sev-pill sev-${a.severity}` }, severityLabel(a.severity)),
      h("h2", { "data-testid": "detail-title" }, a.title || typeLabel(a.type)),
      h("button", { type: "button", class: "small", "data-testid": "detail-close", onclick: closeDetail },
        t("detail.close"))),
    h("div", { class: "detail-status" },
      h("span", { class: `status-pill status-${a.status}`, "data-testid": "detail-status", "data-status": a.status },
        statusLabel(a.status)),
      a.assignee ? h("span", { "data-testid": "detail-assignee" }, `→ ${a.assignee}`) : null),
    h("dl", { class: "facts" },
      field("field.type", typeLabel(a.type)), field("field.location", a.location), field("field.device", a.device),
      field("field.started", fmtTime(a.started_at)), field("field.updated", fmtTime(a.updated_at)),
      field("field.ended", a.ended_at ? fmtTime(a.ended_at) : null), field("field.count", a.count > 1 ? a.count : null),
      field("field.escalation", a.escalation || null), field("field.silenced", a.silenced_by)));
}

function renderActions() {
  const a = currentAlert();
  const box = $("alert-detail").querySelector(".detail-actions");
  if (!a || !box) return;
  const existing = $("action-note", box);
  if (existing) { // keep what the operator typed; only the dimming follows the state
    box.querySelectorAll("[data-action]").forEach((b) => {
      b.classList.toggle("muted", !ALLOWED[b.dataset.action].includes(a.status));
    });
    return;
  }
  const button = (kind) => h("button", {
    type: "button", "data-action": kind, "data-testid": `btn-${kind.replace("_", "-")}`,
    class: `act act-${kind}${ALLOWED[kind].includes(a.status) ? "" : " muted"}`, onclick: () => act(kind),
  }, t(`action.${kind}`));
  box.replaceChildren(
    h("label", {}, t("action.note"),
      h("textarea", { "data-testid": "action-note", rows: 2, maxlength: 2000, placeholder: t("action.notePh") })),
    h("div", { class: "buttons" }, button("acknowledge"), button("resolve"), button("false_alarm")),
    h("div", { class: "assign-row" },
      h("input", { "data-testid": "assignee-input", list: "assignee-options", placeholder: t("action.assigneePh"),
        "aria-label": t("action.assignee"), maxlength: 128 }),
      button("assign")),
    state.me?.role === "admin" ? h("button", { type: "button", class: "small link", "data-testid": "silence-like",
      onclick: () => silenceLike(a) }, t("detail.silenceLike")) : null,
    h("p", { class: "message", "data-testid": "action-message", role: "status", hidden: true }));
}

async function act(kind) {
  const id = state.selected;
  const box = $("alert-detail");
  const body = { note: $("action-note", box).value };
  if (kind === "assign") body.assignee = $("assignee-input", box).value.trim();
  const message = $("action-message", box);
  setMessage(message, "…", "pending");
  try {
    await state.api.post(`/v1/alerts/${encodeURIComponent(id)}/${ACTION_PATH[kind]}`, body);
    if (state.selected !== id) return;
    state.pending = { id, kind };
    setMessage(message, t("action.accepted", { action: t(`action.${kind}`) }), "accepted");
    $("action-note", box).value = "";
  } catch (err) {
    if (state.selected === id) setMessage(message, t("action.refused", { msg: err.message }), "error");
  }
}

function renderHistory() {
  const box = $("alert-detail").querySelector(".detail-history");
  if (!box || !state.detail) return;
  const items = [...(state.detail.history || [])].sort((x, y) => x.at - y.at).map((u) => h("li", {
    "data-testid": "history-item", "data-action": u.action,
  }, h("span", { class: "time" }, fmtTime(u.at)), h("b", {}, t(`history.${u.action}`)), ` ${u.by}`,
  u.note ? h("span", { class: "note" }, ` — ${u.note}`) : null));
  box.replaceChildren(h("h3", {}, t("detail.history")), h("ol", { "data-testid": "history" }, items));
}

// ------------------------------------------------------------------ evidence and drawings

function renderMedia() {
  const box = $("alert-detail").querySelector(".detail-media");
  if (!box || !state.detail) return;
  const { alert, evidence = [] } = state.detail;
  const details = alert.details || {};
  const image = evidence.find((e) => e.kind === "image");
  const parts = [];
  if (alert.type === "thrown_object") parts.push(...thrownObject(details, image));
  else if (alert.type === "fire_lane_occupied") parts.push(...fireLane(details, image));
  else if (image) parts.push(imageStage(state.api.withToken(image.url), null, null));
  for (const clip of evidence.filter((e) => e.kind === "clip")) {
    parts.push(h("video", { src: state.api.withToken(clip.url), controls: true, preload: "metadata", muted: true,
      class: "evidence-clip", "data-testid": "evidence-clip" }));
  }
  const links = evidence.filter((e) => e.kind === "chart" || e.kind === "data");
  if (links.length) {
    parts.push(h("p", { class: "links" }, links.map((e) => h("a", { href: state.api.withToken(e.url), target: "_blank",
      rel: "noopener", "data-testid": "evidence-link" }, e.uri.split("/").pop()))));
  }
  if (!evidence.length && !VISION_TYPES.has(alert.type)) parts.push(h("p", { class: "muted" }, t("detail.noEvidence")));
  if (!VISION_TYPES.has(alert.type)) parts.push(readingsBox(alert));
  if (Object.keys(details).length) {
    parts.push(h("details", { class: "raw" }, h("summary", {}, t("detail.details")),
      h("pre", {}, JSON.stringify(details, null, 1))));
  }
  box.replaceChildren(h("h3", {}, t("detail.evidence")), ...parts);
}

/**
 * The evidence image with an SVG over it in image pixels. `size` is the frame the drawing's coordinates use
 * ([w, h]); without it the image's own size is used once it has loaded.
 */
function imageStage(src, size, paint) {
  const img = h("img", { src, alt: "", class: "evidence-img", "data-testid": "evidence-image" });
  const stage = h("div", { class: "stage" }, img);
  const overlay = (w, hgt) => {
    if (!paint || !w || !hgt) return;
    const svg = draw.overlaySvg(w, hgt, "evidence-overlay");
    paint(svg, w);
    stage.append(svg);
  };
  img.addEventListener("load", () => {
    stage.dataset.loaded = "true";
    if (!size) overlay(img.naturalWidth, img.naturalHeight);
  });
  img.addEventListener("error", () => {
    stage.dataset.loaded = "error";
    stage.append(h("p", { class: "error", "data-testid": "evidence-error" }, t("detail.evidenceFailed")));
  });
  if (size) overlay(size[0], size[1]);
  return stage;
}

/** No image: a blank frame of the given size with the drawing on it. */
function blankStage(size, paint) {
  const style = `aspect-ratio: ${size[0]} / ${size[1]}; width: min(100%, ${Math.round((380 * size[0]) / size[1])}px)`;
  const stage = h("div", { class: "stage blank", style });
  const svg = draw.overlaySvg(size[0], size[1], "evidence-overlay");
  paint(svg, size[0]);
  stage.append(svg);
  return stage;
}

const validSize = (s) => Array.isArray(s) && s.length === 2 && s.every((v) => typeof v === "number" && v > 0);

function thrownObject(d, image) {
  const parts = [];
  const floor = d.floor ?? d.origin?.floor, column = d.column ?? d.origin?.column;
  const floors = d.floors ?? d.facade?.floors, columns = d.columns ?? d.facade?.columns;
  if (floors > 0 && columns > 0) {
    parts.push(h("figure", { class: "facade-box" }, draw.facadeSvg({ floors, columns, floor, column }),
      h("figcaption", {}, t("detail.facade", { floors, columns, floor: floor ?? "?", column: column ?? "?" }))));
  }
  const trajectory = Array.isArray(d.trajectory) ? d.trajectory : [];
  const paint = trajectory.length ? (svg, w) => draw.drawTrajectory(svg, trajectory, w) : null;
  const size = validSize(d.image_size) ? d.image_size : null;
  if (image) parts.push(imageStage(state.api.withToken(image.url), size, paint));
  else if (paint) parts.push(blankStage(size || draw.fitFrame(trajectory.map((p) => [p[1], p[2]])), paint));
  if (trajectory.length) parts.push(h("p", { class: "muted" }, t("detail.trajectory", { n: trajectory.length })));
  return parts;
}

function fireLane(d, image) {
  const objects = Array.isArray(d.objects) ? d.objects : [];
  const polygon = Array.isArray(d.polygon) ? d.polygon : [];
  const paint = (svg, w) => draw.drawFireLane(svg, polygon, objects, w);
  const size = validSize(d.image_size) ? d.image_size : null;
  const corners = objects.filter((o) => Array.isArray(o.box)).flatMap((o) => [[o.box[0], o.box[1]], [o.box[2], o.box[3]]]);
  const stage = image ? imageStage(state.api.withToken(image.url), size, paint)
    : blankStage(size || draw.fitFrame([...polygon, ...corners]), paint);
  const facts = [t("detail.zone", { zone: d.zone ?? "?" })];
  if (typeof d.broadcasts === "number") facts.push(t("detail.broadcasts", { n: d.broadcasts }));
  if (d.escalated) facts.push(t("detail.escalatedYes"));
  return [stage, h("p", { class: "muted", "data-testid": "firelane-facts" }, facts.join(" · "))];
}

function readingsBox(alert) {
  const box = h("div", { class: "readings", "data-testid": "readings" }, h("h3", {}, t("detail.readings")));
  const note = (text) => box.append(h("p", { class: "muted", "data-testid": "readings-empty" }, text));
  state.api.get(`/v1/alerts/${encodeURIComponent(alert.id)}/readings`).then((data) => {
    const series = Array.isArray(data?.series) ? data.series : [];
    if (!series.length) return note(t("detail.noReadings"));
    box.append(draw.readingsChart(series, alert.started_at, (ts) => fmtTime(ts)));
  }).catch((err) => note(err.status === 404 ? t("detail.noReadings") : `${t("detail.noReadings")} (${err.message})`));
  return box;
}

// ------------------------------------------------------------------ silences

async function loadSilences() {
  $("silence-form").hidden = state.me?.role !== "admin";
  try {
    const data = await state.api.get("/v1/silences");
    renderSilences(data.silences || []);
  } catch (err) {
    setMessage($("silence-message"), err.message, "error");
  }
}

function silenceState(s) {
  const now = Date.now() / 1000;
  if (s.deleted) return "deleted";
  if (s.active) return "active";
  return s.starts_at > now ? "pending" : "expired";
}

function renderSilences(silences) {
  const order = { active: 0, pending: 1, expired: 2, deleted: 3 };
  const rows = silences.map((s) => ({ s, st: silenceState(s) }))
    .sort((a, b) => order[a.st] - order[b.st] || b.s.starts_at - a.s.starts_at)
    .map(({ s, st }) => h("tr", { "data-testid": "silence-row", "data-silence-id": s.id, "data-state": st,
      class: `silence-${st}` },
    h("td", {}, Object.entries(s.matchers || {}).map(([k, v]) => h("code", {}, `${k}=${v}`))),
    h("td", {}, `${fmtTime(s.starts_at)} – ${fmtTime(s.ends_at)}`),
    h("td", {}, s.created_by),
    h("td", {}, s.comment),
    h("td", {}, t(`silence.${st}`)),
    h("td", {}, state.me?.role === "admin" && !s.deleted ? h("button", { type: "button", class: "small",
      "data-testid": "silence-delete", onclick: () => deleteSilence(s.id) }, t("silence.delete")) : null)));
  $("silence-list").replaceChildren(...(rows.length ? rows
    : [h("tr", {}, h("td", { colspan: 6, class: "muted" }, t("silence.none")))]));
}

async function createSilence(event) {
  event.preventDefault();
  const form = $("silence-form");
  const matchers = {};
  for (const key of ["type", "site", "location", "device"]) {
    const value = form.elements[key].value.trim();
    if (value) matchers[key] = value;
  }
  const message = $("silence-message");
  if (!Object.keys(matchers).length) return setMessage(message, t("silence.needMatcher"), "error");
  const body = { matchers, duration_s: Number(form.elements.minutes.value) * 60, comment: form.elements.comment.value.trim() };
  try {
    const created = await state.api.post("/v1/silences", body);
    setMessage(message, t("silence.created", { id: created.id }), "ok");
    for (const key of ["type", "site", "location", "device", "comment"]) form.elements[key].value = "";
    loadSilences();
  } catch (err) {
    setMessage(message, t("action.refused", { msg: err.message }), "error");
  }
}

async function deleteSilence(id) {
  if (!window.confirm(t("silence.confirmDelete", { id }))) return;
  try {
    await state.api.del(`/v1/silences/${encodeURIComponent(id)}`);
    setMessage($("silence-message"), t("silence.removed", { id }), "ok");
  } catch (err) {
    setMessage($("silence-message"), t("action.refused", { msg: err.message }), "error");
  }
  loadSilences();
}

function silenceLike(alert) {
  showView("silences");
  const form = $("silence-form");
  form.elements.type.value = alert.type;
  form.elements.device.value = alert.device;
  form.elements.comment.focus();
}

// ------------------------------------------------------------------ devices

async function loadDevices() {
  if (!state.api) return;
  const note = $("devices-unavailable");
  try {
    const data = await state.api.get("/v1/devices");
    setMessage(note, "");
    renderDevices(data.cameras || [], data.sensors || []);
  } catch (err) {
    setMessage(note, t("devices.unavailable", { msg: `${err.status || ""} ${err.message}`.trim() }), "error");
    renderDevices([], []);
  }
}

const statusDot = (status) => h("span", { class: `dot dev-${status || "unknown"}` }, t(`device.${status || "unknown"}`));

/** Battery in percent (the readings contract's unit); below 20 % it is flagged. */
function fmtBattery(pct) {
  if (typeof pct !== "number") return "";
  return h("span", { class: pct < 20 ? "low-battery" : "" }, `${Math.round(pct)}%`);
}

function renderDevices(cameras, sensors) {
  const empty = (cols) => [h("tr", {}, h("td", { colspan: cols, class: "muted" }, t("devices.none")))];
  const num = (v, digits, unit = "") => (typeof v === "number" ? `${v.toFixed(digits)}${unit}` : "");
  $("camera-list").replaceChildren(...(cameras.length ? cameras.map((c) => h("tr", {
    "data-testid": "camera-row", "data-device-id": c.id, "data-status": c.status,
  }, h("td", {}, c.id, c.role ? h("small", {}, ` ${c.role}`) : null), h("td", {}, c.location || ""),
  h("td", {}, statusDot(c.status)), h("td", {}, num(c.fps, 1)), h("td", {}, num(c.lag_s, 2, " s")),
  h("td", { title: fmtTime(c.last_frame_at) }, fmtAge(c.last_frame_at)))) : empty(6)));
  $("sensor-list").replaceChildren(...(sensors.length ? sensors.map((s) => h("tr", {
    "data-testid": "sensor-row", "data-device-id": s.id, "data-status": s.status,
  }, h("td", {}, s.id), h("td", {}, s.type || ""), h("td", {}, s.location || ""), h("td", {}, statusDot(s.status)),
  h("td", { title: fmtTime(s.last_reading_at) }, fmtAge(s.last_reading_at)),
  h("td", {}, Object.entries(s.values || {}).map(([k, v]) => `${k}=${typeof v === "number" ? +v.toFixed(2) : v}`)
    .join(", ")),
  h("td", {}, fmtBattery(s.battery)))) : empty(7)));
}

// ------------------------------------------------------------------ language

function renderLanguage() {
  applyI18n();
  $("lang-toggle").textContent = getLang() === "zh" ? "EN" : "中文";
  $("lang-toggle").dataset.lang = getLang();
  renderFilters();
  if (state.me) {
    $("user-name").textContent = `${state.me.name} · ${t(`role.${state.me.role}`)}`;
    renderSoundToggle();
    setConn($("conn-status").dataset.state === "idle" ? "connecting" : $("conn-status").dataset.state);
    if ($("conn-banner").dataset.state === "down") showBanner(t("conn.banner", { s: "…" }), "down");
    renderBoard();
    if (state.selected) {
      const note = $("action-note")?.value || "";
      $("alert-detail").querySelector(".detail-actions").replaceChildren();
      renderHead();
      renderActions();
      if (note) $("action-note").value = note;
      renderMedia();
      renderHistory();
    }
    if (state.view === "silences") loadSilences();
    if (state.view === "devices") loadDevices();
  }
}

// ------------------------------------------------------------------ wiring

function wire() {
  document.addEventListener("click", unlockAudio);
  $("login-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const token = $("login-token").value.trim();
    if (token) login(token);
  });
  $("logout").addEventListener("click", () => logout());
  $("lang-toggle").addEventListener("click", () => {
    setLang(getLang() === "zh" ? "en" : "zh");
    renderLanguage();
  });
  $("sound-toggle").addEventListener("click", () => {
    state.sound = !state.sound;
    localStorage.setItem("sca.sound", state.sound ? "on" : "off");
    renderSoundToggle();
    if (state.sound) beep();
  });
  document.querySelectorAll("[data-view-link]").forEach((b) => b.addEventListener("click", () => showView(b.dataset.viewLink)));
  $("filter-active").addEventListener("change", (e) => { state.filters.active = e.target.checked; renderBoard(); });
  $("filter-status").addEventListener("change", (e) => { state.filters.status = e.target.value; renderBoard(); });
  $("filter-severity").addEventListener("change", (e) => { state.filters.severity = e.target.value; renderBoard(); });
  $("silence-form").addEventListener("submit", createSilence);
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && state.selected && !e.target.closest("input, textarea, select")) closeDetail();
  });
  setInterval(() => { if (state.view === "board" && state.alerts.size) renderAssigneeOptions(); }, 15_000);
}

function start() {
  setLang(getLang());
  wire();
  renderLanguage();
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) login(token);
  else showLogin();
  document.body.dataset.ready = "true";
}

start();
