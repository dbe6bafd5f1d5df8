// automl pages: fill the target list from the chosen file's header; follow a job live.
// User data is only ever set with textContent / setAttribute, never innerHTML.
"use strict";

function splitCsvLine(line, sep) {
  const out = []; let cur = ""; let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') { cur += '"'; i++; }
      else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === sep) { out.push(cur.trim()); cur = ""; }
    else cur += ch;
  }
  out.push(cur.trim());
  return out;
}

function headerColumns(text) {
  const line = text.replace(/^\uFEFF/, "").split(/\r?\n/)[0] || "";
  const seps = [",", ";", "\t", "|"];
  const sep = seps.reduce((a, b) => (line.split(b).length > line.split(a).length ? b : a));
  return splitCsvLine(line, sep).filter((c) => c.length > 0);
}

function setOptions(select, names) {
  while (select.firstChild) select.removeChild(select.firstChild);
  const first = document.createElement("option");
  first.value = ""; first.textContent = names.length ? "choose the column to predict" : "no columns found";
  select.appendChild(first);
  for (const name of names) {
    const opt = document.createElement("option");
    opt.value = name; opt.textContent = name;
    select.appendChild(opt);
  }
}

function initUpload() {
  const file = document.getElementById("file");
  const target = document.getElementById("target");
  if (!file || !target) return;
  file.addEventListener("change", async () => {
    const f = file.files[0];
    if (!f) return;
    const text = await f.slice(0, 65536).text();
    setOptions(target, headerColumns(text));
  });
}

function fmt(v, digits) { return v === null || v === undefined ? "–" : Number(v).toPrecision(digits); }

function cell(tr, text, href) {
  const td = document.createElement("td");
  if (href) { const a = document.createElement("a"); a.href = href; a.textContent = text; td.appendChild(a); }
  else td.textContent = text;
  tr.appendChild(td);
  return td;
}

function renderBoard(jobId, board) {
  const tbody = document.querySelector("#leaderboard tbody");
  while (tbody.firstChild) tbody.removeChild(tbody.firstChild);
  for (const r of sortRows(board.rows)) {
    const tr = document.createElement("tr");
    cell(tr, r.rank === null ? "" : String(r.rank));
    cell(tr, r.candidate_id, "/jobs/" + encodeURIComponent(jobId) + "/candidates/" + encodeURIComponent(r.candidate_id));
    cell(tr, r.family); cell(tr, r.recipe);
    cell(tr, r.score === null ? "" : fmt(r.score, 5));
    cell(tr, r.score_std === null ? "" : fmt(r.score_std, 3));
    cell(tr, Number(r.fit_s).toFixed(2)); cell(tr, Number(r.predict_ms_per_row).toFixed(3));
    cell(tr, r.latency_ms === null || r.latency_ms === undefined ? "" : Number(r.latency_ms).toFixed(3));
    cell(tr, r.state);
    cell(tr, r.excluded ? r.excluded.split(", ").pop() : "").title = r.excluded || "";
    tbody.appendChild(tr);
  }
  document.getElementById("board-state").textContent = board.final ? "final" : "live";
  const note = document.getElementById("board-note");
  if (note) { note.textContent = board.note || ""; note.hidden = !board.note; }
}

function initExplainButton() {
  const button = document.getElementById("explain-button");
  if (!button) return;
  button.addEventListener("click", async () => {
    const status = document.getElementById("explain-status");
    button.disabled = true; status.textContent = "computing (refits this candidate once)...";
    const response = await fetch(button.dataset.url, {method: "POST", headers: {"Accept": "application/json"}});
    if (response.ok) { window.location.reload(); return; }
    const body = await response.json().catch(() => ({}));
    status.textContent = (body.error && body.error.message) || ("failed: HTTP " + response.status);
    button.disabled = false;
  });
}
document.addEventListener("DOMContentLoaded", initExplainButton);

function initFigures() {
  const dialog = document.getElementById("figure-dialog");
  if (!dialog || !dialog.showModal) return;
  const large = document.getElementById("figure-large");
  for (const link of document.querySelectorAll("a.figure-open")) {
    link.addEventListener("click", (ev) => {
      ev.preventDefault();
      const img = link.querySelector("img");
      large.src = link.href; large.alt = img ? img.alt : "";
      dialog.showModal();
    });
  }
  dialog.addEventListener("click", (ev) => { if (ev.target === dialog) dialog.close(); });
}
document.addEventListener("DOMContentLoaded", initFigures);

let sortKey = null; let sortDir = 1; let lastBoard = null;

function sortRows(rows) {
  if (!sortKey) return rows;
  const num = ["rank", "score", "score_std", "fit_s", "predict_ms_per_row", "latency_ms"].includes(sortKey);
  return rows.slice().sort((a, b) => {
    const x = a[sortKey]; const y = b[sortKey];
    if (x === null || x === undefined) return 1;
    if (y === null || y === undefined) return -1;
    return sortDir * (num ? x - y : String(x).localeCompare(String(y)));
  });
}

function initSorting(jobId) {
  for (const th of document.querySelectorAll("#leaderboard th")) {
    th.addEventListener("click", () => {
      sortDir = sortKey === th.dataset.key ? -sortDir : 1; sortKey = th.dataset.key;
      for (const o of document.querySelectorAll("#leaderboard th")) o.classList.remove("asc", "desc");
      th.classList.add(sortDir > 0 ? "asc" : "desc");
      if (lastBoard) renderBoard(jobId, lastBoard);
    });
  }
}

function svgEl(name, attrs) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", name);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

function renderChart(trials, greaterIsBetter) {
  const svg = document.getElementById("chart");
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  const pts = []; let best = null;
  for (const t of trials) {
    if (t.state !== "complete" || t.score === null) continue;
    if (best === null || (greaterIsBetter ? t.score > best : t.score < best)) best = t.score;
    pts.push([t.elapsed_s, best]);
  }
  if (!pts.length) { const t = svgEl("text", { x: 10, y: 100 }); t.textContent = "waiting for the first trial"; svg.appendChild(t); return; }
  const xs = pts.map((p) => p[0]); const ys = pts.map((p) => p[1]);
  const x0 = 0; const x1 = Math.max(...xs, 1);
  let y0 = Math.min(...ys); let y1 = Math.max(...ys);
  if (y1 - y0 < 1e-12) { y0 -= 0.5 * Math.abs(y0 || 1) * 0.01; y1 += 0.5 * Math.abs(y1 || 1) * 0.01; }
  const X = (x) => 40 + (540 * (x - x0)) / (x1 - x0);
  const Y = (y) => 180 - (160 * (y - y0)) / (y1 - y0);
  let d = "";
  pts.forEach((p, i) => {
    if (i > 0) d += ` L${X(p[0]).toFixed(1)},${Y(pts[i - 1][1]).toFixed(1)}`;
    d += `${i ? " L" : "M"}${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`;
  });
  svg.appendChild(svgEl("path", { d: d + ` L580,${Y(pts[pts.length - 1][1]).toFixed(1)}`, class: "line" }));
  for (const p of pts) svg.appendChild(svgEl("circle", { cx: X(p[0]), cy: Y(p[1]), r: 3, class: "dot" }));
  const labels = [[4, 24, fmt(y1, 4)], [4, 184, fmt(y0, 4)], [520, 196, `${x1.toFixed(0)} s`]];
  for (const [x, y, s] of labels) { const t = svgEl("text", { x, y }); t.textContent = s; svg.appendChild(t); }
}

async function getJson(url) {
  // A request that never answers must not stop the page from following its job: give up after
  // 20 s and let the caller try again.
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), 20000);
  try {
    const r = await fetch(url, { headers: { Accept: "application/json", "X-Requested-With": "fetch" },
                                 cache: "no-store", signal: abort.signal });
    if (!r.ok) throw new Error(url + ": " + r.status);
    return await r.json();
  } finally {
    clearTimeout(timer);
  }
}

function renderJob(job) {
  const p = job.progress;
  const status = document.getElementById("status");
  status.textContent = job.status; status.className = "status " + job.status;
  document.getElementById("stage").textContent = job.stage || "";
  document.getElementById("trials").textContent = `${p.trials_completed} done, ${p.trials_failed} failed`;
  document.getElementById("best").textContent = fmt(p.best_score, 5);
  document.getElementById("winner").textContent = p.winner ? "winner " + p.winner : "";
  document.getElementById("running").textContent = (p.running || []).map(
    (t) => `${t.candidate_id} (${Math.max(0, Math.round(p.elapsed_s - t.started_s))} s)`).join(", ") || "–";
  document.getElementById("metric").textContent = job.metric || "";
  document.getElementById("remaining").textContent = p.remaining_s === null ? "–" : `${Math.round(p.remaining_s)} s`;
  const err = document.getElementById("error");
  err.hidden = !job.error; err.textContent = job.error ? job.error.message : "";
  document.getElementById("cancel-form").hidden = !["queued", "running"].includes(job.status);
  document.getElementById("downloads").hidden = !job.links.model;
  for (const id of ["deploy-box", "predict-box"]) {
    const box = document.getElementById(id);
    if (box) box.hidden = !(job.status === "completed" && job.links.model);
  }
}

// One chain of polls per page, however often pollJob is asked for (timer, tab shown again).
const poll = { timer: null, running: false, done: false };

function schedulePoll(jobId, ms) {
  clearTimeout(poll.timer);
  if (!poll.done) poll.timer = setTimeout(() => pollJob(jobId), ms);
}

async function pollJob(jobId) {
  if (poll.running || poll.done) return;
  poll.running = true; clearTimeout(poll.timer);
  const base = "/api/v1/jobs/" + encodeURIComponent(jobId);
  let wait = 1500;
  try {
    const job = await getJson(base);
    // The board is read after the job, so a finished job's board is its final one.
    const [board, trials] = await Promise.all([getJson(base + "/leaderboard"), getJson(base + "/trials")]);
    renderJob(job); lastBoard = board; renderBoard(jobId, board);
    renderChart(trials.trials, job.greater_is_better);
    poll.done = ["completed", "failed", "cancelled"].includes(job.status);
    setConnection("");
  } catch (e) {
    setConnection("lost contact with the server; retrying");
    wait = 5000;
  } finally {
    poll.running = false;
  }
  schedulePoll(jobId, wait);
}

function setConnection(text) {
  const el = document.getElementById("connection");
  if (el) { el.textContent = text; el.hidden = !text; }
}

function initJob() {
  const el = document.getElementById("job");
  if (!el) return;
  const jobId = el.dataset.jobId;
  initSorting(jobId);
  const form = document.getElementById("cancel-form");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    await fetch("/api/v1/jobs/" + encodeURIComponent(jobId) + "/cancel", { method: "POST", headers: { "X-Requested-With": "fetch" } });
    pollJob(jobId);
  });
  // Browsers slow timers in hidden tabs to once a minute: catch up as soon as the tab is shown.
  document.addEventListener("visibilitychange", () => { if (!document.hidden) pollJob(jobId); });
  pollJob(jobId);
}

function initJobsTable() {
  const table = document.getElementById("jobs");
  if (!table) return;
  const tbody = table.tBodies[0];
  const filter = document.getElementById("jobs-filter");
  const status = document.getElementById("jobs-status");
  const apply = () => {
    const words = filter.value.trim().toLowerCase();
    let shown = 0;
    for (const tr of tbody.rows) {
      const ok = (!status.value || tr.dataset.status === status.value) &&
        (!words || tr.textContent.toLowerCase().includes(words));
      tr.hidden = !ok; shown += ok ? 1 : 0;
    }
    document.getElementById("jobs-count").textContent = `${shown} of ${tbody.rows.length} jobs`;
  };
  filter.addEventListener("input", apply); status.addEventListener("change", apply);
  table.querySelectorAll("th").forEach((th, i) => th.addEventListener("click", () => {
    const dir = th.classList.contains("asc") ? -1 : 1;
    table.querySelectorAll("th").forEach((o) => o.classList.remove("asc", "desc"));
    th.classList.add(dir > 0 ? "asc" : "desc");
    const key = (tr) => { const td = tr.cells[i]; return td.dataset.sort !== undefined ? td.dataset.sort : td.textContent.trim(); };
    const rows = Array.from(tbody.rows).sort((a, b) => {
      const x = key(a); const y = key(b);
      if (x === "" || y === "") return x === y ? 0 : (x === "" ? 1 : -1);
      return dir * (th.dataset.type === "num" ? Number(x) - Number(y) : x.localeCompare(y));
    });
    for (const tr of rows) tbody.appendChild(tr);
  }));
  apply();
}

initUpload();
initJob();
initJobsTable();
