// The installer's page: log in, then one server-sent event stream of the box's state.
// Everything is drawn with textContent: no value from the box is ever read as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
let csrf = null;
let stream = null;

function show(id, visible) { $(id).hidden = !visible; }
function text(id, value) { $(id).textContent = value === null || value === undefined ? "-" : String(value); }
function yesNo(value) { return value === null || value === undefined ? "unknown" : (value ? "yes" : "no"); }
function el(tag, props, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, props || {});
  for (const child of children) node.append(child);
  return node;
}

async function api(path, options) {
  const init = Object.assign({ credentials: "same-origin", headers: {} }, options || {});
  if (init.body !== undefined) {
    init.method = "POST";
    init.headers["Content-Type"] = "application/json";
    if (csrf) init.headers["X-CSRF-Token"] = csrf;
    init.body = JSON.stringify(init.body);
  }
  const response = await fetch(path, init);
  let data = null;
  try { data = await response.json(); } catch (e) { data = null; }
  return { status: response.status, data };
}

async function start() {
  const session = await api("/api/session");
  if (session.status === 200) loggedIn(session.data); else loggedOut();
}

function loggedOut(message) {
  csrf = null;
  if (stream) { stream.close(); stream = null; }
  show("live", false); show("logout", false); show("login", true);
  text("login-error", message || "");
  setConnected(false);
  $("password").focus();
}

function loggedIn(session) {
  csrf = session.csrf;
  text("device", session.device_id);
  text("kind", session.kind);
  text("grant-types", session.installer_types.join(", ") || "none for this kind");
  show("login", false); show("logout", true); show("live", true);
  for (const kind of ["cabinet", "vehicle", "parking"]) show(kind, kind === session.kind);
  listen();
}

function setConnected(on) {
  const pill = $("conn");
  pill.textContent = on ? "live" : "offline";
  pill.classList.toggle("on", on);
}

function listen() {
  if (stream) stream.close();
  stream = new EventSource("/api/stream");
  stream.addEventListener("state", (message) => { setConnected(true); render(JSON.parse(message.data)); });
  stream.addEventListener("expired", () => loggedOut("The session expired: log in again."));
  stream.onerror = async () => {
    setConnected(false);
    if (stream && stream.readyState === EventSource.CLOSED) {
      const session = await api("/api/session");
      if (session.status === 401) loggedOut("The session ended: log in again.");
      else setTimeout(listen, 2000);
    }
  };
}

function age(ts) {
  if (!ts) return "never";
  const seconds = Math.max(0, (Date.now() - Date.parse(ts)) / 1000);
  if (seconds < 90) return `${ts} (${seconds.toFixed(0)} s ago)`;
  return `${ts} (${(seconds / 60).toFixed(0)} min ago)`;
}

function duration(seconds) {
  const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = Math.floor(seconds % 60);
  return h ? `${h} h ${m} min` : m ? `${m} min ${s} s` : `${s} s`;
}

function render(state) {
  text("version", state.agent.version);
  text("uptime", duration(state.agent.uptime_s));
  text("ready", yesNo(state.agent.ready));
  text("ts", state.ts);
  text("mqtt-connected", state.mqtt.connected ? "connected" : "disconnected");
  $("mqtt-connected").className = state.mqtt.connected ? "ok" : "bad";
  text("last-sync", age(state.mqtt.last_sync));
  text("outbox-depth", `${state.outbox_depth} waiting`);
  text("mqtt-reconnects", `${state.mqtt.reconnects} (failures ${state.mqtt.connect_failures})`);
  renderHardware(state.hardware);
  const t = state.telemetry;
  if (state.agent.kind === "cabinet") renderSlots(t.slots);
  if (state.agent.kind === "vehicle") renderVehicle(t, state.signals || []);
  if (state.agent.kind === "parking") renderParking(t);
  renderLog("faults", state.faults, (f) => `${f.ts || ""} ${f.level} ${f.event} ${f.detail}`, () => true);
  renderLog("events", state.events, (e) => `${e.ts} ${e.type} ${JSON.stringify(e.fields)}`, (e) => e.fault);
}

function renderHardware(hardware) {
  if (!hardware) return;
  text("hw-name", hardware.name);
  text("hw-up", yesNo(hardware.up));
  const list = $("hw-counters");
  list.replaceChildren();
  for (const [name, value] of Object.entries(hardware.counters)) {
    list.append(el("dt", { textContent: name.replaceAll("_", " ") }), el("dd", { textContent: String(value) }));
  }
}

function renderSlots(slots) {
  const grid = $("slots");
  for (const slot of slots) {
    let cell = grid.querySelector(`[data-slot="${slot.slot}"]`);
    if (!cell) {
      cell = el("div", { className: "slot" },
        el("b", { textContent: `#${slot.slot}` }),
        el("span", { className: "state" }),
        el("span", { className: "bank" }),
        el("progress", { max: 100 }),
        el("span", { className: "charge" }));
      cell.dataset.slot = slot.slot;
      grid.append(cell);
    }
    cell.dataset.state = slot.state;
    cell.dataset.enabled = slot.enabled;
    cell.querySelector(".state").textContent = slot.enabled ? slot.state : `${slot.state} (off)`;
    cell.querySelector(".bank").textContent = slot.bank_id || (slot.state === "empty" ? "" : "no id");
    const bar = cell.querySelector("progress");
    bar.hidden = slot.charge_pct === null;
    if (slot.charge_pct !== null) bar.value = slot.charge_pct;
    cell.querySelector(".charge").textContent = slot.charge_pct === null ? "" : `${slot.charge_pct} %`;
  }
}

function renderVehicle(t, signals) {
  text("vehicle-lock", t.lock);
  text("vehicle-start", yesNo(t.start_enabled));
  text("vehicle-rental", t.rental);
  text("vehicle-service", yesNo(t.in_service));
  const body = $("signals").tBodies[0];
  body.replaceChildren();
  for (const signal of signals) {
    const row = el("tr", {},
      el("td", { textContent: signal.name }),
      el("td", { textContent: signal.value === null ? "unknown" : String(signal.value) }),
      el("td", { textContent: signal.fresh ? "fresh" : "stale", className: signal.fresh ? "ok" : "stale" }),
      el("td", { textContent: signal.age_s === null ? "-" : `${signal.age_s.toFixed(2)} s ago`, className: "age" }),
      el("td", { textContent: signal.stale_after_ms === null ? "-" : `${signal.stale_after_ms} ms` }));
    row.dataset.signal = signal.name;
    body.append(row);
  }
}

function renderParking(t) {
  text("parking-lock", t.lock);
  text("parking-occupied", yesNo(t.occupied));
  text("parking-order", t.order_id || "none");
}

function renderLog(id, items, line, isFault) {
  const list = $(id);
  list.replaceChildren(...items.map((item) => el("li", { textContent: line(item), className: isFault(item) ? "fault" : "" })));
  if (!items.length) list.append(el("li", { textContent: "none" }));
}

$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const reply = await api("/api/login", { body: { password: $("password").value } });
  $("password").value = "";
  if (reply.status === 200) loggedIn(reply.data);
  else if (reply.status === 429) text("login-error", "Too many attempts: wait a minute.");
  else text("login-error", "Wrong password.");
});

$("logout").addEventListener("click", async () => {
  await api("/api/logout", { body: {} });
  loggedOut("Logged out.");
});

$("grant-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const reply = await api("/api/grant", { body: { envelope: $("grant-text").value } });
  const result = $("grant-result");
  if (reply.status === 401) { loggedOut("The session ended: log in again."); return; }
  const d = reply.data || {};
  const done = d.reply;
  const ok = d.accepted && (!done || done.status === "ok");
  result.className = ok ? "ok" : "bad";
  result.dataset.outcome = !d.accepted ? "refused" : done ? done.status : "pending";
  if (!d.accepted) {
    result.textContent = `Refused${d.code ? ` (${d.code})` : ""}: ${d.detail || d.error || reply.status}`;
  } else if (!done) {
    result.textContent = `Accepted: ${d.type} ${d.command_id}; the box's reply is still to come (it goes to the backend).`;
  } else {
    const why = done.code ? ` (${done.code}${done.detail ? `: ${done.detail}` : ""})` : "";
    result.textContent = `${d.type} ${d.command_id}: the box replied ${done.status}${why}.`;
  }
  if (d.accepted) $("grant-text").value = "";
});

start();
