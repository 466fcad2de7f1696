// midi_ddsp studio: the page. Vanilla JavaScript and canvas; talks to /api (JSON, errors as
// {"error": "..."} shown in the status line). Nothing is fetched from outside this server.
"use strict";

const $ = (id) => document.getElementById(id);
const COLORS = ["#4c78a8", "#f58518", "#54a24b", "#b279a2", "#e45756", "#72b7b2"];
const LANE_HEIGHT = 54;

const ui = {
  state: null,        // /api/state
  part: 0,            // selected part index
  table: null,        // {columns, rows} of the selected part
  selected: new Set(),
  lastClicked: null,  // anchor of shift-click ranges in the grid
  drag: null,         // roll box or lane bar drag in progress
};

function setStatus(text, kind) {
  const el = $("status");
  el.textContent = String(text).split("\n")[0];
  el.className = "status" + (kind ? " " + kind : "");
}

async function api(path, options = {}) {
  let response;
  try {
    response = await fetch(path, options);
  } catch (err) {
    throw new Error("the studio server cannot be reached (" + err.message + ")");
  }
  let body = null;
  try { body = await response.json(); } catch (err) { body = null; }
  if (!response.ok) {
    throw new Error(body && body.error ? body.error : "request failed: HTTP " + response.status);
  }
  return body;
}

async function run(label, fn) {
  setStatus(label + "…", "busy");
  document.body.style.cursor = "progress";
  try {
    const state = await fn();
    if (state && state.parts) await applyState(state);
    setStatus(state && state.message ? state.message : "ready");
  } catch (err) {
    setStatus(err.message, "error");
  } finally {
    document.body.style.cursor = "";
  }
}

function postJSON(path, body) {
  return api(path, {method: "POST", headers: {"Content-Type": "application/json"},
                    body: JSON.stringify(body || {})});
}

// ------------------------------------------------------------------ state -> page

async function applyState(state) {
  const previous = ui.state;
  ui.state = state;
  const loaded = state.loaded;
  $("main").hidden = !loaded;
  $("render-btn").disabled = !loaded || !state.parts.some((p) => p.dirty);
  $("undo-btn").disabled = !state.can_undo;
  $("save-btn").disabled = !loaded;
  for (const id of ["download-mix", "download-zip"]) $(id).classList.toggle("disabled", !loaded);
  fillSessions(state.sessions);
  fillExpressions(state.expressions);
  if (!loaded) return;
  if (!previous || previous.session !== state.session) {
    ui.part = 0; ui.selected.clear(); ui.lastClicked = null;
    $("session-name").value = state.session;
  }
  if (ui.part >= state.parts.length) ui.part = 0;
  const v = state.render_id;
  $("score-info").textContent = `${state.source} · ${state.parts.length} part(s) · ` +
    `${state.duration_s.toFixed(1)} s` + (state.skipped_parts.length ?
    ` · skipped: ${state.skipped_parts.join(", ")}` : "");
  const mix = $("mix-audio");
  const mixSrc = `/api/audio/mix.wav?v=${v}`;
  if (mix.getAttribute("src") !== mixSrc) mix.setAttribute("src", mixSrc);
  $("download-mix").href = "/api/audio/mix.wav?download=1";
  $("download-zip").href = "/api/download.zip";
  fillParts(state);
  await loadTable();
}

function fillSessions(names) {
  const select = $("session-list");
  const keep = select.value;
  select.innerHTML = "";
  for (const name of names) select.add(new Option(name, name));
  if (names.includes(keep)) select.value = keep;
  $("reopen-btn").disabled = names.length === 0;
}

function fillExpressions(expressions) {
  const select = $("expr-select");
  if (select.options.length) return;
  for (const e of expressions) select.add(new Option(e.name, e.name));
  select.value = "vibrato";
  syncSliderRange();
}

function expression(name) {
  return ui.state.expressions.find((e) => e.name === name);
}

function syncSliderRange() {
  const e = expression($("expr-select").value);
  const slider = $("expr-slider"), number = $("expr-value");
  slider.min = Math.min(e.low, e.valid_low < 0 ? e.low : e.valid_low);
  slider.max = Math.max(e.high, 1);
  number.min = e.valid_low; number.max = e.valid_high;
  number.title = `${e.name}: ${e.unit}. ${e.description}`;
}

function fillParts(state) {
  const body = $("parts-table").tBodies[0];
  body.innerHTML = "";
  for (const part of state.parts) {
    const tr = body.insertRow();
    tr.id = `part-row-${part.index}`;
    tr.className = part.index === ui.part ? "selected" : "";
    const pick = document.createElement("input");
    pick.type = "radio"; pick.name = "part"; pick.checked = part.index === ui.part;
    pick.className = "part-pick";
    pick.onchange = () => selectPart(part.index);
    tr.insertCell().append(pick);
    const name = tr.insertCell();
    name.textContent = `${part.name} (${part.n_notes} notes)`;
    if (part.dirty) {
      const mark = document.createElement("span");
      mark.className = "dirty"; mark.textContent = "● edited"; name.append(mark);
    }
    const inst = document.createElement("select");
    inst.className = "instrument-select";
    const isBlend = typeof part.instrument === "object" && part.instrument !== null;
    if (isBlend) inst.add(new Option(part.label, ""));
    for (const n of state.instruments) inst.add(new Option(n, n));
    inst.value = isBlend ? "" : part.instrument;
    inst.onchange = () => { if (inst.value) setInstrument(part.index, inst.value); };
    tr.insertCell().append(inst);
    const blend = document.createElement("input");
    blend.className = "blend-input"; blend.size = 22;
    blend.placeholder = "violin:0.5+flute:0.5";
    blend.value = isBlend ? Object.entries(part.instrument).map(
      ([k, w]) => `${k}:${(+w).toFixed(2)}`).join("+") : "";
    blend.onkeydown = (ev) => { if (ev.key === "Enter") setInstrument(part.index, blend.value); };
    const setBlend = document.createElement("button");
    setBlend.textContent = "Set"; setBlend.className = "blend-btn";
    setBlend.onclick = () => setInstrument(part.index, blend.value);
    tr.insertCell().append(blend, setBlend);
    const audio = document.createElement("audio");
    audio.controls = true; audio.preload = "none";
    audio.src = `/api/audio/stem/${part.index}.wav?v=${state.render_id}`;
    tr.insertCell().append(audio);
    const links = tr.insertCell();
    for (const [label, url, cls] of [
      ["wav", `/api/audio/stem/${part.index}.wav?download=1`, "download-stem"],
      ["csv", `/api/parts/${part.index}/table.csv?download=1`, "download-csv"],
      ["npz", `/api/parts/${part.index}/params.npz?download=1`, "download-npz"]]) {
      const a = document.createElement("a");
      a.href = url; a.textContent = label; a.className = cls; a.style.marginRight = "6px";
      a.download = `${part.file_stem}.${label}`;
      links.append(a);
    }
  }
}

async function selectPart(index) {
  ui.part = index; ui.selected.clear(); ui.lastClicked = null;
  fillParts(ui.state);
  try { await loadTable(); } catch (err) { setStatus(err.message, "error"); }
}

async function loadTable() {
  ui.table = await api(`/api/parts/${ui.part}/table`);
  const part = ui.state.parts[ui.part];
  $("part-title").textContent = `${part.name}: ${part.label}`;
  const img = $("analysis-img"), src = `/api/parts/${ui.part}/analysis.png?v=${ui.state.render_id}`;
  if (img.getAttribute("src") !== src) img.setAttribute("src", src);
  buildGrid();
  draw();
}

// ------------------------------------------------------------------ edits

function setInstrument(index, value) {
  run("changing instrument", () => postJSON(`/api/parts/${index}/instrument`,
                                            {instrument: value}));
}

function editSelection(column, value) {
  const rows = [...ui.selected].sort((a, b) => a - b);
  if (!rows.length) { setStatus("select notes first", "error"); return; }
  run("editing", () => postJSON(`/api/parts/${ui.part}/edit`, {rows, column, value}));
}

function editRows(column, rows, values) {
  run("editing", () => postJSON(`/api/parts/${ui.part}/edit`, {rows, column, values}));
}

// ------------------------------------------------------------------ selection + grid

function colIndex(name) { return ui.table.columns.indexOf(name); }

function setSelection(rows, additive) {
  if (!additive) ui.selected.clear();
  for (const r of rows) ui.selected.add(r);
  refreshSelection();
}

function toggle(row) {
  if (ui.selected.has(row)) ui.selected.delete(row); else ui.selected.add(row);
  refreshSelection();
}

function refreshSelection() {
  const n = ui.selected.size;
  $("selection-info").textContent = n ? `${n} note${n > 1 ? "s" : ""} selected` :
    "no notes selected";
  $("apply-btn").disabled = n === 0;
  for (const tr of $("grid").tBodies[0].rows) {
    tr.classList.toggle("selected", ui.selected.has(+tr.dataset.row));
  }
  draw();
}

function buildGrid() {
  const grid = $("grid");
  const names = ui.state.expressions.map((e) => e.name);
  grid.tHead.innerHTML = "<tr><th>#</th>" + ui.table.columns.map((c) => `<th>${c}</th>`).join("") +
    "</tr>";
  const body = grid.tBodies[0];
  body.innerHTML = "";
  ui.table.rows.forEach((row, r) => {
    const tr = body.insertRow();
    tr.dataset.row = r; tr.id = `note-row-${r}`;
    const sel = tr.insertCell();
    sel.textContent = r; sel.className = "sel"; sel.title = "click: select, shift-click: range";
    sel.onclick = (ev) => {
      if (ev.shiftKey && ui.lastClicked !== null) {
        const [a, b] = [Math.min(ui.lastClicked, r), Math.max(ui.lastClicked, r)];
        setSelection(Array.from({length: b - a + 1}, (_, i) => a + i), true);
      } else if (ev.ctrlKey || ev.metaKey) { toggle(r); } else { setSelection([r], false); }
      ui.lastClicked = r;
    };
    ui.table.columns.forEach((c, j) => {
      const td = tr.insertCell();
      if (names.includes(c)) {
        const input = document.createElement("input");
        input.type = "number"; input.step = "0.01"; input.value = row[j].toFixed(3);
        input.dataset.column = c;
        input.onchange = () => editRows(c, [r], [parseFloat(input.value)]);
        td.append(input);
      } else {
        const v = row[j];   // numbers; the score-mark columns hold text (dynamic, articulation, ...)
        td.textContent = typeof v === "string" ? v
          : (c === "pitch" || c === "velocity" || c === "slur" || c === "fermata") ? v.toFixed(0)
          : v.toFixed(3);
      }
    });
  });
  refreshSelection();
}

// ------------------------------------------------------------------ canvas: roll + lanes

function geometry(canvas) {
  const width = canvas.clientWidth || 1000;
  if (canvas.width !== width) canvas.width = width;
  const end = Math.max(ui.state.duration_s, 1e-3);
  return {x: (t) => (t / end) * canvas.width, t: (x) => (x / canvas.width) * end};
}

function pitchRange() {
  const p = colIndex("pitch");
  const pitches = ui.table.rows.map((r) => r[p]);
  return [Math.min(...pitches) - 2, Math.max(...pitches) + 2];
}

function laneRange(name) {
  const e = expression(name), j = colIndex(name);
  const values = ui.table.rows.map((r) => r[j]);
  return [Math.min(e.low, ...values), Math.max(e.high, ...values)];
}

function draw() {
  if (!ui.table) return;
  drawRoll();
  const lanes = $("lanes");
  if (lanes.childElementCount !== ui.state.expressions.length * 2) {
    lanes.innerHTML = "";
    for (const e of ui.state.expressions) {
      const label = document.createElement("div");
      label.className = "lane-label"; label.textContent = `${e.name} (${e.unit})`;
      const canvas = document.createElement("canvas");
      canvas.height = LANE_HEIGHT; canvas.id = `lane-${e.name}`; canvas.dataset.name = e.name;
      canvas.onmousedown = laneDown;
      lanes.append(label, canvas);
    }
  }
  ui.state.expressions.forEach((e, k) => drawLane($(`lane-${e.name}`), e.name, COLORS[k]));
}

function noteBoxes(canvas) {
  const g = geometry(canvas), [lo, hi] = pitchRange();
  const h = canvas.height / (hi - lo + 1);
  const [p, a, b] = ["pitch", "onset_s", "offset_s"].map(colIndex);
  return ui.table.rows.map((r) => ({x: g.x(r[a]), w: Math.max(2, g.x(r[b]) - g.x(r[a])),
                                    y: (hi - r[p]) * h, h: Math.max(2, h)}));
}

function drawRoll() {
  const canvas = $("roll"), ctx = canvas.getContext("2d");
  geometry(canvas);
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const [lo, hi] = pitchRange(), h = canvas.height / (hi - lo + 1);
  for (let m = Math.ceil(lo); m <= hi; m++) {
    if ([1, 3, 6, 8, 10].includes(((m % 12) + 12) % 12)) {
      ctx.fillStyle = "#f3f3f3"; ctx.fillRect(0, (hi - m) * h, canvas.width, h);
    }
  }
  ctx.fillStyle = "#999"; ctx.font = "10px sans-serif";
  for (let m = Math.ceil(lo); m <= hi; m++) {
    if (((m % 12) + 12) % 12 === 0) ctx.fillText(`C${m / 12 - 1}`, 2, (hi - m + 1) * h - 1);
  }
  noteBoxes(canvas).forEach((box, r) => {
    ctx.fillStyle = ui.selected.has(r) ? "#ff9800" : "#4c78a8";
    ctx.fillRect(box.x, box.y, box.w - 1, box.h);
  });
  if (ui.drag && ui.drag.kind === "box") {
    const d = ui.drag;
    ctx.strokeStyle = "#e65100"; ctx.setLineDash([4, 3]);
    ctx.strokeRect(d.x0, d.y0, d.x1 - d.x0, d.y1 - d.y0); ctx.setLineDash([]);
  }
}

function drawLane(canvas, name, color) {
  const ctx = canvas.getContext("2d"), g = geometry(canvas);
  const [lo, hi] = laneRange(name), j = colIndex(name);
  const [a, b] = ["onset_s", "offset_s"].map(colIndex);
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const y = (v) => canvas.height - ((v - lo) / (hi - lo || 1)) * (canvas.height - 4) - 2;
  ctx.strokeStyle = "#ddd"; ctx.beginPath(); ctx.moveTo(0, y(0)); ctx.lineTo(canvas.width, y(0));
  ctx.stroke();
  ui.table.rows.forEach((r, i) => {
    const value = ui.drag && ui.drag.kind === "lane" && ui.drag.name === name &&
      ui.selected.has(i) ? ui.drag.value : r[j];
    ctx.fillStyle = ui.selected.has(i) ? "#ff9800" : color;
    const top = y(value), base = y(Math.max(lo, Math.min(0, hi)));
    ctx.fillRect(g.x(r[a]), Math.min(top, base), Math.max(2, g.x(r[b]) - g.x(r[a]) - 1),
                 Math.max(2, Math.abs(base - top)));
  });
}

function eventXY(ev, canvas) {
  const rect = canvas.getBoundingClientRect();
  return [(ev.clientX - rect.left) * canvas.width / rect.width,
          (ev.clientY - rect.top) * canvas.height / rect.height];
}

function noteAt(canvas, x, y, lane) {
  const boxes = noteBoxes(canvas);
  return boxes.findIndex((b) => x >= b.x && x <= b.x + b.w && (lane || (y >= b.y && y <= b.y + b.h)));
}

$("roll").onmousedown = (ev) => {
  const canvas = $("roll"), [x, y] = eventXY(ev, canvas), hit = noteAt(canvas, x, y, false);
  if (hit >= 0) {
    if (ev.shiftKey) toggle(hit); else setSelection([hit], false);
    ui.lastClicked = hit;
    return;
  }
  ui.drag = {kind: "box", x0: x, y0: y, x1: x, y1: y, additive: ev.shiftKey};
};

function laneDown(ev) {
  const canvas = ev.currentTarget, name = canvas.dataset.name;
  const [x, y] = eventXY(ev, canvas), hit = noteAt(canvas, x, y, true);
  if (hit < 0) return;
  if (ev.shiftKey) { toggle(hit); return; }
  if (!ui.selected.has(hit)) setSelection([hit], false);
  ui.drag = {kind: "lane", name, canvas, value: laneValue(canvas, name, y), moved: false};
  draw();
}

function laneValue(canvas, name, y) {
  const [lo, hi] = laneRange(name), e = expression(name);
  const frac = Math.min(1, Math.max(0, (canvas.height - 2 - y) / (canvas.height - 4)));
  const v = Math.round((lo + frac * (hi - lo)) * 1000) / 1000;   // within the lane's scale
  return Math.min(e.valid_high, Math.max(e.valid_low, v));
}

window.addEventListener("mousemove", (ev) => {
  const d = ui.drag;
  if (!d) return;
  if (d.kind === "box") {
    [d.x1, d.y1] = eventXY(ev, $("roll")); drawRoll();
  } else {
    d.value = laneValue(d.canvas, d.name, eventXY(ev, d.canvas)[1]); d.moved = true; draw();
  }
});

window.addEventListener("mouseup", () => {
  const d = ui.drag;
  ui.drag = null;
  if (!d) return;
  if (d.kind === "box") {
    const [x0, x1] = [Math.min(d.x0, d.x1), Math.max(d.x0, d.x1)];
    const [y0, y1] = [Math.min(d.y0, d.y1), Math.max(d.y0, d.y1)];
    const rows = [];
    noteBoxes($("roll")).forEach((b, r) => {
      if (b.x <= x1 && b.x + b.w >= x0 && b.y <= y1 && b.y + b.h >= y0) rows.push(r);
    });
    setSelection(rows, d.additive);
  } else if (d.moved) {
    editSelection(d.name, d.value);
  } else {
    draw();
  }
});

// ------------------------------------------------------------------ wiring

$("file-input").onchange = () => {
  const file = $("file-input").files[0];
  if (!file) return;
  const limit = ui.state ? ui.state.max_upload_bytes : Infinity;
  $("file-input").value = "";
  if (file.size > limit) {
    setStatus(`${file.name}: file too large (${(file.size / 1e6).toFixed(1)} MB; the studio ` +
              `accepts scores up to ${(limit / 1e6).toFixed(0)} MB)`, "error");
    return;
  }
  run(`opening ${file.name}`, () => api(`/api/open?filename=${encodeURIComponent(file.name)}`,
                                        {method: "POST", body: file}));
};
$("render-btn").onclick = () => run("rendering", () => postJSON("/api/render"));
$("undo-btn").onclick = () => run("undoing", () => postJSON("/api/undo"));
$("save-btn").onclick = () => run("saving", () => postJSON("/api/save",
                                                           {name: $("session-name").value}));
$("reopen-btn").onclick = () => {
  const name = $("session-list").value;
  if (name) run(`reopening ${name}`, () => postJSON("/api/reopen", {name}));
};
$("expr-select").onchange = syncSliderRange;
$("expr-slider").oninput = () => { $("expr-value").value = $("expr-slider").value; };
$("expr-value").oninput = () => { $("expr-slider").value = $("expr-value").value; };
$("apply-btn").onclick = () => editSelection($("expr-select").value,
                                             parseFloat($("expr-value").value));
$("select-all-btn").onclick = () => ui.table && setSelection(ui.table.rows.map((_, i) => i), false);
$("select-none-btn").onclick = () => setSelection([], false);
window.addEventListener("keydown", (ev) => {
  if ((ev.ctrlKey || ev.metaKey) && ev.key === "z" && ev.target.tagName !== "INPUT") {
    ev.preventDefault(); if (!$("undo-btn").disabled) $("undo-btn").click();
  }
});
window.addEventListener("resize", draw);

api("/api/state").then(async (state) => {
  await applyState(state);
  if (state.loaded) setStatus(`loaded ${state.source}`);
}).catch((err) => setStatus(err.message, "error"));
