// tunesmith web page: plain JavaScript, no build step.
// Compose: POST /v1/generate (format json) -> piano roll; the MIDI it returns is rendered
// to WAV, to SVG sheet music for the score view (and MusicXML or ABC on demand) through
// POST /v1/render. The answer's chords are shown in
// a lane under the roll; Rewrite part / Rewrite bars (drag across the roll to choose them) /
// Add part send the current MIDI to POST /v1/infill / /v1/add-part and the answer replaces
// the piece (Back restores the one before).
// Live: GET /v1/stream (server-sent events read with fetch) -> Web Audio synth + live roll.
"use strict";

const $ = (id) => document.getElementById(id);

const TRACK_COLORS = ["#5ec8a8", "#f2b84b", "#6aa7f8", "#ef6f6c", "#b48ef0", "#8fd16a",
  "#f58fc0", "#4fd0e0", "#e0a070", "#a0a8ff", "#d0d060", "#70e0a0", "#ff9f70", "#9fd0ff",
  "#c0c0c0", "#ffd0a0"];

let INFO = null;

// ---------------------------------------------------------------- helpers
function setStatus(el, text, kind) {
  el.textContent = text;
  el.classList.toggle("error", kind === "error");
  el.classList.toggle("busy", kind === "busy");
}

async function errorText(resp) {
  try {
    const body = await resp.json();
    if (body && typeof body.detail === "string") return body.detail;
  } catch (_) { /* not JSON */ }
  return `HTTP ${resp.status}`;
}

function fillSelect(select, values, keepFirst = true) {
  if (!keepFirst) select.innerHTML = "";
  for (const v of values) {
    const opt = document.createElement("option");
    opt.value = v;
    opt.textContent = v;
    select.appendChild(opt);
  }
}

function bindOutput(id, digits) {
  const input = $(id);
  const out = $(id + "-out");
  const show = () => { out.textContent = Number(input.value).toFixed(digits); };
  input.addEventListener("input", show);
  show();
  return show;
}

function base64ToBlob(b64, type) {
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new Blob([bytes], { type });
}

function slug(text) {
  return (text || "piece").toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "").slice(0, 40) || "piece";
}

function pitchName(p) {
  return ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"][p % 12] + (Math.floor(p / 12) - 1);
}

// ---------------------------------------------------------------- tabs
for (const tab of document.querySelectorAll(".tab")) {
  tab.addEventListener("click", () => {
    for (const t of document.querySelectorAll(".tab")) {
      const on = t === tab;
      t.classList.toggle("active", on);
      t.setAttribute("aria-selected", on ? "true" : "false");
      $(t.dataset.panel).classList.toggle("active", on);
    }
  });
}

// ---------------------------------------------------------------- set-up from /v1/info
const showTemperature = bindOutput("temperature", 2);
const showTopK = bindOutput("top_k", 0);
const showTopP = bindOutput("top_p", 2);
bindOutput("cfg", 1);
bindOutput("candidates", 0);
bindOutput("live-temperature", 2);
bindOutput("live-tempo", 0);

$("preset").addEventListener("change", () => {
  const p = INFO && INFO.presets[$("preset").value];
  if (!p) return;
  $("temperature").value = p.temperature;
  $("top_k").value = p.top_k;
  $("top_p").value = p.top_p;
  showTemperature(); showTopK(); showTopP();
});

async function loadInfo() {
  try {
    const resp = await fetch("/v1/info");
    if (!resp.ok) throw new Error(await errorText(resp));
    INFO = await resp.json();
  } catch (e) {
    setStatus($("status"), "could not load the server's info: " + e.message, "error");
    return;
  }
  fillSelect($("key"), INFO.keys);
  fillSelect($("live-key"), INFO.keys);
  fillSelect($("meter"), INFO.meters);
  fillSelect($("style"), INFO.styles);
  fillSelect($("live-style"), INFO.styles);
  fillSelect($("arrangement"), INFO.arrangements || []); // the groove library's styles
  fillSelect($("live-arrangement"), INFO.arrangements || []);
  const words = $("instrument-words");
  for (const w of INFO.instruments.words) {
    const opt = document.createElement("option");
    opt.value = w;
    words.appendChild(opt);
  }
  const pick = $("add-instrument");
  // one instrument per new part: leave out the words for groups ("string quartet")
  const GROUP = /\b(trio|quartet|quintet|satb|band)\b|^woodwinds$/;
  fillSelect(pick, INFO.instruments.words.filter((w) => !GROUP.test(w)), false);
  if (INFO.instruments.words.includes("cello")) pick.value = "cello";
  updatePartButtons();
  const lim = INFO.limits;
  $("bars").max = lim.max_bars;
  $("bars").placeholder = `auto (max ${lim.max_bars})`;
  $("candidates").max = lim.max_candidates;
  $("prompt").maxLength = lim.max_prompt_chars;
  $("live-prompt").maxLength = lim.max_prompt_chars;
  // The sliders start at the server's default sampling (the page's own values are a fallback).
  const preset = INFO.presets[$("preset").value];
  if (preset) {
    $("temperature").value = preset.temperature;
    $("top_k").value = preset.top_k;
    $("top_p").value = preset.top_p;
    $("live-temperature").value = preset.temperature;
    $("live-temperature-out").textContent = Number(preset.temperature).toFixed(2);
    showTemperature(); showTopK(); showTopP();
  }
  const m = INFO.model;
  $("model-name").textContent = `model: ${m.name} · ${(m.parameters / 1e6).toFixed(2)} M parameters`;
}

// ---------------------------------------------------------------- compose
// current: the piece on screen; history: the pieces before it (Back restores the last one).
let current = null; // {json, midiBlob, wavBlob, urls: []}
const history = [];
const HISTORY_MAX = 20;
let busy = false;
let selectedTrack = 0; // index into current.json.tracks
let barSel = null; // {from, to}: bars chosen for Rewrite bars (1-based, inclusive)

function requestBody() {
  const attributes = {};
  if ($("key").value) attributes.key = $("key").value;
  if ($("meter").value) attributes.meter = $("meter").value;
  if ($("style").value) attributes.style = $("style").value;
  if ($("tempo").value) attributes.tempo = Number($("tempo").value);
  if ($("bars").value) attributes.bars = Number($("bars").value);
  const instruments = $("instruments").value.split(",").map((s) => s.trim()).filter(Boolean);
  if (instruments.length) attributes.instruments = instruments;
  const body = {
    prompt: $("prompt").value.trim(),
    attributes,
    sampling: {
      preset: $("preset").value,
      temperature: Number($("temperature").value),
      top_k: Number($("top_k").value),
      top_p: Number($("top_p").value),
      cfg: Number($("cfg").value),
      candidates: Number($("candidates").value),
    },
    format: "json",
  };
  const chords = $("chords").value.trim();
  if (chords) body.chords = chords;
  if ($("seed").value !== "") body.seed = Number($("seed").value);
  body.arrangement = $("arrangement").value;
  return body;
}

// The multipart form of the parts routes (/v1/infill, /v1/add-part): the current MIDI, the
// form's sampling fields and seed, its chords (if any) and the piece's key.
function partsForm(extra) {
  const form = new FormData();
  form.append("file", current.midiBlob, "piece.mid");
  for (const [k, v] of Object.entries(extra)) form.append(k, String(v));
  form.append("format", "json");
  form.append("prompt", $("prompt").value.trim());
  form.append("preset", $("preset").value);
  for (const f of ["temperature", "top_k", "top_p", "cfg", "candidates"]) form.append(f, $(f).value);
  if ($("seed").value !== "") form.append("seed", $("seed").value);
  const chords = $("chords").value.trim();
  if (chords) form.append("chords", chords);
  const key = (current.json.controls && current.json.controls.key) || $("key").value;
  if (key) form.append("key", key);
  return form;
}

function releaseUrls() {
  if (current) for (const u of current.urls) URL.revokeObjectURL(u);
}

function setLink(a, url, name) {
  a.href = url;
  a.download = name;
  a.classList.remove("disabled");
  a.removeAttribute("aria-disabled");
}

async function render(format, json, midiBlob) {
  const form = new FormData();
  form.append("file", midiBlob || current.midiBlob, "piece.mid");
  form.append("format", format);
  if (json.controls && json.controls.key) form.append("key", json.controls.key);
  form.append("title", json.prompt || "tunesmith");
  // the piece's chords as symbols in the notation (the server analyses them otherwise)
  if (json.chords && json.chords.length && json.chords.every((c) => /^[A-G]/.test(c.symbol || ""))) {
    form.append("chords", chordLine(json.chords));
  }
  const resp = await fetch("/v1/render", { method: "POST", body: form });
  if (!resp.ok) throw new Error(await errorText(resp));
  return await resp.blob();
}

function setBusy(on) {
  busy = on;
  $("generate").disabled = on;
  updatePartButtons();
}

// Show a piece (new, or restored by Back): roll, chords, description, parts, downloads and
// audio. `wavBlob` is known for a restored piece; else the MIDI is rendered to WAV.
async function showPiece(entry, status, doneText) {
  releaseUrls();
  const json = entry.json;
  current = { json, midiBlob: entry.midiBlob, wavBlob: entry.wavBlob || null, urls: [] };
  if (entry.selected !== undefined) selectedTrack = entry.selected;
  if (selectedTrack >= json.tracks.length) selectedTrack = Math.max(0, json.tracks.length - 1);
  if (json.tracks[selectedTrack] && !json.tracks[selectedTrack].num_notes) {
    const first = json.tracks.findIndex((t) => t.num_notes > 0);
    selectedTrack = Math.max(0, first);
  }
  drawPiece(json);
  describe(json);
  showTracks(json);
  const stem = `tunesmith-${slug(json.prompt)}-${json.seed}`;
  const midiUrl = URL.createObjectURL(current.midiBlob);
  current.urls.push(midiUrl);
  setLink($("download-midi"), midiUrl, stem + ".mid");
  $("download-musicxml").disabled = false;
  $("download-svg").disabled = false;
  $("download-abc").disabled = false;
  const mine = current;
  showScore(mine); // engraved beside the audio rendering; its failure is shown in place
  if (!mine.wavBlob) {
    setStatus(status, `rendering audio… (${json.num_notes} notes written in ${json.elapsed_s.toFixed(1)} s)`, "busy");
    mine.wavBlob = await render("wav", json, mine.midiBlob);
    if (current !== mine) return; // replaced meanwhile
  }
  const wavUrl = URL.createObjectURL(mine.wavBlob);
  mine.urls.push(wavUrl);
  $("player").src = wavUrl;
  setLink($("download-wav"), wavUrl, stem + ".wav");
  setStatus(status, doneText);
}

function remember() {
  if (!current) return;
  history.push({
    json: current.json, midiBlob: current.midiBlob, wavBlob: current.wavBlob, selected: selectedTrack,
  });
  while (history.length > HISTORY_MAX) history.shift();
}

// POST `url` (JSON or multipart), make the answer the current piece (the one before goes to
// the history) and report in the status line.
// `choose(json)`, if given, returns the track to select in the new piece.
async function replacePiece(url, init, busyText, doneWord, choose) {
  const status = $("status");
  setBusy(true);
  setStatus(status, busyText, "busy");
  const t0 = performance.now();
  try {
    const resp = await fetch(url, init);
    if (!resp.ok) throw new Error(await errorText(resp));
    const json = await resp.json();
    remember();
    const entry = { json, midiBlob: base64ToBlob(json.midi_base64, "audio/midi") };
    if (choose) entry.selected = choose(json);
    await showPiece(entry, status, "");
    const total = ((performance.now() - t0) / 1000).toFixed(1);
    setStatus(status, `${doneWord} in ${total} s · seed ${json.seed}`);
  } catch (e) {
    setStatus(status, e.message, "error");
  } finally {
    setBusy(false);
  }
}

$("compose-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  if (busy) return;
  replacePiece("/v1/generate", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(requestBody()),
  }, "writing…", "done");
});

// The score view: the piece engraved as SVG sheet music by POST /v1/render (format svg).
async function showScore(mine) {
  const view = $("score-view"), box = $("score-svg");
  view.classList.remove("empty");
  box.removeAttribute("data-ready");
  box.textContent = "engraving…";
  try {
    const svg = await (await render("svg", mine.json, mine.midiBlob)).text();
    if (current !== mine) return; // replaced meanwhile
    box.innerHTML = svg;
    box.setAttribute("data-ready", "1");
  } catch (e) {
    if (current === mine) box.textContent = `no score: ${e.message}`;
  }
}

for (const [format, label, ext] of [["musicxml", "MusicXML", "musicxml"], ["svg", "SVG", "svg"], ["abc", "ABC", "abc"]]) {
  $(`download-${format}`).addEventListener("click", async () => {
    if (!current) return;
    const status = $("status");
    setStatus(status, `engraving ${label}…`, "busy");
    try {
      const blob = await render(format, current.json);
      const url = URL.createObjectURL(blob);
      current.urls.push(url);
      const a = document.createElement("a");
      a.href = url;
      a.download = `tunesmith-${slug(current.json.prompt)}-${current.json.seed}.${ext}`;
      document.body.appendChild(a);
      a.click();
      a.remove();
      setStatus(status, `${label} downloaded`);
    } catch (e) {
      setStatus(status, e.message, "error");
    }
  });
}

// chords as text: bars by " | ", chords within a bar by spaces
function chordLine(chords) {
  const bars = [];
  let lastBar = null;
  for (const c of chords || []) {
    if (c.bar !== lastBar) { bars.push([]); lastBar = c.bar; }
    bars[bars.length - 1].push(c.symbol);
  }
  return bars.map((b) => b.join(" ")).join(" | ");
}

function describe(json) {
  const c = json.controls || {};
  const parts = [
    `${json.num_notes} notes`,
    `${json.duration_s.toFixed(1)} s`,
    c.key || "key: any",
    json.time_signature,
    `${Math.round(json.tempo)} bpm`,
    c.style || null,
    json.tracks.map((t) => t.instrument).join(", ") || null,
    `seed ${json.seed}`,
  ].filter(Boolean);
  $("piece-desc").textContent = parts.join(" · ");
  const line = chordLine(json.chords);
  $("piece-chords").textContent = line ? `chords: ${line}` : "";
}

// ---------------------------------------------------------------- parts: rewrite, add, back
// The routes number parts from 1, counting only tracks with notes.
function partNumber(json, index) {
  if (!json.tracks[index] || !json.tracks[index].num_notes) return 0;
  return json.tracks.slice(0, index + 1).filter((t) => t.num_notes > 0).length;
}

function partsWithNotes(json) {
  return json.tracks.filter((t) => t.num_notes > 0).length;
}

function showTracks(json) {
  $("parts").disabled = false;
  const list = $("track-list");
  list.innerHTML = "";
  json.tracks.forEach((t, i) => {
    const li = document.createElement("li");
    const label = document.createElement("label");
    const radio = document.createElement("input");
    radio.type = "radio";
    radio.name = "part";
    radio.value = String(i);
    radio.checked = i === selectedTrack;
    radio.disabled = !t.num_notes;
    radio.addEventListener("change", () => selectTrack(i));
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = TRACK_COLORS[t.index % TRACK_COLORS.length];
    const n = partNumber(json, i);
    const text = document.createElement("span");
    text.textContent = `${n ? n + " · " : ""}${t.instrument}`;
    const count = document.createElement("span");
    count.className = "hint";
    count.textContent = t.num_notes ? `${t.num_notes} notes` : "no notes";
    label.append(radio, swatch, text, count);
    li.appendChild(label);
    li.classList.toggle("selected", i === selectedTrack);
    list.appendChild(li);
  });
  list.dataset.tracks = String(json.tracks.length);
  updatePartButtons();
}

function selectTrack(i) {
  if (!current || !current.json.tracks[i] || !current.json.tracks[i].num_notes) return;
  selectedTrack = i;
  for (const li of $("track-list").children) {
    const on = li.querySelector("input").value === String(i);
    li.classList.toggle("selected", on);
    li.querySelector("input").checked = on;
  }
  paintRoll(lastCursor);
  updatePartButtons();
}

// ---------------------------------------------------------------- bars: choose and rewrite
function barSeconds(json) {
  const [num, den] = (json.time_signature || "4/4").split("/").map(Number);
  return (num * 4 / den) * 60 / (json.tempo || 120);
}

function barCount(json) {
  return Math.max(1, Math.round(roll.duration / barSeconds(json)));
}

function chosenBars() {
  const from = Number($("bars-from").value);
  const to = Number($("bars-to").value);
  const n = current ? barCount(current.json) : 0;
  if (!Number.isInteger(from) || !Number.isInteger(to) || from < 1 || to < from || to > n) return null;
  return { from, to };
}

function setBars(sel) {
  barSel = sel;
  $("bars-from").value = sel ? String(sel.from) : "";
  $("bars-to").value = sel ? String(sel.to) : "";
  paintRoll(lastCursor);
  updatePartButtons();
}

for (const id of ["bars-from", "bars-to"]) {
  $(id).addEventListener("input", () => {
    barSel = chosenBars();
    paintRoll(lastCursor);
    updatePartButtons();
  });
}

$("rewrite-bars").addEventListener("click", () => {
  const sel = chosenBars();
  if (!current || busy || !sel) return;
  const span = sel.from === sel.to ? `bar ${sel.from}` : `bars ${sel.from}-${sel.to}`;
  replacePiece("/v1/infill", { method: "POST", body: partsForm({ bars: `${sel.from}-${sel.to}` }) },
    `rewriting ${span}…`, `${span} rewritten`);
});

function updatePartButtons() {
  const json = current && current.json;
  $("rewrite-bars").disabled = busy || !json || !chosenBars();
  const rewrite = $("rewrite-part");
  rewrite.disabled = busy || !json || !partNumber(json, selectedTrack) || partsWithNotes(json) < 2;
  if (json && partsWithNotes(json) < 2) rewrite.title = "rewriting a part needs another part to keep: add one first";
  else rewrite.title = "write the chosen part anew against the others (uses the sampling settings and seed above)";
  $("add-part").disabled = busy || !json || !$("add-instrument").value;
  $("undo").disabled = busy || !history.length;
  $("undo").textContent = history.length > 1 ? `Back (${history.length})` : "Back";
}

$("rewrite-part").addEventListener("click", () => {
  if (!current || busy) return;
  const part = partNumber(current.json, selectedTrack);
  const name = current.json.tracks[selectedTrack].instrument;
  replacePiece("/v1/infill", { method: "POST", body: partsForm({ part }) },
    `rewriting part ${part} (${name})…`, `part ${part} rewritten`);
});

$("add-part").addEventListener("click", () => {
  if (!current || busy) return;
  const instrument = $("add-instrument").value;
  const old = new Set(current.json.tracks.map((t) => `${t.program}/${t.name}`));
  // select the new part: the track that was not there before
  const choose = (json) => {
    const i = json.tracks.findIndex((t) => !old.has(`${t.program}/${t.name}`) && t.num_notes > 0);
    return i >= 0 ? i : selectedTrack;
  };
  replacePiece("/v1/add-part", { method: "POST", body: partsForm({ instrument }) },
    `adding a ${instrument} part…`, `${instrument} part added`, choose);
});

$("undo").addEventListener("click", async () => {
  if (busy || !history.length) return;
  const status = $("status");
  setBusy(true);
  try {
    const entry = history.pop();
    await showPiece(entry, status, `back to the previous piece (seed ${entry.json.seed})`);
  } catch (e) {
    setStatus(status, e.message, "error");
  } finally {
    setBusy(false);
  }
});

// ---------------------------------------------------------------- the piano roll
const roll = { json: null, lo: 48, hi: 84, duration: 1, labelEvery: 4, legend: [] };
let lastCursor = -1;

function rollLayout(canvas) {
  return { left: 40, top: 8, right: canvas.width - 8, bottom: canvas.height - 18 };
}

function drawPiece(json) {
  const canvas = $("pianoroll");
  roll.json = json;
  if (json.notes.length) {
    roll.lo = Math.min(...json.notes.map((n) => n.pitch)) - 2;
    roll.hi = Math.max(...json.notes.map((n) => n.pitch)) + 2;
  } else {
    roll.lo = 48; roll.hi = 84;
  }
  // show whole bars: the requested length at the first tempo and meter
  const [num, den] = (json.time_signature || "4/4").split("/").map(Number);
  const barS = (num * 4 / den) * 60 / (json.tempo || 120);
  const bars = (json.controls && json.controls.bars) || 0;
  roll.duration = Math.max(json.duration_s, bars * barS, 0.5);
  roll.labelEvery = bars && bars <= 16 ? 1 : 4;
  lastCursor = -1;
  if (barSel && barSel.to > barCount(json)) { // the bars chosen are not in this piece
    barSel = null;
    $("bars-from").value = "";
    $("bars-to").value = "";
  }
  paintRoll(-1);
  layChords(json);
  canvas.dataset.notes = String(json.notes.length);
  canvas.dataset.drawn = "true";
}

// The chord lane under the roll: one label per chord, placed on the roll's time axis (in
// per cent of the canvas width, so it scales with the canvas).
function layChords(json) {
  const lane = $("chord-lane");
  const canvas = $("pianoroll");
  const L = rollLayout(canvas);
  const pct = (t) => (100 * (L.left + (Math.min(t, roll.duration) / roll.duration) * (L.right - L.left))) / canvas.width;
  lane.innerHTML = "";
  const chords = json.chords || [];
  for (const c of chords) {
    if (c.start_s >= roll.duration - 1e-6) continue;
    const el = document.createElement("span");
    el.className = "chord";
    el.textContent = c.symbol;
    el.title = `bar ${c.bar}${c.beat ? ", beat " + c.beat : ""}: ${c.symbol}`
      + (c.bass && c.bass !== c.root ? ` (bass ${c.bass})` : "");
    el.style.left = pct(c.start_s) + "%";
    el.style.width = Math.max(0, pct(c.end_s) - pct(c.start_s)) + "%";
    el.dataset.start = String(c.start_s);
    el.dataset.end = String(c.end_s);
    lane.appendChild(el);
  }
  lane.dataset.chords = String(lane.children.length);
  lane.classList.toggle("empty", !lane.children.length);
}

function markChord(cursor) {
  for (const el of $("chord-lane").children) {
    const on = cursor >= 0 && cursor >= Number(el.dataset.start) && cursor < Number(el.dataset.end);
    el.classList.toggle("now", on);
  }
}

// a drag across the roll chooses bars (for Rewrite bars); a click picks a part
let dragFrom = null;
let dragged = false;

function rollBarAt(ev) {
  const canvas = $("pianoroll");
  const r = canvas.getBoundingClientRect();
  const x = ((ev.clientX - r.left) / r.width) * canvas.width;
  const L = rollLayout(canvas);
  const t = ((x - L.left) / (L.right - L.left)) * roll.duration;
  const bar = Math.floor(t / barSeconds(roll.json)) + 1;
  return { x, bar: Math.min(Math.max(bar, 1), barCount(roll.json)) };
}

$("pianoroll").addEventListener("mousedown", (ev) => {
  if (!roll.json || !current) return;
  dragFrom = rollBarAt(ev);
  dragged = false;
});

$("pianoroll").addEventListener("mousemove", (ev) => {
  if (!dragFrom) return;
  const at = rollBarAt(ev);
  if (Math.abs(at.x - dragFrom.x) < 6 && !dragged) return;
  dragged = true;
  setBars({ from: Math.min(dragFrom.bar, at.bar), to: Math.max(dragFrom.bar, at.bar) });
});

window.addEventListener("mouseup", () => { dragFrom = null; });

// a click on the roll picks the part of the note under the pointer (or of a legend entry)
$("pianoroll").addEventListener("click", (ev) => {
  const json = roll.json;
  if (!json || !current) return;
  if (dragged) { dragged = false; return; } // the end of a drag that chose bars
  const canvas = $("pianoroll");
  const r = canvas.getBoundingClientRect();
  const x = ((ev.clientX - r.left) / r.width) * canvas.width;
  const y = ((ev.clientY - r.top) / r.height) * canvas.height;
  for (const box of roll.legend) {
    if (x >= box.x0 && x <= box.x1 && y >= box.y0 && y <= box.y1) { selectTrack(box.track); return; }
  }
  const L = rollLayout(canvas);
  const rowH = (L.bottom - L.top) / (roll.hi - roll.lo + 1);
  const t = ((x - L.left) / (L.right - L.left)) * roll.duration;
  const pitch = roll.lo - 1 + Math.ceil((L.bottom - y) / rowH);
  let best = null;
  let bestD = Infinity;
  for (const n of json.notes) {
    if (t < n.start - 0.05 || t > n.start + n.duration + 0.05) continue;
    const d = Math.abs(n.pitch - pitch);
    if (d < bestD) { bestD = d; best = n; }
  }
  if (best && bestD <= 2) selectTrack(best.track);
});

function paintRoll(cursor) {
  const canvas = $("pianoroll");
  const ctx = canvas.getContext("2d");
  const L = rollLayout(canvas);
  const json = roll.json;
  ctx.fillStyle = "#14181f";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  if (!json) return;
  const rows = roll.hi - roll.lo + 1;
  const rowH = (L.bottom - L.top) / rows;
  const xOf = (t) => L.left + (t / roll.duration) * (L.right - L.left);
  const yOf = (p) => L.bottom - (p - roll.lo + 1) * rowH;
  // black-key rows and C labels
  ctx.font = "10px system-ui, sans-serif";
  for (let p = roll.lo; p <= roll.hi; p++) {
    if ([1, 3, 6, 8, 10].includes(p % 12)) {
      ctx.fillStyle = "#1b212b";
      ctx.fillRect(L.left, yOf(p), L.right - L.left, rowH);
    }
    if (p % 12 === 0) {
      ctx.fillStyle = "#2c3542";
      ctx.fillRect(L.left, yOf(p) + rowH - 1, L.right - L.left, 1);
      ctx.fillStyle = "#8a94a6";
      ctx.fillText(pitchName(p), 4, yOf(p) + rowH - 1);
    }
  }
  // bar lines (first tempo and meter)
  const [num, den] = (json.time_signature || "4/4").split("/").map(Number);
  const barS = (num * 4 / den) * 60 / (json.tempo || 120);
  ctx.fillStyle = "#8a94a6";
  let bar = 1;
  for (let t = 0; t <= roll.duration + 1e-6 && barS > 0; t += barS, bar++) {
    const x = xOf(t);
    ctx.fillStyle = "#2f3947";
    ctx.fillRect(x, L.top, 1, L.bottom - L.top);
    if (t < roll.duration - 1e-6 && (bar - 1) % (roll.labelEvery || 4) === 0) {
      ctx.fillStyle = "#8a94a6";
      ctx.fillText(String(bar), x + 2, canvas.height - 5);
    }
  }
  // bars chosen for Rewrite bars
  if (barSel) {
    ctx.fillStyle = "rgba(242, 184, 75, 0.14)";
    const x0 = xOf((barSel.from - 1) * barS);
    const x1 = xOf(Math.min(barSel.to * barS, roll.duration));
    ctx.fillRect(x0, L.top, x1 - x0, L.bottom - L.top);
  }
  // chord changes: faint lines
  ctx.fillStyle = "#3a4556";
  for (const c of json.chords || []) {
    if (c.start_s > 0 && c.start_s < roll.duration) ctx.fillRect(xOf(c.start_s), L.bottom - 6, 1, 6);
  }
  // notes (parts other than the chosen one a little dimmer when there are several)
  const several = json.tracks.length > 1;
  for (const n of json.notes) {
    const color = TRACK_COLORS[n.track % TRACK_COLORS.length];
    const dim = several && n.track !== selectedTrack ? 0.6 : 1;
    ctx.globalAlpha = dim * (0.55 + 0.45 * (n.velocity / 127));
    ctx.fillStyle = color;
    const x = xOf(n.start);
    const w = Math.max(2, xOf(n.start + n.duration) - x - 1);
    ctx.fillRect(x, yOf(n.pitch) + 0.5, w, Math.max(1.5, rowH - 1));
  }
  ctx.globalAlpha = 1;
  // legend
  let lx = L.left + 6;
  roll.legend = [];
  for (const t of json.tracks) {
    const n = partNumber(json, t.index);
    const label = `${n ? n + " " : ""}${t.instrument}`;
    const w = ctx.measureText(label).width;
    ctx.fillStyle = "rgba(20, 24, 31, 0.75)";
    ctx.fillRect(lx - 3, L.top + 1, w + 20, 16);
    ctx.fillStyle = TRACK_COLORS[t.index % TRACK_COLORS.length];
    ctx.fillRect(lx, L.top + 4, 10, 10);
    ctx.fillStyle = t.index === selectedTrack && json.tracks.length > 1 ? "#ffffff" : "#d0d6e0";
    ctx.fillText(label, lx + 14, L.top + 13);
    if (t.index === selectedTrack && json.tracks.length > 1) ctx.fillRect(lx + 14, L.top + 15, w, 1);
    roll.legend.push({ track: t.index, x0: lx - 3, x1: lx + 17 + w, y0: L.top + 1, y1: L.top + 17 });
    lx += 22 + w;
  }
  // playback cursor
  if (cursor >= 0) {
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(xOf(Math.min(cursor, roll.duration)), L.top, 2, L.bottom - L.top);
  }
  lastCursor = cursor;
  markChord(cursor);
}

(function followPlayback() {
  const player = $("player");
  let raf = 0;
  const tick = () => {
    paintRoll(player.currentTime);
    if (!player.paused) raf = requestAnimationFrame(tick);
  };
  player.addEventListener("play", () => { cancelAnimationFrame(raf); raf = requestAnimationFrame(tick); });
  player.addEventListener("pause", tick);
  player.addEventListener("seeked", tick);
  player.addEventListener("ended", () => paintRoll(-1));
})();

paintRoll(-1);

// ================================================================= live mode
const LEAD_S = 0.15; // play a note this long after it arrives
const live = {
  session: null,
  token: null, // the key to stop and steer this client's own stream (tunesmith serve)
  abort: null,
  audio: null,
  master: null,
  voices: new Set(),
  sounding: new Map(), // "channel:pitch" -> the voice that key is sounding now
  notes: [], // {t0: audio time, dur, pitch, channel}
  warning: "", // the start-up calibration's warning, shown beside the status
  raf: 0,
  lastStatus: "",
};

function liveStatus(text, kind) { setStatus($("live-status"), text, kind); }

function liveButtons(running) {
  $("live-start").disabled = running;
  $("live-stop").disabled = !running;
  $("live-panic").disabled = !running;
}

function ensureAudio() {
  if (!live.audio) {
    const AC = window.AudioContext || window.webkitAudioContext;
    if (!AC) return null;
    live.audio = new AC();
    live.master = live.audio.createGain();
    live.master.gain.value = 0.6;
    live.master.connect(live.audio.destination);
  }
  if (live.audio.state === "suspended") live.audio.resume();
  return live.audio;
}

function waveFor(program, channel) {
  if (channel === 9 || program < 0) return null; // drums: noise
  if (program >= 40 && program < 72) return "sawtooth"; // strings, brass, reeds
  if (program >= 80 && program < 88) return "square"; // synth leads
  return "triangle"; // pianos, guitars, pipes and the rest
}

function playNote(n) {
  const ctx = live.audio;
  if (!ctx) return;
  const start = ctx.currentTime + LEAD_S;
  const dur = Math.max(0.05, Math.min(n.duration || 0.25, 8));
  const peak = 0.18 * Math.max(0.1, (n.velocity || 80) / 127);
  const gain = ctx.createGain();
  gain.gain.setValueAtTime(0, start);
  gain.gain.linearRampToValueAtTime(peak, start + 0.01);
  gain.gain.exponentialRampToValueAtTime(peak * 0.6, start + Math.min(0.2, dur));
  gain.gain.setValueAtTime(peak * 0.6, start + dur);
  gain.gain.exponentialRampToValueAtTime(0.0001, start + dur + 0.12);
  gain.connect(live.master);
  const wave = waveFor(n.program, n.channel);
  let src;
  if (wave) {
    src = ctx.createOscillator();
    src.type = wave;
    src.frequency.value = 440 * Math.pow(2, (n.pitch - 69) / 12);
    if (wave === "sawtooth") {
      const lp = ctx.createBiquadFilter();
      lp.type = "lowpass";
      lp.frequency.value = 2200;
      src.connect(lp);
      lp.connect(gain);
    } else {
      src.connect(gain);
    }
  } else {
    const len = Math.floor(ctx.sampleRate * 0.12);
    const buf = ctx.createBuffer(1, len, ctx.sampleRate);
    const data = buf.getChannelData(0);
    for (let i = 0; i < len; i++) data[i] = (Math.random() * 2 - 1) * (1 - i / len);
    src = ctx.createBufferSource();
    src.buffer = buf;
    src.connect(gain);
  }
  src.start(start);
  src.stop(start + dur + 0.15);
  const drawn = { t0: start, dur, pitch: n.pitch, channel: n.channel || 0 };
  const key = `${n.channel || 0}:${n.pitch}`;
  const voice = { src, gain, start, end: start + dur, peak, drawn, key };
  live.voices.add(voice);
  live.sounding.set(key, voice);
  src.onended = () => {
    live.voices.delete(voice);
    if (live.sounding.get(key) === voice) live.sounding.delete(key);
    gain.disconnect();
  };
  live.notes.push(drawn);
}

function sustainNotes(extended) {
  // A hold at a barline: the notes sounding there last longer (the stream moved their
  // note-offs by `extend_s`); their release and their bars on the roll move with them.
  const ctx = live.audio;
  if (!ctx) return 0;
  let n = 0;
  for (const e of extended || []) {
    const v = live.sounding.get(`${e.channel}:${e.pitch}`);
    if (!v || !(e.extend_s > 0)) continue;
    const end = v.end + e.extend_s;
    const from = Math.max(ctx.currentTime, v.start + 0.011);
    try {
      v.gain.gain.cancelScheduledValues(from);
      v.gain.gain.setValueAtTime(v.peak * 0.6, Math.max(from, Math.min(end, v.end)));
      v.gain.gain.setValueAtTime(v.peak * 0.6, end);
      v.gain.gain.exponentialRampToValueAtTime(0.0001, end + 0.12);
      v.src.stop(end + 0.15); // the last stop() called before the end is the one that counts
    } catch (_) { continue; /* already over */ }
    v.end = end;
    v.drawn.dur = end - v.drawn.t0;
    n++;
  }
  return n;
}

function liveState(data) {
  // The status line: where the stream is, and whether it is keeping up.
  const parts = [`bar ${data.bar}`, `${Math.round(data.tempo)} bpm`, data.key || "any key",
    data.style || "any style", `T ${Number(data.temperature).toFixed(2)}`,
    `underruns ${data.underruns}`];
  if (data.state && data.state !== "playing") parts.push(data.state);
  if (data.holds) parts.push(`held ${data.holds} bar${data.holds === 1 ? "" : "s"}`);
  if (data.dropped) parts.push(`dropped ${data.dropped}`);
  return parts.join(" · ");
}

function showLiveWarning(text) {
  live.warning = text || "";
  const el = $("live-warning");
  el.textContent = live.warning;
  el.hidden = !live.warning;
}

function silence() {
  const ctx = live.audio;
  for (const v of live.voices) {
    try {
      v.gain.gain.cancelScheduledValues(ctx.currentTime);
      v.gain.gain.setValueAtTime(0, ctx.currentTime);
      v.src.stop();
    } catch (_) { /* already stopped */ }
  }
  live.voices.clear();
  live.sounding.clear();
}

function paintLive() {
  const canvas = $("liveroll");
  const ctx = canvas.getContext("2d");
  const W = canvas.width, H = canvas.height;
  const now = live.audio ? live.audio.currentTime : 0;
  const span = 8; // seconds of history on screen
  live.notes = live.notes.filter((n) => n.t0 + n.dur > now - span);
  // the pitch range follows the notes on screen (at least two octaves)
  let lo = 48, hi = 84;
  if (live.notes.length) {
    lo = Math.min(...live.notes.map((n) => n.pitch)) - 3;
    hi = Math.max(...live.notes.map((n) => n.pitch)) + 3;
    const pad = Math.max(0, 24 - (hi - lo)) / 2;
    lo = Math.max(0, Math.floor(lo - pad));
    hi = Math.min(127, Math.ceil(hi + pad));
  }
  const rowH = H / (hi - lo + 1);
  const xOf = (t) => W - 60 - ((now - t) / span) * (W - 60);
  ctx.fillStyle = "#14181f";
  ctx.fillRect(0, 0, W, H);
  ctx.font = "10px system-ui, sans-serif";
  for (let p = lo; p <= hi; p++) {
    if ([1, 3, 6, 8, 10].includes(p % 12)) {
      ctx.fillStyle = "#1b212b";
      ctx.fillRect(0, H - (p - lo + 1) * rowH, W, rowH);
    } else if (p % 12 === 0) {
      ctx.fillStyle = "#2c3542";
      ctx.fillRect(0, H - (p - lo) * rowH - 1, W, 1);
      ctx.fillStyle = "#8a94a6";
      ctx.fillText(pitchName(p), 4, H - (p - lo) * rowH - 2);
    }
  }
  ctx.fillStyle = "#ffffff55";
  ctx.fillRect(xOf(now), 0, 2, H);
  for (const n of live.notes) {
    ctx.fillStyle = TRACK_COLORS[n.channel % TRACK_COLORS.length];
    const x = xOf(n.t0);
    const w = Math.max(2, xOf(n.t0 + n.dur) - x);
    ctx.fillRect(x, H - (Math.min(hi, Math.max(lo, n.pitch)) - lo + 1) * rowH, w, Math.max(2, rowH));
  }
  if (live.session) live.raf = requestAnimationFrame(paintLive);
}

function streamParams() {
  const q = new URLSearchParams();
  q.set("prompt", $("live-prompt").value.trim());
  q.set("tempo", $("live-tempo").value);
  q.set("temperature", $("live-temperature").value);
  if ($("live-seed").value !== "") q.set("seed", $("live-seed").value);
  if ($("live-key").value) q.set("key", $("live-key").value);
  if ($("live-style").value) q.set("style", $("live-style").value);
  q.set("arrangement", $("live-arrangement").value);
  return q;
}

function handleEvent(type, data) {
  switch (type) {
    case "start":
      live.session = data.session;
      live.token = data.token || null;
      showLiveWarning("");
      liveButtons(true);
      liveStatus(`playing · session ${data.session} · ${Math.round(data.tempo)} bpm · ${data.key || "any key"}`);
      cancelAnimationFrame(live.raf);
      live.raf = requestAnimationFrame(paintLive);
      break;
    case "note":
      playNote(data);
      break;
    case "status":
      liveStatus(liveState(data), data.state === "holding" || data.state === "catching up" ? "busy" : undefined);
      break;
    case "hold":
      sustainNotes(data.extended);
      liveStatus(`holding at bar line (beat ${Number(data.beat).toFixed(0)}): decoding fell behind; `
        + `${data.sustained} note${data.sustained === 1 ? "" : "s"} sustained`, "busy");
      break;
    case "warning":
      showLiveWarning(data.text);
      break;
    case "control":
      liveStatus(`${data.name} → ${data.value} (takes effect in ~${Number(data.latency_bars).toFixed(1)} bars)`);
      break;
    case "panic":
      silence();
      liveStatus("panic: all notes off");
      break;
    case "end":
      liveStatus("stream ended");
      break;
    default:
      break;
  }
}

function parseEvents(buffer, onEvent) {
  // Server-sent events are separated by a blank line; returns what is left unparsed.
  const blocks = buffer.split(/\r?\n\r?\n/);
  const rest = blocks.pop();
  for (const block of blocks) {
    let type = "message";
    const data = [];
    for (const line of block.split(/\r?\n/)) {
      if (line.startsWith(":")) continue;
      const i = line.indexOf(":");
      const field = i < 0 ? line : line.slice(0, i);
      const value = i < 0 ? "" : line.slice(i + 1).replace(/^ /, "");
      if (field === "event") type = value;
      else if (field === "data") data.push(value);
    }
    if (!data.length && type === "message") continue;
    let payload = {};
    try { payload = data.length ? JSON.parse(data.join("\n")) : {}; } catch (_) { payload = {}; }
    onEvent(type, payload);
  }
  return rest;
}

async function startLive() {
  if (!ensureAudio()) {
    liveStatus("this browser has no Web Audio; live mode cannot play", "error");
    return;
  }
  liveButtons(true);
  $("live-start").disabled = true;
  liveStatus("connecting…", "busy");
  const abort = new AbortController();
  live.abort = abort;
  let resp;
  try {
    resp = await fetch("/v1/stream?" + streamParams().toString(), {
      headers: { Accept: "text/event-stream" },
      signal: abort.signal,
    });
  } catch (e) {
    endLive(abort.signal.aborted ? "stopped" : "could not connect: " + e.message, !abort.signal.aborted);
    return;
  }
  if (resp.status === 404) {
    endLive("live streaming is not available on this server yet (/v1/stream not found)", true);
    return;
  }
  if (!resp.ok) {
    endLive(await errorText(resp), true);
    return;
  }
  const reader = resp.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      buffer = parseEvents(buffer, handleEvent);
    }
    endLive(live.session ? "stream ended" : "the server closed the stream", false);
  } catch (e) {
    endLive(abort.signal.aborted ? "stopped" : "connection lost: " + e.message, !abort.signal.aborted);
  }
}

function streamHeaders(extra) {
  // A served stream is stopped and steered by the client that opened it: its token.
  return live.token ? { ...(extra || {}), "X-Stream-Token": live.token } : (extra || {});
}

async function checkServerMode() {
  // `tunesmith stream --web` offers Quit (the server); `tunesmith serve` does not.
  try {
    const resp = await fetch("/v1/server");
    if (resp.ok && (await resp.json()).quit) $("live-quit").hidden = false;
  } catch (_) { /* not that mode */ }
}

async function quitServer() {
  if (live.abort) live.abort.abort();
  silence();
  try {
    await fetch("/v1/server/quit", { method: "POST" });
  } catch (_) { /* it is going away */ }
  live.session = null;
  live.token = null;
  for (const id of ["live-start", "live-stop", "live-panic", "live-quit"]) $(id).disabled = true;
  liveStatus("server quit; you can close this page");
}

function endLive(message, isError) {
  live.session = null;
  live.token = null;
  live.abort = null;
  liveButtons(false);
  liveStatus(message, isError ? "error" : undefined);
}

async function postControl(values) {
  if (!live.session) return;
  try {
    const resp = await fetch(`/v1/stream/${encodeURIComponent(live.session)}/control`, {
      method: "POST",
      headers: streamHeaders({ "Content-Type": "application/json" }),
      body: JSON.stringify(values),
    });
    if (!resp.ok) liveStatus(await errorText(resp), "error");
  } catch (e) {
    liveStatus("control not sent: " + e.message, "error");
  }
}

async function stopLive() {
  const session = live.session;
  if (session) {
    try {
      await fetch(`/v1/stream/${encodeURIComponent(session)}/stop`, {
        method: "POST",
        headers: streamHeaders(),
      });
    } catch (_) { /* the abort below ends it anyway */ }
  }
  if (live.abort) live.abort.abort();
  silence();
  endLive("stopped", false);
}

function debounce(fn, ms) {
  let t = 0;
  return (...args) => { clearTimeout(t); t = setTimeout(() => fn(...args), ms); };
}

$("live-start").addEventListener("click", startLive);
$("live-stop").addEventListener("click", stopLive);
$("live-quit").addEventListener("click", quitServer);
$("live-panic").addEventListener("click", () => { silence(); postControl({ panic: true }); });
$("live-temperature").addEventListener("input", debounce(() => postControl({ temperature: Number($("live-temperature").value) }), 250));
$("live-tempo").addEventListener("input", debounce(() => postControl({ tempo: Number($("live-tempo").value) }), 250));
$("live-key").addEventListener("change", () => { if ($("live-key").value) postControl({ key: $("live-key").value }); });
$("live-style").addEventListener("change", () => { if ($("live-style").value) postControl({ style: $("live-style").value }); });

paintLive();
loadInfo();
checkServerMode();
