// ziti-aio console: the live parts of the server-rendered pages (docs/console.md).
// Everything the page shows from data is set with textContent, never as HTML.

const PREVIEW_DELAY_MS = 250;
const MAX_EVENTS = 50;

function text(tag, value, className) {
  const el = document.createElement(tag);
  el.textContent = value;
  if (className) el.className = className;
  return el;
}

// Role-list inputs: show which entities the selector matches, as it is typed.
function setUpPreviews() {
  for (const input of document.querySelectorAll("input[data-preview]")) {
    const form = input.form;
    const out = form.querySelector(`output[data-for="${input.name}"]`);
    let timer = null;
    const refresh = async () => {
      const semantic = form.querySelector("select[name=semantic]");
      const params = new URLSearchParams({
        kind: input.dataset.preview, roles: input.value, semantic: semantic ? semantic.value : "AnyOf",
      });
      try {
        const answer = await fetch(`/console/preview?${params}`, { credentials: "same-origin" });
        const body = await answer.json();
        if (!answer.ok) { out.textContent = body.error || "no preview"; return; }
        const more = body.count > body.names.length ? ` and ${body.count - body.names.length} more` : "";
        out.textContent = body.count === 0 ? "matches nothing"
          : `matches ${body.count}: ${body.names.join(", ")}${more}`;
      } catch (err) {
        out.textContent = "no preview";
      }
    };
    const later = () => { clearTimeout(timer); timer = setTimeout(refresh, PREVIEW_DELAY_MS); };
    input.addEventListener("input", later);
    const semantic = form.querySelector("select[name=semantic]");
    if (semantic) semantic.addEventListener("change", later);
    refresh();
  }
}

function setUpAutoSubmit() {
  for (const select of document.querySelectorAll("select[data-autosubmit]")) {
    select.addEventListener("change", () => select.form.submit());
  }
}

function names(table, key) {
  try { return JSON.parse(table.dataset[key] || "{}"); } catch (err) { return {}; }
}

function circuitRow(table, event) {
  const routers = names(table, "routers");
  const services = names(table, "services");
  const identities = names(table, "identities");
  const row = document.createElement("tr");
  row.dataset.circuit = event.circuit_id;
  const path = ((event.path && event.path.nodes) || []).map((id) => routers[id] || id).join(" → ");
  const dialer = (event.tags || {}).clientId;  // as OpenZiti's: client_id is the edge session (docs/events.md)
  for (const value of [event.circuit_id, services[event.service_id] || event.service_id,
    identities[dialer] || dialer, path, event.timestamp]) {
    row.append(text("td", value || ""));
  }
  return row;
}

function onCircuit(event) {
  const table = document.querySelector("table[data-live=circuit]");
  const log = document.getElementById("circuit-events");
  if (log) {
    log.prepend(text("li", `${event.timestamp} ${event.event_type} ${event.circuit_id || "(no circuit)"}`
      + (event.failure_cause ? ` ${event.failure_cause}` : "")));
    while (log.children.length > MAX_EVENTS) log.lastElementChild.remove();
  }
  if (!table) return;
  const body = table.tBodies[0];
  const existing = [...body.rows].find((r) => r.dataset.circuit === event.circuit_id);
  if (event.event_type === "created" || event.event_type === "pathUpdated") {
    const row = circuitRow(table, event);
    if (existing) existing.replaceWith(row); else body.prepend(row);
  } else if (event.event_type === "deleted" && existing) {
    existing.remove();
  }
}

function onAlert(event) {
  const list = document.getElementById("alerts");
  if (!list) return;
  const none = list.querySelector(".none");
  if (none) none.remove();
  list.prepend(text("li", `${event.timestamp} ${event.severity || ""} ${event.message || ""}`));
  while (list.children.length > MAX_EVENTS) list.lastElementChild.remove();
}

function onRouter(event) {
  const cell = document.querySelector(`tr[data-router="${CSS.escape(event.router_id)}"] td:nth-child(2)`);
  if (!cell) return;
  cell.textContent = event.router_online ? "online" : "offline";
  cell.className = event.router_online ? "online" : "offline";
}

// One websocket to the console's event stream, on pages that show live data.
function setUpEvents() {
  const live = document.querySelector("[data-live]") || document.querySelector("tr[data-router]");
  if (!live) return;
  const state = document.getElementById("live-state");
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const socket = new WebSocket(`${scheme}//${location.host}/console/events`);
  socket.addEventListener("open", () => { if (state) state.textContent = "Live: following the event stream."; });
  socket.addEventListener("close", () => { if (state) state.textContent = "The event stream closed; reload to reconnect."; });
  socket.addEventListener("message", (message) => {
    let event;
    try { event = JSON.parse(message.data); } catch (err) { return; }
    if (event.namespace === "circuit") onCircuit(event);
    else if (event.namespace === "alert") onAlert(event);
    else if (event.namespace === "router") onRouter(event);
  });
}

setUpPreviews();
setUpAutoSubmit();
setUpEvents();
