// The dashboard: one snapshot per server-sent event from /orquestra/events, drawn as it comes.
"use strict";
const MAX_WINDOW_S = 300, MIN_WINDOW_S = 30;
const $ = (id) => document.getElementById(id);
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({"&":"&amp;","<":"&lt;",">":"&gt;","\"":"&quot;","'":"&#39;"}[c]));
const secs = (s) => (s == null ? "" : s < 10 ? s.toFixed(2) + " s" : s.toFixed(1) + " s");
const time = (t) => new Date(t * 1000).toLocaleTimeString();

function renderModels(snap) {
  $("models").innerHTML = snap.models.map((m) => `
    <div class="model ${m.role}" data-role="${m.role}" data-loaded="${m.loaded}">
      <div class="name">${esc(m.model)}</div>
      <div class="small">${m.role}</div>
      <span class="badge ${m.loaded ? "on" : ""}">${m.loaded ? "resident" : "not loaded"}</span>
      ${m.leases ? `<span class="badge lease">${m.leases} leased</span>` : ""}
      ${m.queued ? `<span class="badge">${m.queued} queued</span>` : ""}
      ${m.swapping_to ? `<span class="badge swap">loading…</span>` : ""}
    </div>`).join("");
}

function renderVram(snap) {
  const v = snap.vram, scale = Math.max(v.total_gb, v.budget_gb, v.used_gb, 0.01);
  $("vram-fill").style.width = (100 * v.used_gb / scale) + "%";
  $("vram-budget").style.left = Math.min(99.5, 100 * v.budget_gb / scale) + "%";
  $("vram-text").textContent = `${v.used_gb.toFixed(2)} GiB used · budget ${v.budget_gb.toFixed(2)} GiB · ` +
    `${v.total_gb.toFixed(2)} GiB total${v.nvml ? "" : " (no NVML: the server's own accounting)"}`;
}

function renderTimeline(snap) {
  // From the oldest swap listed (at least 30 s, at most 5 minutes) to now.
  const first = snap.swaps.length ? snap.swaps[0].started_at : snap.started_at;
  const WINDOW_S = Math.min(MAX_WINDOW_S, Math.max(MIN_WINDOW_S, snap.now - first + 5));
  const svg = $("timeline"), end = snap.now, start = end - WINDOW_S;
  const lanes = snap.models.map((m) => m.model), laneH = 100 / Math.max(lanes.length, 1);
  const x = (t) => Math.max(0, Math.min(1000, (t - start) / WINDOW_S * 1000));
  const parts = [];
  lanes.forEach((model, i) => {
    const role = snap.models[i].role, y = 4 + i * laneH;
    parts.push(`<text x="4" y="${y + laneH / 2}">${esc(role)}</text>`);
    // Resident from each load of the model until a later swap unloads it (or now).
    let since = null;
    if (snap.models[i].loaded && !snap.swaps.some((s) => s.to_model === model)) since = snap.started_at;
    const spans = [];
    for (const s of snap.swaps) {
      if (since !== null && s.from_models.includes(model)) { spans.push([since, s.started_at + s.unload_s]); since = null; }
      if (s.to_model === model) since = s.started_at + s.total_s;
    }
    if (since !== null && snap.models[i].loaded) spans.push([since, end]);
    for (const [a, b] of spans) {
      if (b < start) continue;
      parts.push(`<rect x="${x(a)}" y="${y}" width="${Math.max(1, x(b) - x(a))}" height="${laneH - 8}" fill="var(--${role})" opacity="0.55"><title>${esc(model)} resident</title></rect>`);
    }
  });
  for (const s of snap.swaps) {
    const i = lanes.indexOf(s.to_model); if (i < 0 || s.started_at + s.total_s < start) continue;
    const y = 4 + i * laneH; let t = s.started_at;
    for (const [stage, d] of [["unload", s.unload_s], ["vram_wait", s.vram_wait_s], ["load", s.load_s]]) {
      parts.push(`<rect class="swap-stage" x="${x(t)}" y="${y}" width="${Math.max(2, x(t + d) - x(t))}" height="${laneH - 8}" fill="var(--${stage})"><title>${stage} ${secs(d)}</title></rect>`);
      t += d;
    }
  }
  for (let k = 0; k <= 5; k++) {
    const t = start + k * WINDOW_S / 5, ago = Math.round(WINDOW_S * (5 - k) / 5);
    const label = k === 5 ? "now" : ago >= 120 ? `-${(ago / 60).toFixed(1)} min` : `-${ago} s`;
    parts.push(`<line x1="${x(t)}" x2="${x(t)}" y1="0" y2="104" stroke="#2a3441"/><text x="${Math.min(960, x(t) + 2)}" y="116">${label}</text>`);
  }
  svg.innerHTML = parts.join("");
}

function renderSwaps(snap) {
  $("swap-count").textContent = `${snap.swap_count} so far`;
  $("swaps").innerHTML = snap.swaps.slice().reverse().slice(0, 20).map((s) => `
    <tr class="swap" data-to="${esc(s.to_model)}"><td>${time(s.started_at)}</td>
    <td>${esc(s.from_models.join(", ") || "—")} → <b>${esc(s.to_model)}</b></td><td>${esc(s.reason)}</td>
    <td>${secs(s.unload_s)}</td><td>${secs(s.vram_wait_s)}</td><td>${secs(s.load_s)}</td><td><b>${secs(s.total_s)}</b></td></tr>`).join("");
}

function renderRequests(snap) {
  $("clients").innerHTML = snap.clients.map((c) => `<tr><td>${esc(c.client)}</td><td>${c.requests}</td>
    <td>${time(c.last_at)} ${esc(c.last_model)} <span class="${c.last_status >= 400 ? "err" : ""}">${c.last_status}</span></td></tr>`).join("");
  $("requests").innerHTML = snap.requests.slice(0, 30).map((r) => `<tr><td>${time(r.at)}</td><td>${esc(r.client)}</td>
    <td>${esc(r.model)}</td><td class="${r.status >= 400 ? "err" : ""}">${r.status}</td><td>${secs(r.seconds)}</td></tr>`).join("");
}

function render(snap) {
  $("policy").textContent = `${snap.backend} · ${snap.policy}`;
  $("clock").textContent = time(snap.now);
  renderModels(snap); renderVram(snap); renderTimeline(snap); renderSwaps(snap); renderRequests(snap);
  document.body.dataset.swaps = snap.swap_count;
}

function connect() {
  const source = new EventSource("/orquestra/events");
  source.addEventListener("snapshot", (e) => {
    document.body.dataset.state = "live"; $("conn").textContent = "live";
    render(JSON.parse(e.data));
  });
  source.onerror = () => { document.body.dataset.state = "offline"; $("conn").textContent = "reconnecting…"; };
}
connect();
