// genrec web page: search items, build a history, show the top-K from POST /v1/recommend, refine by chat.
"use strict";

const state = { history: [] }; // [{id, title}]
const $ = (id) => document.getElementById(id);

function el(tag, attrs, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function button(label, cls, onClick) {
  const b = el("button", { type: "button", class: cls }, label);
  b.addEventListener("click", onClick);
  return b;
}

function addToHistory(item) {
  state.history = state.history.filter((h) => h.id !== item.id);
  state.history.push({ id: item.id, title: item.title });
  renderHistory();
  refresh();
}

function renderHistory() {
  const list = $("history");
  list.replaceChildren();
  state.history.forEach((item, pos) => {
    const li = el("li", { "data-id": item.id });
    li.append(el("span", { class: "title" }, item.title));
    li.append(button("remove", "remove", () => {
      state.history.splice(pos, 1);
      renderHistory();
      refresh();
    }));
    list.append(li);
  });
  $("history-empty").hidden = state.history.length > 0;
}

let searchTimer = null;
async function search() {
  const q = $("search").value.trim();
  const list = $("search-results");
  if (!q) { list.replaceChildren(); return; }
  const resp = await fetch(`/v1/items?q=${encodeURIComponent(q)}&limit=15`);
  if (!resp.ok) return;
  const body = await resp.json();
  if ($("search").value.trim() !== q) return; // a newer query is on its way
  list.replaceChildren();
  for (const item of body.items) {
    const li = el("li", { "data-id": item.id });
    li.append(el("span", { class: "title" }, item.title));
    li.append(button("add", "add", () => addToHistory(item)));
    list.append(li);
  }
}

let requestSeq = 0;
async function refresh() {
  const seq = ++requestSeq;
  const categories = $("categories").value.split(",").map((c) => c.trim()).filter(Boolean);
  const payload = {
    history: state.history.map((h) => h.id),
    k: Math.min(100, Math.max(1, parseInt($("k").value, 10) || 10)),
    exclude_history: $("exclude-history").checked,
    include_categories: categories,
  };
  const resp = await fetch("/v1/recommend", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(payload),
  });
  const body = await resp.json();
  if (seq !== requestSeq) return; // an answer to an outdated request
  const tbody = $("recs").querySelector("tbody");
  tbody.replaceChildren();
  $("error").hidden = resp.ok;
  if (!resp.ok) {
    $("error").textContent = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
    return;
  }
  $("fallback").hidden = body.fallback !== "popular";
  for (const item of body.items) {
    const tr = el("tr", { "data-id": item.id });
    tr.append(el("td", {}, String(item.rank)));
    tr.append(el("td", { class: "title" }, item.title));
    tr.append(el("td", {}, item.id));
    tr.append(el("td", { class: "score" }, item.score.toFixed(4)));
    const td = el("td");
    td.append(button("add to history", "add", () => addToHistory(item)));
    tr.append(td);
    tbody.append(tr);
  }
  $("recs").setAttribute("data-ready", String(seq));
}

const chat = { sessionId: null, seq: 0 };

function resetChat() {
  chat.sessionId = null;
  $("chat-log").replaceChildren();
  $("chat-state").textContent = "no conversation yet";
  $("chat-items").querySelector("tbody").replaceChildren();
  $("chat-error").hidden = true;
}

async function sendChat(event) {
  event.preventDefault();
  const message = $("chat-message").value.trim();
  if (!message) return;
  const seq = ++chat.seq;
  const payload = { message, k: Math.min(100, Math.max(1, parseInt($("k").value, 10) || 10)) };
  if (chat.sessionId) payload.session_id = chat.sessionId;
  else if ($("chat-use-history").checked) payload.history = state.history.map((h) => h.id);
  const resp = await fetch("/v1/chat", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(payload),
  });
  const body = await resp.json();
  if (seq !== chat.seq) return;
  $("chat-error").hidden = resp.ok;
  if (!resp.ok) { // the session is unchanged on an error: the user may simply try again
    $("chat-error").textContent = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
    return;
  }
  chat.sessionId = body.session_id;
  $("chat-message").value = "";
  const li = el("li", { "data-turn": String(body.turn) });
  li.append(el("span", { class: "said" }, `${body.turn}. “${message}”`));
  li.append(el("div", { class: "actions" }, body.actions.length ? `→ ${body.actions.join("; ")}` : "→ (nothing understood)"));
  $("chat-log").append(li);
  $("chat-state").textContent = body.state.summary;
  const tbody = $("chat-items").querySelector("tbody");
  tbody.replaceChildren();
  for (const item of body.items) {
    const tr = el("tr", { "data-id": item.id });
    tr.append(el("td", {}, String(item.rank)));
    tr.append(el("td", { class: "title" }, item.title));
    tr.append(el("td", {}, item.id));
    tr.append(el("td", { class: "score" }, item.score.toFixed(4)));
    tbody.append(tr);
  }
  $("chat-items").setAttribute("data-turn", String(body.turn));
}

async function init() {
  $("chat-form").addEventListener("submit", sendChat);
  $("chat-new").addEventListener("click", resetChat);
  $("search").addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(search, 150);
  });
  for (const id of ["k", "exclude-history", "categories"]) $(id).addEventListener("change", refresh);
  $("clear").addEventListener("click", () => { state.history = []; renderHistory(); refresh(); });
  const health = await (await fetch("/health")).json();
  $("model-info").textContent = `model: ${health.model} · ${health.items} items · micro-batching ${health.batching ? "on" : "off"}`;
  renderHistory();
  refresh();
}

init();
