// The Orthrus lab's sequence diagram: polls /api/events and draws each exchange as a request
// arrow and a reply arrow between lanes (one per client principal, the KDC, the services),
// marking replays and forged tickets; filters by principal and exchange. No build step.
"use strict";

const TIME_FIELDS = new Set(["ctime", "patimestamp", "authtime", "starttime", "endtime",
  "renew_till", "till", "iat", "nbf", "exp", "timestamp"]);
const BASE_LANES = ["kdc", "notes", "legacy", "impostor"];
const LANE_NAMES = { kdc: "KDC", notes: "notes (HTTP/notes)", legacy: "legacy (HTTP/legacy)",
  impostor: "impostor", "?": "unknown client", replayer: "replayer (sender unknown)" };

// A class dashboard's token comes in the URL's fragment (#token=...), which no request carries;
// the page sends it as the dashboard's own page does. A local lab's page has none.
const TOKEN = new URLSearchParams(location.hash.slice(1)).get("token") || "";
const AUTH = TOKEN ? { Authorization: `Bearer ${TOKEN}` } : {};

// `generation` changes when the viewer changes: a poll started before that is dropped, and
// an event already drawn is never drawn again (polls may overlap: timer, viewer change).
const state = { after: 0, generation: 0, viewer: "", lanes: BASE_LANES.slice(), open: new Set(),
  timer: null, polling: false, filter: { principal: "", exchange: "" }, views: [] };

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v; else node.setAttribute(k, v);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function svg(tag, attrs, text) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function when(seconds) {
  return new Date(seconds * 1000).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
}

function formatValue(name, value) {
  if (TIME_FIELDS.has(name) && typeof value === "number") return `${value}  (${when(value)})`;
  if (value !== null && typeof value === "object") return JSON.stringify(value, null, 1);
  return String(value);
}

function fieldTable(fields) {
  const table = el("table");
  for (const [name, value] of Object.entries(fields || {})) {
    table.append(el("tr", {}, el("td", {}, name), el("td", {}, formatValue(name, value))));
  }
  return table;
}

function laneX(lane) {
  const index = Math.max(0, state.lanes.indexOf(lane));
  return ((index + 0.5) / state.lanes.length) * 100;
}

function drawLanes() {
  const header = document.getElementById("lanes");
  header.style.gridTemplateColumns = `90px repeat(${state.lanes.length}, 1fr)`;
  header.replaceChildren(el("div", {}, ""),
    ...state.lanes.map((lane) => el("div", {}, LANE_NAMES[lane] || lane)));
}

function shortName(principal) {
  return principal ? principal.split("@")[0] : "?";
}

// The lifeline a request starts from: its client's, or the replayer's (a replay's sender is
// whoever copied the request, not the client named inside it).
function clientLane(view) {
  return (view.marks || {}).replay_of ? "replayer" : shortName(view.client);
}

function arrow(kind, view, from, to, y, label) {
  const marks = view.marks || {};
  const marked = `${marks.replay_of ? " replay" : ""}${marks.forged ? " forged" : ""}`;
  const tone = kind === "request" ? `request${marked}` : `reply ${view.ok ? "ok" : "refused"}`;
  const head = kind === "request" ? (marked ? "mark" : "plain") : (view.ok ? "ok" : "bad");
  const group = svg("g", {
    class: `arrow ${tone}`, "data-event": view.id, "data-kind": kind, role: "button", tabindex: "0",
  });
  group.append(svg("line", { x1: `${laneX(from)}%`, y1: y, x2: `${laneX(to)}%`, y2: y,
    "marker-end": `url(#head-${head})` }));
  group.append(svg("text", { x: `${(laneX(from) + laneX(to)) / 2}%`, y: y - 6,
    "text-anchor": "middle" }, label));
  group.append(svg("title", {}, kind === "request" ? view.summary : (view.error || "accepted")));
  return group;
}

function partBox(part, decoded) {
  const cls = ["part"];
  if (part.opened) cls.push("opened");
  if (part.altered) cls.push("altered");
  const box = el("div", { class: cls.join(" ") },
    el("div", {}, el("span", { class: "badge" }, part.opened ? "opened" : (part.altered ? "altered" : "sealed")),
      el("strong", {}, part.where),
      `  ${part.part} — key usage ${part.usage} (${part.usage_name})`),
    el("div", { class: "key" }, `sealed under the ${part.key}`));
  if (part.opened) {
    const by = part.origin
      ? el("a", { href: `#details-${part.origin}`, class: "origin", "data-goto": part.origin }, part.by)
      : part.by;
    box.append(el("div", {}, "opened with ", by));
    if (part.signed !== null && part.signed !== undefined) {
      box.append(el("div", { class: `verdict ${part.signed ? "good" : "bad"}` },
        `KDC signature on the authorization data: ${part.verdict}`));
    }
    box.append(fieldTable(part.fields));
  } else if (decoded && part.reason) {
    box.append(el("div", { class: "why" }, part.reason));
  } else if (!decoded) {
    box.append(el("div", { class: "why" }, "ciphertext: pick a viewer in “Decode as” to open what they hold"));
  }
  return box;
}

function details(view) {
  const box = el("div", { class: `details${view.ok ? "" : " refused"}`, id: `details-${view.id}` },
    el("h3", {}, `#${view.id} ${view.exchange}: ${view.request_label} → ${view.reply_label}`),
    el("div", {}, view.summary),
    el("div", { class: "when" }, view.at));
  const switches = Object.entries(view.labels || {}).filter(([, v]) => v === "off");
  if (switches.length) {
    box.append(el("div", { class: "labels" },
      "lab switches: " + switches.map(([k, v]) => `${k} ${v}`).join(", ")));
  }
  if (!view.ok && view.error) {
    box.append(el("div", { class: "error" }, el("strong", {}, view.error),
      view.message || "", el("div", {}, view.explanation || "")));
  }
  if (Object.keys(view.clear || {}).length) {
    box.append(el("div", {}, el("strong", {}, "In clear"), " (anyone on the wire sees this)"),
      fieldTable(view.clear));
  }
  if (view.parts.length) box.append(el("div", {}, el("strong", {}, "Sealed parts")));
  for (const part of view.parts) box.append(partBox(part, view.decoded));
  if (state.open.has(view.id)) box.classList.add("open");
  for (const link of box.querySelectorAll("a.origin")) {
    link.addEventListener("click", (e) => { e.preventDefault(); reveal(Number(link.dataset.goto)); });
  }
  return box;
}

// Open an event's details and bring it into view (a key's origin links there).
function reveal(id) {
  const box = document.getElementById(`details-${id}`);
  if (!box) return;
  box.classList.add("open");
  state.open.add(id);
  box.closest(".event").classList.remove("hidden");
  box.scrollIntoView({ block: "center" });
}

function toggle(id) {
  const box = document.getElementById(`details-${id}`);
  if (!box) return;
  box.classList.toggle("open");
  if (box.classList.contains("open")) state.open.add(id); else state.open.delete(id);
}

function row(view) {
  const from = clientLane(view);
  const lane = view.lane;
  const picture = svg("svg", { "aria-label": view.summary });
  for (const l of state.lanes) {
    picture.append(svg("line", { class: "lifeline", x1: `${laneX(l)}%`, y1: 0,
      x2: `${laneX(l)}%`, y2: 66 }));
  }
  const marks = view.marks || {};
  const notes = [marks.replay_of ? `replay of #${marks.replay_of}` : "",
    marks.forged ? "forged ticket" : ""].filter(Boolean);
  const service = view.exchange === "AS" ? "" : ` for ${shortName(view.server)}`;
  const label = `${view.request_label}${service}${notes.length ? ` — ${notes.join(", ")}` : ""}`;
  picture.append(arrow("request", view, from, lane, 24, label));
  picture.append(arrow("reply", view, lane, from, 54, view.reply_label));
  picture.addEventListener("click", () => toggle(view.id));
  picture.addEventListener("keydown", (e) => { if (e.key === "Enter") toggle(view.id); });
  const wrapper = el("div", { class: "event", "data-id": view.id, "data-ok": view.ok,
    "data-principal": shortName(view.client), "data-exchange": view.exchange },
    el("div", { class: "row" }, el("div", { class: "when" }, `#${view.id} ${view.at.slice(11, 19)}`),
      picture),
    details(view));
  if (!shown(wrapper)) wrapper.classList.add("hidden");
  return wrapper;
}

function shown(row) {
  const { principal, exchange } = state.filter;
  return (!principal || row.dataset.principal === principal) &&
    (!exchange || row.dataset.exchange === exchange);
}

function applyFilter() {
  for (const row of document.querySelectorAll("#diagram .event")) {
    row.classList.toggle("hidden", !shown(row));
  }
}

// A new lifeline: client principals to the left of the KDC, anything else to the right; and
// each principal once in the filter.
function addLanes(view) {
  const from = clientLane(view);
  let changed = false;
  if (!state.lanes.includes(from)) {
    state.lanes.splice(state.lanes.indexOf("kdc"), 0, from); changed = true;
  }
  if (!state.lanes.includes(view.lane)) { state.lanes.push(view.lane); changed = true; }
  if (changed) { drawLanes(); redraw(); }
  const principal = shortName(view.client);
  const select = document.getElementById("filter-principal");
  if (![...select.options].some((o) => o.value === principal)) {
    select.append(el("option", { value: principal }, principal));
  }
}

async function poll() {
  // One request at a time, and none drawn after the viewer changed: a first answer for a
  // viewer can take a second or more (it derives Argon2id keys to decode), and the timer
  // must not draw the same events twice meanwhile.
  if (state.polling) return;
  state.polling = true;
  const generation = state.generation;
  const live = document.getElementById("live");
  try {
    const url = `api/events?after=${state.after}&as=${encodeURIComponent(state.viewer)}`;
    const response = await fetch(url, { headers: AUTH });
    const body = await response.json();
    if (!response.ok) throw new Error(body.error || response.statusText);
    if (generation !== state.generation) return;
    const diagram = document.getElementById("diagram");
    for (const view of body.events) {
      if (view.id <= state.after) continue;
      addLanes(view);  // may draw the rows so far again, on new lanes
      state.views.push(view);
      diagram.append(row(view));
      state.after = Math.max(state.after, view.id);
    }
    document.getElementById("empty").style.display = diagram.children.length ? "none" : "";
    document.getElementById("warnings").textContent = (body.warnings || []).join(" · ");
    live.textContent = "live"; live.classList.remove("off");
  } catch (err) {
    live.textContent = `not live: ${err.message}`; live.classList.add("off");
  } finally {
    state.polling = false;
  }
}

async function loadStatus() {
  const response = await fetch("api/status", { headers: AUTH });
  const status = await response.json();
  if (!response.ok) throw new Error(status.error || response.statusText);
  document.getElementById("realm").textContent = status.realm;
  // Only the lifelines this realm has (a class server runs no legacy and no impostor).
  const unused = state.lanes.filter((lane) => BASE_LANES.includes(lane)
    && !status.lanes.includes(lane) && !state.views.some((v) => v.lane === lane));
  if (unused.length) {
    state.lanes = state.lanes.filter((lane) => !unused.includes(lane));
    drawLanes(); redraw();
  }
  const processes = document.getElementById("processes");
  processes.replaceChildren(...Object.entries(status.processes).map(([name, p]) =>
    el("span", { class: p.running ? "up" : "", title: p.url || "not running" }, name)));
  // The views the server offers: whose keys this page may decode with (a view appears when
  // its key is handed out, e.g. the KDC's in exercise 12). The choice made is kept.
  const select = document.getElementById("viewer");
  const offered = status.viewers.map((v) => `${v.value}\t${v.label}`).join("\n");
  if (select.dataset.offered !== offered) {
    select.dataset.offered = offered;
    select.replaceChildren(select.options[0],
      ...status.viewers.map((v) => el("option", { value: v.value }, v.label)));
    select.value = state.viewer;
  }
}

function restart() {
  state.generation += 1;
  state.after = 0;
  state.views = [];
  document.getElementById("diagram").replaceChildren();
  poll();
}

// Lanes moved (a new principal): draw the rows drawn so far again on the new lanes.
function redraw() {
  document.getElementById("diagram").replaceChildren(...state.views.map(row));
}

document.getElementById("filter-principal").addEventListener("change", (e) => {
  state.filter.principal = e.target.value; applyFilter();
});
document.getElementById("filter-exchange").addEventListener("change", (e) => {
  state.filter.exchange = e.target.value; applyFilter();
});

document.getElementById("viewer").addEventListener("change", (e) => {
  state.viewer = e.target.value;
  restart();
});

drawLanes();
loadStatus().catch(() => {});
poll();
state.timer = setInterval(() => { poll(); }, 1000);
setInterval(() => { loadStatus().catch(() => {}); }, 5000);
