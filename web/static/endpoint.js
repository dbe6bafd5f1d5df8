// The endpoint page: send one row from the form to the endpoint and show the answer as text.
// User data is only ever set with textContent, never innerHTML.
"use strict";

function rowFromForm(form) {
  const row = {};
  for (const input of form.querySelectorAll("input[name]")) {
    const v = input.value.trim();
    if (v === "") row[input.name] = null;
    else if (input.dataset.role === "numeric" && !Number.isNaN(Number(v))) row[input.name] = Number(v);
    else row[input.name] = v;
  }
  return row;
}

function initTry() {
  const page = document.getElementById("endpoint");
  const form = document.getElementById("try-form");
  if (!page || !form) return;
  const out = document.getElementById("try-result");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    out.textContent = "…";
    try {
      const r = await fetch(page.dataset.url, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ instances: [rowFromForm(form)] }),
      });
      const text = await r.text();
      let shown = text;
      try { shown = JSON.stringify(JSON.parse(text), null, 2); } catch (e) { /* not JSON */ }
      out.textContent = (r.ok ? "" : `HTTP ${r.status}\n`) + shown;
    } catch (e) {
      out.textContent = "request failed: " + e;
    }
  });
}

initTry();
