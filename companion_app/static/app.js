// AnyMo companion: one WebSocket for live state, a small JSON API for actions. No framework, no build step.
"use strict";
const $ = (sel) => document.querySelector(sel);
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
const pretty = (s) => String(s ?? "").replace(/_/g, " ");
const pct = (p) => (p == null ? "–" : `${Math.round(100 * p)}%`);
const clock = (t) => new Date(t * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
const hue = (s) => { let h = 0; for (const c of String(s)) h = (h * 31 + c.charCodeAt(0)) % 360; return h; };
const colorOf = (label) => (label === "uncertain" ? "hsl(220 10% 45%)" : `hsl(${hue(label)} 70% 60%)`);

const state = { snapshot: null, label: null, captions: [], timeline: [], devices: [], labels: { builtin: [], custom: [] },
  scores: {}, series: {}, hop: 1, tab: "live" };

// -- API -------------------------------------------------------------------------------------------
async function api(method, path, body) {
  const res = await fetch(path, { method, headers: body ? { "Content-Type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined, credentials: "same-origin" });
  const doc = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(doc.error || `${res.status} ${res.statusText}`);
  return doc;
}
function toast(msg, bad) {
  const t = $("#toast");
  t.textContent = msg; t.className = "toast show" + (bad ? " bad" : "");
  clearTimeout(toast.timer); toast.timer = setTimeout(() => (t.className = "toast"), 3500);
}

// -- tabs ------------------------------------------------------------------------------------------
function showTab(name) {
  state.tab = name;
  document.querySelectorAll(".tab").forEach((s) => s.classList.toggle("active", s.id === `tab-${name}`));
  document.querySelectorAll(".tabs button").forEach((b) => b.classList.toggle("active", b.dataset.tab === name));
  if (name === "history") loadSessions();
  if (name === "live") drawPlot();
  history.replaceState(null, "", `#${name}`);
}
document.querySelectorAll(".tabs button").forEach((b) => b.addEventListener("click", () => showTab(b.dataset.tab)));

// -- live ------------------------------------------------------------------------------------------
function renderLabel() {
  const ev = state.label;
  const hero = $("#hero");
  if (!ev) return;
  $("#label").textContent = ev.label;
  hero.classList.toggle("uncertain", ev.label === "uncertain");
  hero.style.setProperty("--accent", colorOf(ev.label));
  const unsure = ev.label === "uncertain";  // no label is likely enough: show the bar empty, the guesses below
  $("#confbar").style.width = unsure ? "0%" : `${Math.round(100 * ev.confidence)}%`;
  $("#conftext").textContent = unsure ? "–" : pct(ev.confidence);
  $("#top").innerHTML = ev.top.map(([t, p]) => `<span class="chip" style="--c:${colorOf(t)}">${esc(t)} <b>${pct(p)}</b></span>`).join("");
  $("#herometa").textContent = `${ev.sensors.map(pretty).join(" · ") || "no sensor"} · ${clock(ev.t_end_s)} · ${ev.inference_ms.toFixed(1)} ms`;
}
function renderCaptions() {
  const ul = $("#captions");
  if (!state.captions.length) return;
  ul.innerHTML = state.captions.slice(0, 4).map((c) => `<li><q>${esc(c.text)}</q><span>${clock(c.t_end_s)}</span></li>`).join("");
}
function addToTimeline(ev) {
  const tl = state.timeline, last = tl[tl.length - 1];
  if (last && last.label === ev.label && ev.t_end_s - last.end_s < 3) last.end_s = ev.t_end_s;
  else tl.push({ label: ev.label, start_s: last ? ev.t_end_s - state.hop : ev.t_start_s, end_s: ev.t_end_s });
  if (tl.length > 500) tl.shift();
}
function renderTimeline(el, listEl, tl, spanEl) {
  if (!tl.length) { el.innerHTML = `<div class="empty">No labels yet.</div>`; listEl.innerHTML = ""; return; }
  const t0 = tl[0].start_s, t1 = tl[tl.length - 1].end_s, span = Math.max(1, t1 - t0);
  el.innerHTML = tl.map((s) => `<span style="flex-grow:${Math.max(0.001, s.end_s - s.start_s) / span};background:${colorOf(s.label)}"
      title="${esc(s.label)} ${clock(s.start_s)}–${clock(s.end_s)}"></span>`).join("");
  listEl.innerHTML = tl.slice(-6).reverse().map((s) => `<li><i style="background:${colorOf(s.label)}"></i>${esc(s.label)}
      <span>${clock(s.start_s)} · ${Math.round(s.end_s - s.start_s)} s</span></li>`).join("");
  if (spanEl) spanEl.textContent = `${Math.round(span)} s`;
}

function renderIdle(snap) {
  // nothing streaming and nothing labelled yet: say why, and where to start
  if (state.label) return;
  const none = !snap.devices.length;
  $("#label").textContent = snap.state === "streaming" ? "waiting for the first window…" : none ? "no wearable yet" : "not streaming";
  $("#herometa").innerHTML = none ? `Pair a wearable on the <a href="#devices" id="go-devices">Devices</a> page: labels appear 5 s after it streams.`
    : snap.error ? esc(snap.error) : "Labels appear 5 s after the wearables stream.";
  const go = $("#go-devices");
  if (go) go.addEventListener("click", (e) => { e.preventDefault(); showTab("devices"); });
}

// live plot: |acc| per sensor, last 10 s at 25 Hz
const PLOT_N = 250;
function addSignal(series) {
  for (const [name, s] of Object.entries(series)) {
    const buf = (state.series[name] = state.series[name] || []);
    buf.push(...s.acc_g);
    if (buf.length > PLOT_N) buf.splice(0, buf.length - PLOT_N);
  }
}
function drawPlot() {
  const cv = $("#plot"), dpr = window.devicePixelRatio || 1;
  const w = cv.clientWidth, h = cv.clientHeight;
  if (!w) return;
  if (cv.width !== w * dpr) { cv.width = w * dpr; cv.height = h * dpr; }
  const g = cv.getContext("2d");
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, w, h);
  const all = Object.values(state.series).flat();
  const ymax = Math.max(2, Math.ceil(Math.max(...all, 0) * 2) / 2);
  g.strokeStyle = "rgba(255,255,255,0.08)"; g.fillStyle = "rgba(255,255,255,0.45)"; g.font = "11px system-ui"; g.lineWidth = 1;
  g.textBaseline = "middle";
  for (let y = 0; y <= ymax; y += ymax > 4 ? 2 : 1) {
    const py = h - 8 - (y / ymax) * (h - 16);
    g.beginPath(); g.moveTo(28, py); g.lineTo(w, py); g.stroke(); g.fillText(`${y} g`, 0, py);
  }
  let legend = "";
  for (const [name, buf] of Object.entries(state.series)) {
    const c = `hsl(${hue(name)} 80% 62%)`;
    g.strokeStyle = c; g.lineWidth = 1.6; g.beginPath();
    buf.forEach((v, i) => {
      const x = 28 + ((i + PLOT_N - buf.length) / (PLOT_N - 1)) * (w - 30), y = h - 8 - (Math.min(v, ymax) / ymax) * (h - 16);
      i ? g.lineTo(x, y) : g.moveTo(x, y);
    });
    g.stroke();
    legend += `<span><i style="background:${c}"></i>${esc(pretty(name))}</span>`;
  }
  $("#legend").innerHTML = legend;
}
let plotPending = false;
function schedulePlot() { if (!plotPending && state.tab === "live") { plotPending = true; requestAnimationFrame(() => { plotPending = false; drawPlot(); }); } }

// -- devices ---------------------------------------------------------------------------------------
const fmt = (x, d = 1) => (x == null ? "–" : Number(x).toFixed(d));
// the bridge's drift estimate with its ~95 % interval; a short session's estimate is mostly interval
const drift = (d) => d.clock_drift_ppm == null ? "–" : d.clock_drift_ci_ppm == null ? `${fmt(d.clock_drift_ppm, 0)} ppm`
  : d.clock_drift_ci_ppm > 200 ? `settling (±${fmt(d.clock_drift_ci_ppm, 0)})` : `${fmt(d.clock_drift_ppm, 0)} ± ${fmt(d.clock_drift_ci_ppm, 0)} ppm`;
function renderDevices() {
  const el = $("#paired");
  if (!state.devices.length) { el.innerHTML = `<p class="empty">No wearable paired yet. Scan for one below.</p>`; return; }
  el.innerHTML = state.devices.map((d) => `
    <div class="device" data-address="${esc(d.address)}">
      <div class="dev-head">
        <span class="dot ${d.connected ? "on" : d.streaming ? "wait" : ""}" title="${d.connected ? "connected" : "not connected"}"></span>
        <div><b>${esc(pretty(d.placement))}</b><div class="meta">${esc(d.name || d.device_type)} · ${esc(d.address)}</div></div>
        <div class="dev-actions"><button class="ghost small move">Move</button><button class="ghost small danger forget">Forget</button></div>
      </div>
      <div class="stats">
        <div><span>link</span><b>${d.connected ? "connected" : d.streaming ? "connecting" : "idle"}</b></div>
        <div><span>rate</span><b>${fmt(d.rate_hz)} Hz</b></div>
        <div><span>loss</span><b>${d.loss_pct == null ? "–" : fmt(d.loss_pct, 1) + " %"}</b></div>
        <div><span>clock drift</span><b>${drift(d)}</b></div>
        <div><span>reconnects</span><b>${d.reconnects}</b></div>
        <div><span>battery</span><b>${d.battery_pct == null ? "–" : d.battery_pct + " %"}</b></div>
      </div>
      ${d.last_error && !d.connected ? `<div class="warn">${esc(d.last_error)}</div>` : ""}
    </div>`).join("");
  el.querySelectorAll(".forget").forEach((b) => b.addEventListener("click", async (e) => {
    const a = e.target.closest(".device").dataset.address;
    if (!confirm(`Forget ${a}?`)) return;
    try { await api("DELETE", `/api/devices/${encodeURIComponent(a)}`); toast("Forgotten"); refreshDevices(); } catch (err) { toast(err.message, true); }
  }));
  el.querySelectorAll(".move").forEach((b) => b.addEventListener("click", (e) => {
    const d = state.devices.find((x) => x.address === e.target.closest(".device").dataset.address);
    choosePlacement(d, async (placement) => {
      await api("PATCH", `/api/devices/${encodeURIComponent(d.address)}`, { placement });
      toast(`Moved to ${pretty(placement)}`); refreshDevices();
    });
  }));
}
async function refreshDevices() { try { state.devices = (await api("GET", "/api/devices")).devices; renderDevices(); } catch (e) { /* shown by status */ } }

function choosePlacement(dev, onChosen) {
  const dlg = $("#placer");
  let chosen = null;
  $("#placer-dev").textContent = `${dev.name || dev.display_name || dev.device_type} · ${dev.address}`;
  $("#placer-choice").textContent = "tap the body";
  $("#placer-ok").disabled = true;
  const worn = Object.fromEntries(state.devices.filter((d) => d.address !== dev.address).map((d) => [d.placement, d.address]));
  renderBody($("#body"), (p) => { chosen = p; $("#placer-choice").textContent = pretty(p); $("#placer-ok").disabled = false; }, worn);
  dlg.onclose = async () => {
    if (dlg.returnValue !== "ok" || !chosen) return;
    try { await onChosen(chosen); } catch (err) { toast(err.message, true); }
  };
  dlg.showModal();
}

$("#scan").addEventListener("click", async () => {
  const btn = $("#scan"), el = $("#found");
  btn.disabled = true; btn.textContent = "Scanning…";
  el.innerHTML = `<p class="empty">Looking for wearables nearby…</p>`;
  try {
    const { found } = await api("POST", "/api/scan?timeout=3");
    el.innerHTML = found.length ? found.map((f) => `
      <div class="device found" data-address="${esc(f.address)}">
        <div class="dev-head">
          <span class="rssi" title="signal">${f.rssi_dbm ?? "–"} dBm</span>
          <div><b>${esc(f.name || f.display_name)}</b><div class="meta">${esc(f.display_name)} · ${esc(f.address)}</div></div>
          <div class="dev-actions">${f.paired ? `<span class="meta">paired</span>` : `<button class="primary small pair">Pair</button>`}</div>
        </div>
      </div>`).join("") : `<p class="empty">Nothing found. Is the wearable on, charged and close?</p>`;
    el.querySelectorAll(".pair").forEach((b) => b.addEventListener("click", (e) => {
      const f = found.find((x) => x.address === e.target.closest(".device").dataset.address);
      choosePlacement(f, async (placement) => {
        await api("POST", "/api/devices", { address: f.address, placement, device_type: f.device_type, name: f.name });
        toast(`Paired at ${pretty(placement)}`);
        e.target.closest(".device").remove();
        refreshDevices();
      });
    }));
  } catch (err) { el.innerHTML = `<p class="warn">${esc(err.message)}</p>`; }
  btn.disabled = false; btn.textContent = "Scan again";
});

// -- labels ----------------------------------------------------------------------------------------
function labelRow(t, custom) {
  const p = state.scores[t];
  return `<li data-label="${esc(t)}"><div class="lrow"><span class="ltext">${esc(t)}</span>
      <span class="lscore">${p == null ? "–" : pct(p)}</span>
      ${custom ? `<button class="ghost small edit" title="rename">Edit</button><button class="ghost small danger remove" title="remove">Remove</button>` : ""}</div>
      <div class="lbar"><span style="width:${Math.round(100 * (p || 0))}%;background:${colorOf(t)}"></span></div></li>`;
}
function renderLabels() {
  const { builtin, custom } = state.labels;
  $("#custom").innerHTML = custom.length ? custom.map((t) => labelRow(t, true)).join("") : `<li class="empty">No labels of your own yet.</li>`;
  $("#builtin").innerHTML = builtin.map((t) => labelRow(t, false)).join("");
  $("#custom").querySelectorAll(".remove").forEach((b) => b.addEventListener("click", async (e) => {
    const t = e.target.closest("li").dataset.label;
    try { state.labels = await api("DELETE", `/api/labels?text=${encodeURIComponent(t)}`); renderLabels(); toast(`Removed “${t}”`); } catch (err) { toast(err.message, true); }
  }));
  $("#custom").querySelectorAll(".edit").forEach((b) => b.addEventListener("click", async (e) => {
    const t = e.target.closest("li").dataset.label;
    const n = prompt("Rename label", t);
    if (!n || n === t) return;
    try { state.labels = await api("PUT", "/api/labels", { old: t, new: n }); renderLabels(); } catch (err) { toast(err.message, true); }
  }));
}
function updateScores() {
  document.querySelectorAll("#custom li[data-label], #builtin li[data-label]").forEach((li) => {
    const p = state.scores[li.dataset.label];
    li.querySelector(".lscore").textContent = p == null ? "–" : pct(p);
    li.querySelector(".lbar span").style.width = `${Math.round(100 * (p || 0))}%`;
  });
}
$("#addlabel").addEventListener("submit", async (e) => {
  e.preventDefault();
  const input = $("#newlabel"), text = input.value.trim();
  if (!text) return;
  try { state.labels = await api("POST", "/api/labels", { text }); input.value = ""; renderLabels(); toast(`Added “${text}”: scored from the next window`); }
  catch (err) { toast(err.message, true); }
});

// -- history ---------------------------------------------------------------------------------------
async function loadSessions() {
  const ul = $("#sessions");
  try {
    const { sessions } = await api("GET", "/api/sessions");
    if (!sessions.length) { ul.innerHTML = `<li class="empty">No sessions yet.</li>`; return; }
    ul.innerHTML = sessions.map((s) => {
      const end = s.ended_at_s || s.last_data_s, dur = end ? Math.round(end - s.started_at_s) : 0;
      const live = !s.ended_at_s && s.id === state.snapshot?.session_id;
      return `<li data-id="${s.id}"><div><b>${new Date(s.started_at_s * 1000).toLocaleString()}</b>${live ? ` <span class="tag">live</span>` : ""}
        <div class="meta">${s.devices.map((d) => pretty(d.placement)).join(" · ")}</div></div>
        <div class="right"><b>${Math.floor(dur / 60)}:${String(dur % 60).padStart(2, "0")}</b><div class="meta">${s.n_labels} labels</div></div></li>`;
    }).join("");
    ul.querySelectorAll("li[data-id]").forEach((li) => li.addEventListener("click", () => openSession(li.dataset.id)));
  } catch (err) { ul.innerHTML = `<li class="warn">${esc(err.message)}</li>`; }
}
async function openSession(id) {
  const doc = await api("GET", `/api/sessions/${id}`);
  const s = doc.session;
  $("#history-list").classList.add("hidden"); $("#history-detail").classList.remove("hidden");
  $("#hd-title").textContent = `Session ${s.id} · ${new Date(s.started_at_s * 1000).toLocaleString()}`;
  $("#hd-meta").textContent = `${s.devices.map((d) => `${pretty(d.placement)} (${d.device_type})`).join(", ")} · ${s.n_samples} samples · ${s.n_labels} labels`;
  renderTimeline($("#hd-timeline"), $("#hd-changes"), doc.timeline);
  $("#hd-captions").innerHTML = doc.captions.length ? doc.captions.slice(-8).reverse().map((c) => `<li><q>${esc(c.text)}</q><span>${clock(c.t_end_s)}</span></li>`).join("") : `<li class="empty">No captions.</li>`;
  $("#hd-json").href = `/api/sessions/${id}/export.json`;
  $("#hd-csv").href = `/api/sessions/${id}/export.zip`;
}
$("#back").addEventListener("click", () => { $("#history-detail").classList.add("hidden"); $("#history-list").classList.remove("hidden"); });

// -- WebSocket -------------------------------------------------------------------------------------
function setStatus(text, st) { const el = $("#status"); el.textContent = text; el.dataset.state = st; }
function connect() {
  const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`);
  ws.onmessage = (m) => {
    const ev = JSON.parse(m.data);
    switch (ev.type) {
      case "snapshot":
        state.snapshot = ev; state.hop = ev.hop_s || 1;
        state.label = ev.label; state.captions = ev.captions.slice().reverse(); state.timeline = ev.timeline;
        state.devices = ev.devices; state.labels = ev.labels; state.scores = (ev.label && ev.label.scores) || {};
        renderLabel(); renderCaptions(); renderTimeline($("#timeline"), $("#changes"), state.timeline, $("#tl-span"));
        renderIdle(ev);
        renderDevices(); renderLabels();
        setStatus(ev.state === "streaming" ? "live" : ev.error ? "error" : "idle", ev.state === "streaming" ? "live" : ev.error ? "error" : "idle");
        break;
      case "label":
        state.label = ev; state.scores = ev.scores || {};
        addToTimeline(ev); renderLabel(); updateScores();
        renderTimeline($("#timeline"), $("#changes"), state.timeline, $("#tl-span"));
        break;
      case "caption": state.captions.unshift(ev); state.captions.length = Math.min(state.captions.length, 10); renderCaptions(); break;
      case "signal": addSignal(ev.series); schedulePlot(); break;
      case "devices": state.devices = ev.devices; renderDevices(); break;
      case "labels": state.labels = ev; renderLabels(); break;
      case "session":
        if (ev.state === "streaming" && !state.label) { $("#label").textContent = "waiting for the first window…"; $("#herometa").textContent = "Labels appear 5 s after the wearables stream."; }
        if (ev.state === "streaming") { state.timeline = []; state.series = {}; state.snapshot && (state.snapshot.session_id = ev.session_id); }
        setStatus(ev.state === "streaming" ? "live" : ev.error ? "error" : "idle", ev.state === "streaming" ? "live" : ev.error ? "error" : "idle");
        if (ev.error) toast(ev.error, true);
        break;
    }
  };
  ws.onopen = () => setStatus("connected", "idle");
  ws.onclose = () => { setStatus("offline", "error"); setTimeout(connect, 1500); };
}
window.addEventListener("resize", schedulePlot);
connect();
showTab((location.hash || "#live").slice(1).replace(/[^a-z]/g, "") || "live");
