// Candidate and job pages: explain one row as a waterfall, dependence plots on request, and
// predictions for an uploaded CSV (streamed; rows counted as they arrive).
// User data is only ever set with textContent / setAttribute, never innerHTML.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const WATERFALL_TOP = 12;

function svgEl(name, attrs, text) {
  const el = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  if (text !== undefined) el.textContent = text;
  return el;
}

async function postJson(url, body) {
  const init = {method: "POST", headers: {"Accept": "application/json"}};
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(url, init);
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error((data.error && data.error.message) || ("HTTP " + response.status));
  return data;
}

// Steps of a waterfall: the largest contributions, the rest summed into one step.
function waterfallSteps(row) {
  const items = Object.entries(row.contributions).sort((a, b) => Math.abs(b[1]) - Math.abs(a[1]));
  const steps = items.slice(0, WATERFALL_TOP).map(([column, value]) => {
    const shown = row.values[column];
    const text = shown === null || shown === undefined ? "missing" : String(shown);
    return {label: `${column} = ${text.length > 30 ? text.slice(0, 29) + "…" : text}`, value};
  });
  const rest = items.slice(WATERFALL_TOP);
  if (rest.length) steps.push({label: `${rest.length} other columns`, value: rest.reduce((s, [, v]) => s + v, 0)});
  return steps;
}

function drawWaterfall(svg, row) {
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  const steps = waterfallSteps(row);
  const rowH = 22, left = 230, width = 640, plotW = width - left - 70;
  let at = row.base_value; const ends = [at];
  for (const s of steps) { s.from = at; at += s.value; s.to = at; ends.push(at); }
  const lo = Math.min(...ends), hi = Math.max(...ends), span = (hi - lo) || 1;
  const x = (v) => left + ((v - lo) / span) * plotW;
  const height = rowH * (steps.length + 2) + 10;
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("height", String(height));
  const line = (y, label, value) => {
    svg.appendChild(svgEl("text", {x: left - 6, y: y + 15, "text-anchor": "end", class: "wf-label"}, label));
    svg.appendChild(svgEl("line", {x1: x(value), x2: x(value), y1: y, y2: y + rowH, class: "wf-mark"}));
    svg.appendChild(svgEl("text", {x: x(value) + 4, y: y + 15, class: "wf-value"}, value.toPrecision(4)));
  };
  line(0, `base value (${row.output})`, row.base_value);
  steps.forEach((s, i) => {
    const y = rowH * (i + 1);
    svg.appendChild(svgEl("text", {x: left - 6, y: y + 15, "text-anchor": "end", class: "wf-label"}, s.label));
    const x0 = Math.min(x(s.from), x(s.to)), w = Math.max(Math.abs(x(s.to) - x(s.from)), 1);
    svg.appendChild(svgEl("rect", {x: x0, y: y + 3, width: w, height: rowH - 6,
      class: s.value >= 0 ? "wf-up" : "wf-down"}));
    svg.appendChild(svgEl("text", {x: x0 + w + 4, y: y + 15, class: "wf-value"},
      (s.value >= 0 ? "+" : "") + s.value.toPrecision(3)));
  });
  line(rowH * (steps.length + 1), "prediction", row.prediction);
}

function rowRequest(form) {
  const pasted = form.querySelector("[name=row]").value.trim();
  if (pasted) return {rows: [JSON.parse(pasted)]};
  return {row_numbers: [Number(form.querySelector("[name=row_number]").value || 0)]};
}

function initRowExplainer() {
  const form = document.getElementById("row-form");
  if (!form) return;
  const status = document.getElementById("row-status");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    status.textContent = "explaining…";
    try {
      const body = rowRequest(form);
      const data = await postJson(form.dataset.url, body);
      const row = data.rows[0];
      drawWaterfall(document.getElementById("waterfall"), row);
      status.textContent = `prediction ${row.prediction.toPrecision(4)} (${row.output}` +
        (row.class !== undefined ? `, class ${row.class}` : "") + ")";
    } catch (e) {
      status.textContent = e instanceof SyntaxError ? "the pasted row is not JSON: " + e.message : e.message;
    }
  });
}

function initDependence() {
  const button = document.getElementById("dependence-button");
  if (!button) return;
  const status = document.getElementById("dependence-status");
  const box = document.getElementById("dependence");
  button.addEventListener("click", async () => {
    button.disabled = true; status.textContent = "computing (once)…";
    try {
      const doc = await postJson(button.dataset.url);
      while (box.firstChild) box.removeChild(box.firstChild);
      for (const c of doc.columns) {
        const fig = document.createElement("figure");
        fig.appendChild(Object.assign(document.createElement("img"), {src: c.figure, alt: `dependence on ${c.column}`}));
        fig.appendChild(Object.assign(document.createElement("figcaption"), {textContent: `${c.column} (${doc.rows} training rows)`}));
        box.appendChild(fig);
      }
      status.textContent = "";
    } catch (e) {
      status.textContent = e.message; button.disabled = false;
    }
  });
}

async function streamPredictions(form, status, link) {
  const file = form.querySelector("input[type=file]").files[0];
  if (!file) { status.textContent = "choose a CSV file first"; return; }
  status.textContent = "uploading…"; link.hidden = true;
  const response = await fetch(form.dataset.url, {method: "POST", headers: {"Content-Type": "text/csv"}, body: file});
  if (!response.ok) {
    const data = await response.json().catch(() => ({}));
    throw new Error((data.error && data.error.message) || ("HTTP " + response.status));
  }
  const reader = response.body.getReader(); const parts = []; let lines = 0;
  for (;;) {
    const {done, value} = await reader.read();
    if (done) break;
    parts.push(value);
    for (const byte of value) if (byte === 10) lines++;
    status.textContent = `${Math.max(lines - 1, 0)} rows predicted…`;
  }
  const url = URL.createObjectURL(new Blob(parts, {type: "text/csv"}));
  link.href = url; link.download = file.name.replace(/\.csv$/i, "") + "-predictions.csv";
  link.hidden = false;
  status.textContent = `${Math.max(lines - 1, 0)} rows predicted.`;
}

function initPredictions() {
  const form = document.getElementById("predict-form");
  if (!form) return;
  const status = document.getElementById("predict-status");
  const link = document.getElementById("predict-download");
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    streamPredictions(form, status, link).catch((e) => { status.textContent = e.message; });
  });
}

document.addEventListener("DOMContentLoaded", () => { initRowExplainer(); initDependence(); initPredictions(); });
