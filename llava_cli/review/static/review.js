// llava-cli review: a thin page over the server's API. The server decides which rows, their
// order and what a decision writes; this file draws them and turns keys and clicks into calls.
"use strict";

const PALETTE = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"];
const UNSURE_COLOUR = "#b8bcc4";
const $ = (id) => document.getElementById(id);

const S = {
  meta: null,        // labels, keys, multi_label, files
  rows: [],          // the listed rows, in the server's order
  pos: new Map(),    // row id -> index in rows
  cur: -1,           // index of the current row
  version: 0,        // records in the review log when we last looked
  timelines: [],
  queue: Promise.resolve(),  // keys and clicks run one after another, in order
};

// -- helpers ---------------------------------------------------------------------------------
function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined && text !== null) node.textContent = text;
  return node;
}

const colours = new Map();
function colour(label) {
  if (!label || label === S.meta.unsure) return UNSURE_COLOUR;
  if (!colours.has(label)) {
    // a label that names a colour ("red") is drawn in it; others get the palette by label order
    const named = /^[a-z]+$/i.test(label) && CSS.supports("color", label) ? label : null;
    const i = S.meta.labels.indexOf(label);
    colours.set(label, named || PALETTE[(i < 0 ? colours.size : i) % PALETTE.length]);
  }
  return colours.get(label);
}

function textOn(bg) {  // dark or light text on a chip of this colour
  const probe = document.createElement("span");
  probe.style.color = bg;
  document.body.appendChild(probe);
  const rgb = getComputedStyle(probe).color.match(/\d+/g).map(Number);
  probe.remove();
  const lum = (0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]) / 255;
  return lum > 0.6 ? "#111" : "#fff";
}

function chip(label) {
  const parts = S.meta.multi_label ? (label ? label.split(";") : []) : [label];
  const box = el("span", "chips");
  if (!parts.length) box.append(el("span", "chip", "(none)"));
  for (const part of parts) {
    const c = el("span", "chip", part || "(none)");
    const bg = colour(part);
    c.style.background = bg;
    c.style.color = textOn(bg);
    box.append(c);
  }
  return box;
}

function fmt(x, digits = 2) { return x === null || x === undefined ? "–" : Number(x).toFixed(digits); }

function where(row) {
  if (row.frame === null || row.frame === undefined) return row.name;
  const t = row.timestamp_s === null ? "" : ` (${fmt(row.timestamp_s, 1)} s)`;
  return `${row.name} · frame ${row.frame}${t}`;
}

let toastTimer = null;
function toast(message) {
  const t = $("toast");
  t.textContent = message;
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.hidden = true; }, 3500);
}

async function api(path, body) {
  const options = body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  };
  const response = await fetch(path, options);
  let data = null;
  try { data = await response.json(); } catch (e) { data = { error: response.statusText }; }
  if (!response.ok) throw new Error(data.error || response.statusText);
  return data;
}

function run(task) {  // queue an action so fast key presses apply in order
  S.queue = S.queue.then(task).catch((e) => toast(e.message));
  return S.queue;
}

// -- header ----------------------------------------------------------------------------------
function showSummary(s) {
  const acc = s.accuracy === null ? "n/a" : `${fmt(s.accuracy)} (on ${s.reviewed - s.unsure})`;
  const box = $("summary");
  box.replaceChildren();
  const parts = [
    ["reviewed", `${s.reviewed} / ${s.total}`], ["changed", s.changed], ["unsure", s.unsure],
    ["remaining", s.remaining], ["model accuracy on reviewed", acc],
  ];
  if (s.errors) parts.push(["error rows", s.errors]);
  parts.forEach(([name, value], i) => {
    if (i) box.append(" · ");
    const b = el("b", null, String(value));
    b.dataset.name = name;
    box.append(`${name} `, b);
  });
}

function buildLegend() {
  const keys = $("label-keys");
  keys.replaceChildren();
  S.meta.labels.forEach((label, i) => {
    const b = el("button");
    b.type = "button";
    b.dataset.label = label;
    b.title = S.meta.multi_label ? `toggle ${label}` : `label: ${label}`;
    if (i < S.meta.keys.length) b.append(el("kbd", null, String(i + 1)));
    const sw = el("span", "swatch");
    sw.style.background = colour(label);
    b.append(sw, label);
    b.addEventListener("click", () => run(() => setLabel(label)));
    keys.append(b);
  });
  const select = $("label");
  for (const label of [...S.meta.labels, S.meta.unsure]) {
    const o = el("option", null, label);
    o.value = label;
    select.append(o);
  }
  if (S.meta.multi_label) {
    const o = el("option", null, "(none)");
    o.value = "";
    select.append(o);
  }
  document.querySelectorAll("#legend [data-action]").forEach((b) =>
    b.addEventListener("click", () => action(b.dataset.action)));
}

// -- the grid --------------------------------------------------------------------------------
function card(row) {
  const c = el("div", "card");
  c.dataset.id = row.id;
  const pic = el("div", "pic");
  const img = el("img");
  img.loading = "lazy";
  img.alt = row.source;
  img.src = `/media/${row.id}/thumb`;
  img.addEventListener("error", () => img.replaceWith(el("span", "missing", "no picture")));
  pic.append(img);
  const meta = el("div", "meta");
  const name = el("div", "name", where(row));
  name.title = row.source;
  const pred = el("div", "pred");
  pred.append(chip(row.predicted), el("span", "conf", fmt(row.confidence)));
  pred.title = "the model's label and its probability";
  const bars = el("div", "bars");
  S.meta.labels.forEach((label, i) => {
    const p = row.probs[i];
    const bar = el("div", "bar");
    bar.style.height = `${Math.max(0, Math.min(1, p || 0)) * 100}%`;
    bar.style.background = colour(label);
    bar.title = `p_${label} ${fmt(p)}`;
    bars.append(bar);
  });
  const status = el("div", "status");
  meta.append(name, pred, bars, status);
  c.append(pic, meta);
  c.addEventListener("click", () => select(S.pos.get(row.id)));
  c.addEventListener("dblclick", () => { select(S.pos.get(row.id)); openViewer(); });
  paintStatus(c, row);
  return c;
}

function paintStatus(c, row) {
  const r = row.review;
  c.classList.toggle("reviewed", !!r);
  c.classList.toggle("changed", !!(r && r.changed));
  c.classList.toggle("unsure", !!(r && r.unsure));
  const status = c.querySelector(".status");
  status.replaceChildren();
  if (!r) return;
  if (r.unsure) status.append(el("span", "mark", "?"), "unsure");
  else {
    status.append(el("span", "mark", r.changed ? "✎" : "✓"));
    status.append(chip(r.label));
    status.append(r.changed ? " changed" : " accepted");
  }
  status.title = `reviewed ${r.reviewed_at}`;
}

function cardOf(index) { return document.querySelector(`.card[data-id="${S.rows[index].id}"]`); }

function render() {
  const grid = $("grid");
  grid.replaceChildren();
  S.pos = new Map(S.rows.map((r, i) => [r.id, i]));
  if (!S.rows.length) grid.append(el("div", "empty", "No rows match these filters."));
  const frag = document.createDocumentFragment();
  for (const row of S.rows) frag.append(card(row));
  grid.append(frag);
  $("count").textContent = `${S.rows.length} rows listed`;
}

function select(index, scroll = true) {
  if (index === undefined || index < 0 || index >= S.rows.length) return;
  if (S.cur >= 0 && S.cur < S.rows.length) cardOf(S.cur)?.classList.remove("current");
  S.cur = index;
  const c = cardOf(index);
  c.classList.add("current");
  if (scroll) c.scrollIntoView({ block: "nearest", behavior: "auto" });
  drawHere();
  if (!$("viewer").hidden) fillViewer();
}

function columns() {
  const cols = getComputedStyle($("grid")).gridTemplateColumns.split(" ").filter(Boolean);
  return Math.max(1, cols.length);
}

function move(delta) {
  if (!S.rows.length) return;
  select(Math.max(0, Math.min(S.rows.length - 1, (S.cur < 0 ? 0 : S.cur + delta))));
}

// -- loading ---------------------------------------------------------------------------------
function query() {
  const p = new URLSearchParams();
  p.set("sort", $("sort").value);
  p.set("status", $("status").value);
  if ($("label").value !== "*") p.set("label", $("label").value);
  if ($("min").value !== "") p.set("min", $("min").value);
  if ($("max").value !== "") p.set("max", $("max").value);
  return p.toString();
}

async function loadRows(keepId) {
  const data = await api(`/api/rows?${query()}`);
  S.rows = data.rows;
  S.version = data.version;
  S.cur = -1;
  render();
  showSummary(data.summary);
  let index = keepId === undefined ? undefined : S.pos.get(keepId);
  if (index === undefined) {  // resume: the first row not yet reviewed, in this order
    index = S.rows.findIndex((r) => !r.review);
    if (index < 0) index = 0;
  }
  select(index);
}

async function loadTimelines() {
  const data = await api("/api/timelines");
  S.timelines = data.timelines;
  $("videos").hidden = !S.timelines.length;
  const box = $("timelines");
  box.replaceChildren();
  for (const tl of S.timelines) {
    const name = el("div", "tl-name", tl.source.split("/").pop());
    name.title = tl.source;
    const strip = el("div", "strip");
    strip.dataset.source = tl.source;
    const n = tl.frames.length;
    for (const seg of tl.segments) {
      const s = el("div", "seg");
      s.style.flexGrow = seg.frames;
      s.style.background = colour(seg.label);
      const span = seg.start_s === null ? `frames ${seg.start_frame}–${seg.end_frame}` : `${fmt(seg.start_s, 1)}–${fmt(seg.end_s, 1)} s`;
      s.title = `${seg.label || "(none)"}: ${span}, ${seg.frames} frames, ${seg.reviewed} reviewed`;
      strip.append(s);
    }
    tl.frames.forEach((f, i) => {
      if (!f.reviewed) return;
      const t = el("div", "tick");
      t.style.left = `${((i + 0.5) / n) * 100}%`;
      strip.append(t);
    });
    const here = el("div", "here");
    here.hidden = true;
    strip.append(here);
    strip.addEventListener("click", (ev) => {
      const box = strip.getBoundingClientRect();
      const i = Math.max(0, Math.min(n - 1, Math.floor(((ev.clientX - box.left) / box.width) * n)));
      run(() => jump(tl.frames[i].id));
    });
    box.append(name, strip);
  }
  drawHere();
}

function drawHere() {  // the current frame's place on its video's strip
  const row = S.rows[S.cur];
  document.querySelectorAll(".strip").forEach((strip) => {
    const here = strip.querySelector(".here");
    const tl = S.timelines.find((t) => t.source === strip.dataset.source);
    const i = row && tl ? tl.frames.findIndex((f) => f.id === row.id) : -1;
    here.hidden = i < 0;
    if (i >= 0) here.style.left = `${((i + 0.5) / tl.frames.length) * 100}%`;
  });
}

async function jump(id) {
  if (!S.pos.has(id)) {  // not listed with these filters: list everything, then go there
    $("status").value = "all";
    $("label").value = "*";
    $("min").value = "";
    $("max").value = "";
    await loadRows(id);
  }
  select(S.pos.get(id));
}

async function loadErrors() {
  const data = await api("/api/errors");
  $("errors").hidden = !data.errors.length;
  const list = $("error-list");
  list.replaceChildren();
  for (const e of data.errors) {
    const frame = e.frame === null ? "" : ` frame ${e.frame}`;
    const text = e.error.startsWith(e.source) && !frame ? e.error : `${e.source}${frame}: ${e.error}`;
    list.append(el("li", null, text));
  }
}

async function refreshIfStale() {
  const data = await api("/api/summary");
  if (data.version !== S.version) {  // another tab (or process) wrote decisions
    await loadRows(S.rows[S.cur]?.id);
    await loadTimelines();
  }
}

// -- decisions -------------------------------------------------------------------------------
function applyReply(data, expectVersion) {
  const row = data.row;
  showSummary(data.summary);
  if (row && S.pos.has(row.id)) {
    const index = S.pos.get(row.id);
    S.rows[index] = row;
    paintStatus(cardOf(index), row);
  }
  const stale = data.version !== expectVersion;
  S.version = data.version;
  return stale;
}

async function post(path, body, advance) {
  const before = S.version;
  const data = await api(path, body);
  const stale = applyReply(data, before + 1);
  if (stale) await loadRows(advance ? S.rows[Math.min(S.cur + 1, S.rows.length - 1)]?.id : S.rows[S.cur]?.id);
  else if (advance) move(1);
  await loadTimelines();
  return data;
}

function currentSet(row) {
  const r = row.review;
  const text = r && !r.unsure ? r.label : (row.predicted === S.meta.unsure ? "" : row.predicted);
  return new Set(text ? text.split(";") : []);
}

async function setLabel(label) {
  const row = S.rows[S.cur];
  if (!row) return;
  if (S.meta.multi_label) {  // toggle this label in the row's set; stay on the row
    const set = currentSet(row);
    if (set.has(label)) set.delete(label); else set.add(label);
    await post("/api/decision", { id: row.id, label: [...set] }, false);
  } else {
    await post("/api/decision", { id: row.id, label }, true);
  }
}

async function accept() {
  const row = S.rows[S.cur];
  if (!row) return;
  if (S.meta.multi_label && row.review && !row.review.unsure) { move(1); return; }  // keep the toggled set
  await post("/api/decision", { id: row.id, action: "accept" }, true);
}

async function unsure() {
  const row = S.rows[S.cur];
  if (row) await post("/api/decision", { id: row.id, action: "unsure" }, true);
}

async function undo() {
  const before = S.version;
  const data = await api("/api/undo", {});
  if (!data.undone) { toast("nothing to undo"); return; }
  const stale = applyReply(data, before + 1);
  if (stale || !S.pos.has(data.row.id)) await loadRows(data.row.id);
  if (S.pos.has(data.row.id)) select(S.pos.get(data.row.id));
  await loadTimelines();
}

function action(name) {
  if (name === "large") { toggleViewer(); return; }
  run({ accept, unsure, undo }[name]);
}

// -- the large view --------------------------------------------------------------------------
function openViewer() { $("viewer").hidden = false; fillViewer(); }
function closeViewer() { $("viewer").hidden = true; }
function toggleViewer() { if ($("viewer").hidden) openViewer(); else closeViewer(); }

function fillViewer() {
  const row = S.rows[S.cur];
  if (!row) return;
  $("viewer-img").src = `/media/${row.id}/large`;
  $("viewer-img").alt = row.source;
  const info = $("viewer-info");
  info.replaceChildren();
  info.append(el("div", "name", row.source));
  if (row.frame !== null) {
    const t = row.timestamp_s === null ? "" : ` (${fmt(row.timestamp_s, 1)} s)`;
    info.append(el("div", "name", `frame ${row.frame}${t}`));
  }
  const pred = el("div", "pred");
  pred.append("model: ", chip(row.predicted), el("span", "conf", fmt(row.confidence)));
  info.append(pred);
  S.meta.labels.forEach((label, i) => {
    const line = el("div", "prob");
    line.append(el("kbd", null, i < S.meta.keys.length ? String(i + 1) : ""), el("span", null, label));
    const track = el("div", "track");
    const fill = el("div", "fill");
    fill.style.width = `${(row.probs[i] || 0) * 100}%`;
    fill.style.background = colour(label);
    track.append(fill);
    line.append(track, el("span", "num", fmt(row.probs[i])));
    info.append(line);
  });
  const status = el("div", "status");
  const c = el("div");
  c.append(status);
  info.append(c);
  const r = row.review;
  status.textContent = r ? (r.unsure ? "reviewed: unsure" : `reviewed: ${r.label || "(none)"}${r.changed ? " (changed)" : ""}`) : "not reviewed";
}

// -- keys ------------------------------------------------------------------------------------
function onKey(ev) {
  const t = ev.target;
  if (t && (t.tagName === "INPUT" || t.tagName === "SELECT" || t.tagName === "TEXTAREA")) {
    if (ev.key === "Escape") t.blur();
    return;
  }
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
  const k = ev.key;
  let handled = true;
  if (/^[1-9]$/.test(k)) {
    const label = S.meta.keys[Number(k) - 1];
    if (label !== undefined) run(() => setLabel(label));
  } else if (k === "Enter") run(accept);
  else if (k === "u" || k === "U") run(unsure);
  else if (k === "z" || k === "Z") run(undo);
  else if (k === "ArrowRight") run(() => move(1));
  else if (k === "ArrowLeft") run(() => move(-1));
  else if (k === "ArrowDown") run(() => move(columns()));
  else if (k === "ArrowUp") run(() => move(-columns()));
  else if (k === " " || k === "v") toggleViewer();
  else if (k === "Escape") closeViewer();
  else handled = false;
  if (handled) ev.preventDefault();
}

// -- start -----------------------------------------------------------------------------------
async function start() {
  S.meta = await api("/api/meta");
  $("output").textContent = S.meta.output;
  $("output").title = `decisions are saved to ${S.meta.review}`;
  document.title = `review: ${S.meta.output}`;
  buildLegend();
  showSummary(S.meta.summary);
  for (const id of ["sort", "label", "status", "min", "max"]) {
    $(id).addEventListener("change", () => run(() => loadRows(S.rows[S.cur]?.id)));
  }
  $("filters").addEventListener("submit", (ev) => ev.preventDefault());
  $("viewer").addEventListener("click", closeViewer);
  document.addEventListener("keydown", onKey);
  window.addEventListener("focus", () => run(refreshIfStale));
  await loadRows();
  await loadTimelines();
  await loadErrors();
  document.body.dataset.ready = "1";  // for tests and scripts: the first rows are drawn
}

start().catch((e) => toast(`cannot load: ${e.message}`));
