// Clearwatch console: small helpers over the JSON API. The CSRF token comes from the page's <meta>.
"use strict";
const csrf = document.querySelector('meta[name="csrf"]')?.content || "";
const $ = (sel, root = document) => root.querySelector(sel);
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
const fmt = (t) => (t ? new Date(t).toLocaleString() : "");

async function api(path, opts = {}) {
  const headers = Object.assign({ "X-CSRF-Token": csrf }, opts.headers || {});
  if (opts.json !== undefined) { headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(opts.json); }
  const r = await fetch(path, Object.assign({}, opts, { headers, credentials: "same-origin" }));
  if (r.status === 401) { location.href = "/login"; throw new Error("not logged in"); }
  if (!r.ok) {
    let msg = r.statusText;
    try { const body = await r.json(); msg = typeof body.detail === "string" ? body.detail : (body.detail?.problems || [body.detail?.message || JSON.stringify(body.detail)]).join("; "); } catch (e) { /* not JSON */ }
    throw new Error(msg);
  }
  return r.status === 204 ? null : r.headers.get("content-type")?.includes("json") ? r.json() : r.blob();
}

function table(rows, cols) {
  if (!rows.length) return '<p class="muted">Nothing yet.</p>';
  return "<table><thead><tr>" + cols.map((c) => `<th>${esc(c[0])}</th>`).join("") + "</tr></thead><tbody>" +
    rows.map((r) => "<tr>" + cols.map((c) => `<td>${c[1](r)}</td>`).join("") + "</tr>").join("") + "</tbody></table>";
}

// live grid: camera states
async function livePage() {
  // the grid: each camera's sub-stream where it has one (else its main stream), MJPEG where that cannot play
  document.querySelectorAll("video.live-video[data-camera]").forEach((v) => {
    const cam = v.dataset.camera;
    liveVideo(v, $(`img.live[data-camera="${cam}"]`), $(`[data-mode-for="${cam}"]`), cam, "auto");
  });
  const cams = await api("/api/cameras");
  for (const c of cams) {
    const el = document.querySelector(`[data-state-for="${c.name}"]`);
    if (el) { el.textContent = c.state; el.className = "state state-" + c.state; }
  }
}

// live video at the camera's own quality: its packets as fMP4 over a WebSocket into Media Source Extensions;
// the MJPEG picture (analytics size, masks burned in) when the browser or the stream cannot do that, saying why.
// With sound (asked for, and served only where the camera's sound is recorded) each binary message starts with
// its track's byte (0 pictures, 1 sound) and each track has its own SourceBuffer. Returns a function that stops it.
function liveVideo(video, img, note, cam, stream = "main", sound = false) {
  let ws = null, sb = null, asb = null, queue = [], aqueue = [], done = false;
  const mjpeg = `/api/cameras/${encodeURIComponent(cam)}/live.mjpeg`;
  function fallback(why, retry = false) {
    // a camera that is away comes back: its live stream is asked for again (onclose), the picture shown meanwhile;
    // a view stopped meanwhile stays stopped
    if (!retry) done = true;
    video.hidden = true; img.hidden = false;
    if (!img.getAttribute("src")) img.src = mjpeg;
    note.textContent = `MJPEG fallback: ${why}`; note.dataset.mode = "mjpeg";
  }
  if (!window.MediaSource) { fallback("this browser has no Media Source Extensions"); return () => {}; }
  function append(buffer, parts) {
    if (!buffer || buffer.updating || !parts.length) return;
    const total = parts.reduce((n, b) => n + b.byteLength, 0), buf = new Uint8Array(total);
    let at = 0;
    for (const b of parts) { buf.set(b, at); at += b.byteLength; }
    parts.length = 0;
    try { buffer.appendBuffer(buf); } catch (e) { ws && ws.close(); }
  }
  function pump() { append(sb, queue); append(asb, aqueue); }
  function keepLive() {
    const r = sb.buffered;
    if (!r.length) return;
    const start = r.start(r.length - 1), end = r.end(r.length - 1);
    // at the live edge: never let a delay build up, and jump over a gap left by skipped frames
    if (video.currentTime < start || end - video.currentTime > 0.8) video.currentTime = Math.max(start, end - 0.1);
    for (const b of [sb, asb]) {
      if (b && !b.updating && b.buffered.length && video.currentTime - b.buffered.start(0) > 30) b.remove(b.buffered.start(0), video.currentTime - 10);
    }
    if (video.paused) video.play().catch(() => {});
  }
  function open() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    ws = new WebSocket(`${proto}//${location.host}/api/cameras/${encodeURIComponent(cam)}/live.ws?stream=${stream}${sound ? "&audio=true" : ""}`);
    ws.binaryType = "arraybuffer";
    let tracks = false, hear = false;  // whether messages carry a track byte; whether the sound is played
    ws.onmessage = (m) => {
      if (typeof m.data !== "string") {
        const data = new Uint8Array(m.data);
        if (!tracks) queue.push(data);
        else if (data[0] === 0) queue.push(data.subarray(1));
        else if (hear) aqueue.push(data.subarray(1));  // a sound this browser cannot play is dropped
        pump();
        return;
      }
      const info = JSON.parse(m.data);
      if (info.fallback) { fallback(info.fallback, info.retry); ws.close(); return; }
      const type = `video/mp4; codecs="${info.codec}"`;
      if (!MediaSource.isTypeSupported(type)) { fallback(`this browser cannot play ${info.codec}`); ws.close(); return; }
      tracks = !!info.audio;
      const atype = tracks ? `audio/mp4; codecs="${info.audio}"` : null;
      hear = tracks && MediaSource.isTypeSupported(atype);
      const ms = new MediaSource();
      video.src = URL.createObjectURL(ms);
      ms.addEventListener("sourceopen", () => {
        sb = ms.addSourceBuffer(type);
        sb.addEventListener("updateend", () => { keepLive(); pump(); });
        if (hear) {
          asb = ms.addSourceBuffer(atype);
          asb.timestampOffset = info.audio_offset;  // puts the sound on the pictures' clock
          asb.addEventListener("updateend", pump);
        }
        pump();
      }, { once: true });
      img.hidden = true; img.removeAttribute("src"); video.hidden = false;
      const heard = !sound ? "" : hear ? `, with sound (${info.audio})` : tracks ? `, without sound (this browser cannot play ${info.audio})` : ", without sound (none recorded from this camera)";
      note.textContent = `the camera's own ${info.stream} stream: ${info.width}×${info.height}, not re-encoded${heard}`;
      note.dataset.mode = "mse";
      note.dataset.sound = hear ? info.audio : "";
    };
    ws.onclose = () => { sb = asb = null; queue = []; aqueue = []; if (!done) setTimeout(open, 1000); };
  }
  open();
  return () => { done = true; if (ws) ws.close(); };
}

// camera page: live, and playback as one timeline across the recorded segments (no re-encoding: each segment
// is the recorded file itself, played in turn; gaps are skipped and said so)
const PREROLL = 2000;  // ms of footage shown before an event picked on the timeline
const localInput = (t) => new Date(t - new Date(t).getTimezoneOffset() * 60e3).toISOString().slice(0, 19);

async function cameraPage() {
  const lv = $("#live-video"), hear = $("#live-sound");
  if (lv) {
    let stop = liveVideo(lv, $("#live-mjpeg"), $("#live-mode"), lv.dataset.camera);
    // sound on request only: the stream is opened again with it (the audit trail says who listened), muted again without
    if (hear) hear.addEventListener("click", () => {
      const on = hear.getAttribute("aria-pressed") !== "true";
      stop();
      lv.muted = !on;
      hear.setAttribute("aria-pressed", String(on));
      hear.textContent = on ? "Sound off" : "Sound on";
      stop = liveVideo(lv, $("#live-mjpeg"), $("#live-mode"), lv.dataset.camera, "main", on);
    });
  }
  const box = $("#timeline"), cam = box.dataset.camera, v = $("#player"), playing = $("#playing"), gapNote = $("#gap-note");
  const end = Date.now();
  const tl = await api(`/api/cameras/${cam}/timeline?start=${new Date(end - 24 * 3600e3).toISOString()}&end=${new Date(end).toISOString()}`);
  const segs = tl.segments.map((s) => Object.assign({}, s, { t0: +new Date(s.start), t1: +new Date(s.end) })).sort((a, b) => a.t0 - b.t0);
  // events and alarms (an alarm's first sighting) are marks on the timeline alike
  const evs = tl.events.map((e) => Object.assign({}, e, { t0: +new Date(e.start) }))
    .concat((tl.alarms || []).map((a) => ({ id: a.id, kind: "alarm", label: a.title, start: a.start, t0: +new Date(a.start) })))
    .sort((a, b) => a.t0 - b.t0);
  const first = segs.length ? segs[0].t0 : end;
  let view = [Math.min(first, end - 600e3), end];  // the day's recordings (at least the last 10 minutes)
  let cur = null, rate = 1, dragging = false;
  const marks = { in: null, out: null };
  const pos = (t) => ((t - view[0]) / (view[1] - view[0])) * 100;
  const at = () => (cur ? cur.t0 + v.currentTime * 1000 : null);  // the wall time on screen

  function draw() {
    box.querySelectorAll(".seg, .ev").forEach((n) => n.remove());
    for (const s of segs) {
      if (s.t1 < view[0] || s.t0 > view[1]) continue;
      const d = document.createElement("div"), l = Math.max(0, pos(s.t0));
      d.className = "seg"; d.style.left = l + "%"; d.style.width = Math.max(0.15, Math.min(100, pos(s.t1)) - l) + "%";
      d.title = `${fmt(s.start)} – ${fmt(s.end)}`;
      box.appendChild(d);
    }
    evs.forEach((e, i) => {
      if (e.t0 < view[0] || e.t0 > view[1]) return;
      const m = document.createElement("div");
      m.className = e.kind === "alarm" ? "ev alarm" : "ev"; m.dataset.i = i; m.style.left = pos(e.t0) + "%"; m.title = `${e.label} ${fmt(e.start)}`;
      box.appendChild(m);
    });
    for (const [id, t] of [["#axis-start", view[0]], ["#axis-end", view[1]]]) {
      $(id).textContent = fmt(t);
      $(id).dataset.t = new Date(t).toISOString();
    }
    show();
  }
  function show(t = at()) {  // the cursor, and the marked range
    const c = $(".cursor", box);
    c.hidden = t === null || t < view[0] || t > view[1];
    if (!c.hidden) c.style.left = pos(t) + "%";
    const sel = $(".sel", box);
    sel.hidden = marks.in === null || marks.out === null;
    if (!sel.hidden) { sel.style.left = pos(marks.in) + "%"; sel.style.width = Math.max(0.2, pos(marks.out) - pos(marks.in)) + "%"; }
  }
  let pending = null;  // the start of a segment still loading: only the last one asked for applies
  function load(s, offset) {
    const same = cur === s;
    cur = s;
    if (pending) v.removeEventListener("loadedmetadata", pending);
    const go = () => { pending = null; v.currentTime = offset; v.playbackRate = rate; v.play().catch(() => {}); };
    if (same && v.readyState >= 1) { go(); return; }
    pending = go;
    v.addEventListener("loadedmetadata", go, { once: true });
    v.src = `/api/recordings/${s.id}/video`;
    v.defaultPlaybackRate = rate;
  }
  function gap(from, to) {
    gapNote.textContent = `nothing recorded ${fmt(from)} – ${fmt(to)} (${Math.round((to - from) / 1000)} s): skipped`;
  }
  function seek(t) {
    const s = segs.find((x) => t < x.t1);  // the segment holding t, or the next one after a gap
    if (!s) { gapNote.textContent = `nothing recorded after ${fmt(t)}`; return; }
    if (t < s.t0) gap(t, s.t0); else gapNote.textContent = "";
    load(s, Math.max(0, (t - s.t0) / 1000));
  }
  v.addEventListener("ended", () => {
    const next = segs[segs.indexOf(cur) + 1];
    if (!next) { gapNote.textContent = "end of the recordings"; return; }
    if (next.t0 - cur.t1 > 1000) gap(cur.t1, next.t0); else gapNote.textContent = "";
    load(next, 0);
  });
  v.addEventListener("timeupdate", () => {
    const t = at();
    if (t === null) return;
    playing.textContent = new Date(t).toLocaleString();
    playing.dataset.time = new Date(t).toISOString();
    if (!dragging) show(t);
  });
  // scrubbing: drag along the timeline, play from where it is let go; a click on an event plays it
  const timeAt = (e) => { const r = box.getBoundingClientRect(); return view[0] + Math.min(1, Math.max(0, (e.clientX - r.left) / r.width)) * (view[1] - view[0]); };
  let pressed = null;  // where the pointer went down, and on which event mark (the captured pointer's up is the box's)
  box.addEventListener("pointerdown", (e) => {
    dragging = true; pressed = { x: e.clientX, mark: e.target.closest(".ev") };
    box.setPointerCapture(e.pointerId); show(timeAt(e));
  });
  box.addEventListener("pointermove", (e) => { if (dragging) { show(timeAt(e)); playing.textContent = new Date(timeAt(e)).toLocaleString(); } });
  box.addEventListener("pointerup", (e) => {
    dragging = false;
    const mark = pressed && Math.abs(e.clientX - pressed.x) < 4 ? pressed.mark : null;
    seek(mark ? evs[+mark.dataset.i].t0 - PREROLL : timeAt(e));
  });
  document.querySelectorAll(".transport .speed").forEach((b) => b.addEventListener("click", () => {
    rate = +b.dataset.rate;
    v.playbackRate = v.defaultPlaybackRate = rate;
    document.querySelectorAll(".transport .speed").forEach((x) => x.classList.toggle("on", x === b));
  }));
  document.querySelectorAll(".zoom button").forEach((b) => b.addEventListener("click", () => {
    const span = +b.dataset.minutes * 60e3, t = at() ?? end, from = Math.min(t - span / 2, end - span);
    view = span >= 1440 * 60e3 ? [Math.min(first, end - 600e3), end] : [from, from + span];  // around what plays
    document.querySelectorAll(".zoom button").forEach((x) => x.classList.toggle("on", x === b));
    draw();
  }));
  const list = $("#segments");
  segs.forEach((s) => {
    const li = document.createElement("li");
    li.innerHTML = `<a href="#" data-segment="${s.id}">${esc(fmt(s.start))}</a> <small>${s.duration.toFixed(1)} s</small>`;
    li.querySelector("a").onclick = (e) => { e.preventDefault(); seek(s.t0); };
    list.prepend(li);
  });
  const evList = $("#event-marks");
  evs.forEach((e) => {
    const li = document.createElement("li");
    li.innerHTML = `<a href="#">${esc(e.label)}</a> <small>${esc(e.kind)} ${esc(fmt(e.start))}</small>`;
    li.querySelector("a").onclick = (ev) => { ev.preventDefault(); seek(e.t0 - PREROLL); };
    evList.appendChild(li);
  });
  draw();
  // export from the timeline: the marked range goes into the export form, which asks why
  const form = $("#export-form");
  for (const which of ["in", "out"]) {
    const b = $(`#mark-${which}`);
    if (!b) continue;
    b.addEventListener("click", () => {
      const t = at();
      if (t === null || !form) return;
      marks[which] = t;
      if (marks.in !== null && marks.out !== null && marks.out < marks.in) [marks.in, marks.out] = [marks.out, marks.in];
      if (marks.in !== null) form.start.value = localInput(marks.in);
      if (marks.out !== null) form.end.value = localInput(marks.out);
      $("#export-panel").open = true;
      show();
    });
  }
  if (form) form.onsubmit = async (e) => {
    e.preventDefault();
    const f = new FormData(form), status = $("#export-status");
    status.textContent = "exporting…";
    try {
      const got = await api(`/api/cameras/${cam}/export`, { method: "POST", json: { start: new Date(f.get("start")).toISOString(), end: new Date(f.get("end")).toISOString(), justification: f.get("justification"), redact: f.getAll("redact"), approval: f.get("approval") || null } });
      if (got && got.approval && !(got instanceof Blob)) { status.textContent = `waiting for a second person's approval: request ${got.approval}`; form.approval.value = got.approval; return; }
      let file = got;
      while (!(file instanceof Blob)) {  // a long re-encode: ask after the job until the file is there
        status.textContent = "re-encoding the export…";
        await new Promise((r) => setTimeout(r, 2000));
        file = await api(`/api/exports/${got.job}`);
      }
      const a = document.createElement("a"); a.href = URL.createObjectURL(file); a.download = `${cam}.mp4`; a.click();
      status.textContent = "done";
    } catch (err) { status.textContent = err.message; }
  };
}

// events: filters, paging, live updates
function eventRow(e, fresh) {
  const tr = document.createElement("tr");
  tr.dataset.id = e.id;
  if (fresh) tr.className = "fresh";
  const snap = e.snapshot ? `<img loading="lazy" src="/api/events/${e.id}/snapshot.jpg" alt="">` : "";
  const who = e.identity_name ? `${esc(e.identity_name)} <small>${(e.similarity ?? 0).toFixed(2)}</small>` : "";
  tr.innerHTML = `<td>${snap}</td><td>${esc(fmt(e.start))}</td><td>${e.end ? esc(fmt(e.end)) : '<span class="state-streaming">ongoing</span>'}</td>${document.body.dataset.central ? `<td class="site">${esc(e.site)}</td>` : ""}<td>${esc(e.camera)}</td><td>${esc(e.kind)}</td><td>${esc(e.label)}</td><td>${(e.score || 0).toFixed(2)}</td><td>${esc((e.zones || []).join(", "))}</td><td>${who}</td>`;
  return tr;
}
async function eventsPage() {
  const form = $("#event-filters"), rows = $("#event-rows"), more = $("#more");
  let before = null, params = "";
  async function load(reset) {
    if (reset) { rows.innerHTML = ""; before = null; }
    const f = new FormData(form), q = new URLSearchParams();
    for (const [k, v] of f.entries()) if (v) q.set(k, k === "start" || k === "end" ? new Date(v).toISOString() : v);
    if (before) q.set("before", before);
    params = q.toString();
    const page = await api("/api/events?" + params);
    page.events.forEach((e) => rows.appendChild(eventRow(e, false)));
    before = page.next_before; more.hidden = !before;
  }
  for (const [k, v] of new URLSearchParams(location.search)) if (form.elements[k]) form.elements[k].value = v;
  form.onsubmit = (e) => { e.preventDefault(); load(true); };
  more.onclick = () => load(false);
  await load(true);
  const es = new EventSource("/api/events/stream/live");
  es.onopen = () => { $("#stream-state").textContent = "(live)"; };
  for (const type of ["start", "update", "end"]) {
    es.addEventListener(type, (msg) => {
      const e = JSON.parse(msg.data);
      const view = { id: e.id, camera: e.camera, kind: e.kind, label: e.label, start: e.start * 1000, end: e.end ? e.end * 1000 : null, score: e.score, zones: e.zones, identity_name: e.identity_name, similarity: e.similarity, snapshot: !!e.snapshot };
      const old = rows.querySelector(`tr[data-id="${e.id}"]`);
      const tr = eventRow(view, true);
      if (old) old.replaceWith(tr); else rows.prepend(tr);
    });
  }
}

// people
async function peoplePage() {
  const rows = $("#people-rows"), central = !!document.body.dataset.central;
  async function load() {
    const people = await api("/api/people");
    rows.innerHTML = people.map((p) => `<tr data-person="${esc(p.id)}"><td>${esc(p.name)}</td><td>${esc(p.external_ref)}</td><td>${p.templates}</td><td>${esc(p.watchlists.join(", "))}</td><td>${esc(p.legal_basis)}</td><td>${esc(p.enrolled_by)}</td><td><a href="/people/${esc(p.id)}/report">what we hold</a> ${central ? `<button data-push="${esc(p.id)}">Enrol at sites</button> ` : ""}<button class="danger" data-delete="${esc(p.id)}">Erase</button></td></tr>`).join("");
    rows.querySelectorAll("[data-push]").forEach((b) => b.onclick = async () => {
      const justification = prompt("Enrol this person at every site, with their watchlists. Why?");
      if (!justification || justification.trim().length < 3) return;
      const r = await api(`/api/sites/people/${b.dataset.push}/push`, { method: "POST", json: { justification } });
      $("#enrol-status").textContent = `sent to ${r.sites.join(", ")}; confirmed so far: ${Object.keys(r.confirmed).join(", ") || "none"}`;
    });
    rows.querySelectorAll("[data-delete]").forEach((b) => b.onclick = async () => {
      const why = prompt("Erase this person: templates, pictures, fingerprints and their identity in past events. Why (e.g. the erasure request's reference)?");
      if (!why || why.trim().length < 5) return;
      const receipt = await api(`/api/people/${b.dataset.delete}/erase`, { method: "POST", json: { why } });
      const a = document.createElement("a"); a.href = URL.createObjectURL(new Blob([JSON.stringify(receipt, null, 2)], { type: "application/json" }));
      a.download = `erasure-${receipt.person_id}.json`; a.click(); load();
    });
  }
  const form = $("#enrol-form");
  form.onsubmit = async (e) => {
    e.preventDefault();
    const status = $("#enrol-status");
    status.textContent = "enrolling…";
    try { const p = await api("/api/people", { method: "POST", body: new FormData(form) }); status.textContent = `enrolled ${p.name}`; form.reset(); load(); }
    catch (err) { status.textContent = err.message; status.className = "error"; }
  };
  load();
}

// a biometric search form: a note while it runs, then the result — or, where a second person must approve
// it first, the request to show them
function searchForm(form, out, url, busy, render) {
  if (!form) return;
  form.onsubmit = async (e) => {
    e.preventDefault();
    out.textContent = busy;
    try {
      const r = await api(url, { method: "POST", body: new FormData(form) });
      out.innerHTML = r.approval ? `<p>${esc(r.detail)} (request ${esc(r.approval)})</p>` : render(r);
    } catch (err) { out.innerHTML = `<p class="error">${esc(err.message)}</p>`; }
  };
}

async function searchPage() {
  searchForm($("#search-form"), $("#search-results"), "/api/faces/search", "searching…", (r) =>
    `<p class="muted">face quality ${r.quality.toFixed(2)}, threshold ${r.threshold}</p>` +
    table(r.candidates, [["name", (c) => `<span class="${c.match ? "match" : ""}">${esc(c.name)}</span>`], ["similarity", (c) => c.similarity.toFixed(3)], ["match", (c) => (c.match ? "yes" : "no")], ["watchlists", (c) => esc(c.watchlists.join(", "))]]));
}

// fingerprints: a person's fingers, enrolment, 1:1 and 1:N with the decision and its false match rate
const fmrText = (f) => (f >= 1 ? "any impostor" : `1 in ${Math.round(1 / Math.max(f, 1e-9)).toLocaleString()}`);
async function fingersPage() {
  const pick = $("#finger-person"), list = $("#finger-list"), status = $("#finger-status");
  const people = await api("/api/people");
  const options = people.map((p) => `<option value="${esc(p.id)}">${esc(p.name)}${p.external_ref ? " (" + esc(p.external_ref) + ")" : ""}</option>`).join("");
  pick.innerHTML = options;
  document.querySelectorAll(".person-choice").forEach((s) => (s.innerHTML = options));
  async function show() {
    if (!pick.value) { list.innerHTML = '<p class="muted">Enrol someone on the People page first.</p>'; return; }
    const rows = await api(`/api/people/${encodeURIComponent(pick.value)}/fingers`);
    list.innerHTML = table(rows, [["finger", (r) => `${r.finger} — ${esc(r.position)}`], ["minutiae", (r) => r.minutiae], ["from", (r) => esc(r.source)],
      ["image kept", (r) => (r.image_kept ? "yes" : "no")], ["enrolled", (r) => fmt(r.created_at)], ["", (r) => `<button class="danger" data-remove="${r.id}">Remove</button>`]]);
    list.querySelectorAll("[data-remove]").forEach((b) => b.onclick = async () => {
      if (!confirm("Remove this fingerprint from the registry?")) return;
      await api(`/api/people/${encodeURIComponent(pick.value)}/fingers/${b.dataset.remove}`, { method: "DELETE" }); show();
    });
  }
  pick.onchange = show;
  const enrol = $("#finger-enrol");
  enrol.onsubmit = async (e) => {
    e.preventDefault();
    status.className = ""; status.textContent = "extracting…";
    try {
      const r = await api(`/api/people/${encodeURIComponent(pick.value)}/fingers`, { method: "POST", body: new FormData(enrol) });
      status.textContent = `enrolled ${r.position} (${r.minutiae} minutiae)`; enrol.reset(); show();
    } catch (err) { status.textContent = err.message; status.className = "error"; }
  };
  searchForm($("#finger-verify"), $("#verify-result"), "/api/fingers/verify", "comparing…", (r) =>
    `<p class="${r.match ? "match" : ""}"><strong>${r.match ? "Match" : "No match"}</strong>: score ${r.score.toFixed(3)} (threshold ${r.threshold}); impostors score this high ${fmrText(r.fmr)} times</p>`);
  searchForm($("#finger-identify"), $("#identify-result"), "/api/fingers/identify", "searching…", (r) =>
    `<p class="muted">${r.minutiae} minutiae; threshold ${r.threshold}</p>` +
    table(r.candidates, [["name", (c) => `<span class="${c.match ? "match" : ""}">${esc(c.name)}</span>`], ["finger", (c) => c.finger], ["score", (c) => c.score.toFixed(3)],
      ["impostors this high", (c) => fmrText(c.fmr)], ["match", (c) => (c.match ? "yes" : "no")]]));
  show();
}

// plates: the latest reads (live), audited search, lists
function plateRow(r, fresh) {
  const tr = document.createElement("tr");
  tr.dataset.id = r.id;
  if (fresh) tr.className = "fresh";
  const crop = r.plate_snapshot ? `<img loading="lazy" src="/api/plates/${r.id}/plate.jpg" alt="">` : "";
  tr.innerHTML = `<td>${crop}</td><td><strong>${esc(r.plate)}</strong>${r.verified ? "" : ' <small class="muted">unverified</small>'}${r.distance ? ` <small>(${r.distance} off)</small>` : ""}</td><td>${esc(fmt(r.time))}</td><td>${esc(r.camera)}</td><td>${esc([r.colour, r.vehicle].filter(Boolean).join(" "))}</td><td>${esc(r.direction)}</td><td>${(r.confidence || 0).toFixed(2)}</td><td>${esc((r.lists || []).join(", "))}</td>`;
  return tr;
}
async function platesPage() {
  const rows = $("#plate-rows");
  (await api("/api/plates?limit=100")).forEach((r) => rows.appendChild(plateRow(r, false)));
  const es = new EventSource("/api/events/stream/live");
  es.onopen = () => { $("#stream-state").textContent = "(live)"; };
  es.addEventListener("end", (msg) => {
    const e = JSON.parse(msg.data);
    if (e.kind !== "plate") return;
    const d = e.data || {};
    rows.prepend(plateRow({ id: e.id, camera: e.camera, plate: e.label, time: e.start * 1000, confidence: e.score, verified: d.verified, vehicle: d.vehicle, colour: d.colour, direction: d.direction, lists: d.lists, plate_snapshot: d.plate_snapshot }, true));
  });
  const search = $("#plate-search");
  if (search) search.onsubmit = async (e) => {
    e.preventDefault();
    const out = $("#plate-results"), q = new URLSearchParams(new FormData(search));
    out.textContent = "searching…";
    try {
      const found = await api("/api/plates/search?" + q.toString());
      out.innerHTML = found.length ? "" : '<p class="muted">No read matches.</p>';
      if (found.length) {
        const t = document.createElement("table");
        t.innerHTML = "<thead><tr><th></th><th>plate</th><th>time</th><th>camera</th><th>vehicle</th><th>direction</th><th>confidence</th><th>lists</th></tr></thead>";
        const body = document.createElement("tbody");
        found.forEach((r) => body.appendChild(plateRow(r, false)));
        t.appendChild(body); out.appendChild(t);
      }
    } catch (err) { out.innerHTML = `<p class="error">${esc(err.message)}</p>`; }
  };
  const entryForm = $("#entry-form");
  async function showEntries(name) {
    entryForm.hidden = false; entryForm.dataset.list = name; $("#entry-list").textContent = name;
    const list = await api(`/api/plates/lists/${encodeURIComponent(name)}/entries`);
    $("#list-entries").innerHTML = table(list, [["plate", (e) => esc(e.plate)], ["valid from", (e) => esc(fmt(e.valid_from))], ["valid until", (e) => esc(fmt(e.valid_until))], ["note", (e) => esc(e.note)], ["added by", (e) => esc(e.added_by)], ["", (e) => `<button class="danger" data-remove="${esc(e.plate)}">Remove</button>`]]);
    $("#list-entries").querySelectorAll("[data-remove]").forEach((b) => b.onclick = async () => {
      await api(`/api/plates/lists/${encodeURIComponent(name)}/entries/${encodeURIComponent(b.dataset.remove)}`, { method: "DELETE" }); showEntries(name); loadLists();
    });
  }
  async function loadLists() {
    const lists = await api("/api/plates/lists");
    $("#plate-lists").innerHTML = table(lists, [["list", (l) => `<a href="#" data-open="${esc(l.name)}">${esc(l.name)}</a>`], ["kind", (l) => esc(l.kind)], ["plates", (l) => l.plates], ["description", (l) => esc(l.description)]]);
    $("#plate-lists").querySelectorAll("[data-open]").forEach((a) => a.onclick = (e) => { e.preventDefault(); showEntries(a.dataset.open); });
  }
  $("#list-form").onsubmit = async (e) => {
    e.preventDefault();
    const f = new FormData(e.target);
    try { await api("/api/plates/lists", { method: "POST", json: { name: f.get("name"), kind: f.get("kind"), description: f.get("description") } }); $("#list-status").textContent = "created"; e.target.reset(); loadLists(); }
    catch (err) { $("#list-status").textContent = err.message; }
  };
  entryForm.onsubmit = async (e) => {
    e.preventDefault();
    const f = new FormData(entryForm), iso = (v) => (v ? new Date(v).toISOString() : null);
    try { await api(`/api/plates/lists/${encodeURIComponent(entryForm.dataset.list)}/entries`, { method: "POST", json: { plate: f.get("plate"), valid_from: iso(f.get("valid_from")), valid_until: iso(f.get("valid_until")), note: f.get("note") } }); $("#entry-status").textContent = "added"; entryForm.reset(); showEntries(entryForm.dataset.list); loadLists(); }
    catch (err) { $("#entry-status").textContent = err.message; }
  };
  await loadLists();
}

// alarm desk: a live queue by priority, the clip beside the selected alarm, acknowledge / close with a note
function beep() {
  try {
    const ctx = new (window.AudioContext || window.webkitAudioContext)(), o = ctx.createOscillator(), g = ctx.createGain();
    o.frequency.value = 880; g.gain.value = 0.15; o.connect(g); g.connect(ctx.destination);
    o.start(); o.stop(ctx.currentTime + 0.35);
  } catch (e) { /* no audio here */ }
}
function alarmRow(a, fresh) {
  const tr = document.createElement("tr");
  tr.dataset.id = a.id; tr.dataset.priority = a.priority; tr.dataset.last = new Date(a.last_at).getTime();
  tr.className = "alarm" + (fresh ? " fresh" : "");
  const snap = a.snapshot ? `<img loading="lazy" src="/api/alarms/${a.id}/snapshot.jpg" alt="">` : "";
  tr.innerHTML = `<td><span class="prio prio-${a.priority}">${a.priority}</span></td><td>${snap}</td><td>${esc(a.title)}${a.escalated_at ? ' <small class="error">escalated</small>' : ""}</td><td>${esc(a.camera)}</td><td>${esc(fmt(a.first_at))}</td><td>${esc(fmt(a.last_at))}</td><td>${a.count}</td><td class="state-${esc(a.state)}">${esc(a.state)}</td>`;
  return tr;
}
function placeAlarm(rows, tr) {
  // priority 1 first, newest first within a priority
  const p = +tr.dataset.priority, t = +tr.dataset.last;
  for (const other of rows.children) {
    if (other === tr) continue;
    const op = +other.dataset.priority, ot = +other.dataset.last;
    if (p < op || (p === op && t >= ot)) { rows.insertBefore(tr, other); return; }
  }
  rows.appendChild(tr);
}
async function alarmsPage() {
  const rows = $("#alarm-rows"), which = $("#alarm-state"), mute = $("#mute");
  mute.checked = localStorage.getItem("cw-mute") === "1";
  mute.onchange = () => localStorage.setItem("cw-mute", mute.checked ? "1" : "0");
  let selected = null;
  const wanted = (a) => which.value === "all" || a.state === which.value || (which.value === "open" && a.state !== "closed");
  async function show(id) {
    const a = await api(`/api/alarms/${id}`);
    selected = a.id;
    rows.querySelectorAll("tr.selected").forEach((r) => r.classList.remove("selected"));
    rows.querySelector(`tr[data-id="${a.id}"]`)?.classList.add("selected");
    $("#alarm-detail").hidden = false;
    $("#alarm-title").textContent = a.title;
    $("#alarm-meta").textContent = `priority ${a.priority} · ${a.state}` + (a.acked_by ? ` · acknowledged by ${a.acked_by}: ${a.ack_note || ""}` : "") + (a.closed_by ? ` · closed by ${a.closed_by}: ${a.close_note || ""}` : "") + ` · rule ${a.rule} · seen ${a.count}×`;
    const v = $("#alarm-clip"), img = $("#alarm-snapshot");
    if (a.clip) { v.hidden = false; v.src = `/api/recordings/${a.clip.segment}/video#t=${a.clip.offset.toFixed(1)}`; $("#alarm-clip-note").textContent = `clip from ${fmt(a.clip.start)}`; v.play().catch(() => {}); }
    else { v.hidden = true; v.removeAttribute("src"); $("#alarm-clip-note").textContent = "no recording of this moment"; }
    img.hidden = !a.snapshot; if (a.snapshot) img.src = `/api/alarms/${a.id}/snapshot.jpg`;
  }
  async function load() {
    rows.innerHTML = "";
    const list = await api(`/api/alarms?state=${which.value}`);
    list.forEach((a) => rows.appendChild(alarmRow(a, false)));
  }
  rows.onclick = (e) => { const tr = e.target.closest("tr[data-id]"); if (tr) show(tr.dataset.id); };
  which.onchange = load;
  await load();
  const es = new EventSource("/api/alarms/stream/live");
  es.onopen = () => { $("#stream-state").textContent = "(live)"; };
  for (const type of ["new", "repeat", "ack", "close", "escalated"]) {
    es.addEventListener(type, (msg) => {
      const a = JSON.parse(msg.data);
      const old = rows.querySelector(`tr[data-id="${a.id}"]`);
      if (!wanted(a)) { if (old) old.remove(); return; }
      const tr = alarmRow(a, type === "new" || type === "escalated");
      if (old) old.replaceWith(tr);
      placeAlarm(rows, tr);
      if (a.id === selected) tr.classList.add("selected");
      if ((type === "new" || type === "escalated") && a.priority <= 2 && !mute.checked) beep();
    });
  }
  const act = $("#alarm-act");
  if (act) act.onsubmit = async (e) => {
    e.preventDefault();
    const what = e.submitter?.value || "ack", status = $("#alarm-status");
    try { await api(`/api/alarms/${selected}/${what}`, { method: "POST", json: { note: new FormData(act).get("note") || "" } }); status.textContent = what === "ack" ? "acknowledged" : "closed"; show(selected); }
    catch (err) { status.textContent = err.message; }
  };
  await schedules();
}
async function schedules() {
  const list = await api("/api/schedules");
  $("#schedules").innerHTML = table(list, [["schedule", (s) => esc(s.name)], ["now", (s) => (s.on ? '<span class="state-new">armed</span>' : "off")], ["by", (s) => (s.manual ? `hand: ${esc(s.manual)} by ${esc(s.by)} (${esc(s.reason)})${s.until ? " until " + esc(fmt(s.until)) : ""}` : "weekly schedule")], ["time zone", (s) => esc(s.timezone)]]);
  const form = $("#arm-form");
  if (!form) return;
  const sel = form.querySelector("select");
  if (!sel.options.length) list.forEach((s) => sel.add(new Option(s.name, s.name)));
  form.onsubmit = async (e) => {
    e.preventDefault();
    const f = new FormData(form), mode = e.submitter?.value || "arm", until = f.get("until");
    try { await api(`/api/schedules/${f.get("schedule")}/${mode}`, { method: "POST", json: { why: f.get("why"), until: until ? new Date(until).toISOString() : null } }); $("#arm-status").textContent = "done"; schedules(); }
    catch (err) { $("#arm-status").textContent = err.message; }
  };
}

const TABLES = {
  sites: async () => {
    const rows = await api("/api/sites");
    const ago = (t) => (t ? `${Math.max(0, Math.round((Date.now() - new Date(t)) / 1000))} s ago` : "never");
    return table(rows, [["site", (s) => esc(s.name)], ["link", (s) => `<span class="state-${s.link === "up" ? "streaming" : "offline"}" data-link="${esc(s.link)}">${esc(s.link)}</span> <small>${esc(s.link === "up" ? "" : s.link_error || "")}</small>`], ["backlog", (s) => s.backlog], ["last message", (s) => esc(ago(s.last_message_at))], ["cameras up", (s) => `${s.cameras_up} / ${s.cameras.length}`], ["applied", (s) => s.applied], ["repeats", (s) => s.duplicates], ["gaps", (s) => s.gaps], ["events", (s) => `<a href="/events?site=${encodeURIComponent(s.name)}">events</a>`]]);
  },
  machines: async () => {
    const r = await api("/api/machines");
    const h = (s) => (s / 3600).toFixed(2) + " h";
    return "<h2>Machines</h2>" + table(r.machines, [["camera", (m) => esc(m.camera)], ["machine", (m) => esc(m.name)], ["state", (m) => esc(m.state || "unknown")], ["running (24 h)", (m) => h(m.running_s_24h)], ["idle", (m) => h(m.idle_s_24h)], ["stopped", (m) => h(m.stopped_s_24h)], ["starts", (m) => m.starts_24h], ["stops", (m) => m.stops_24h]]) +
      "<h2>Counters</h2>" + table(r.counters, [["camera", (c) => esc(c.camera)], ["counter", (c) => esc(c.name)], ["in (24 h)", (c) => c.in_24h], ["out", (c) => c.out_24h]]);
  },
  system: async () => {
    const r = await api("/api/system");
    const mb = (b) => (b / 1e6).toFixed(1) + " MB";
    return table(r.cameras, [["camera", (c) => esc(c.camera)], ["state", (c) => `<span class="state-${esc(c.state)}">${esc(c.state)}</span>`], ["recording", (c) => esc(c.recording)], ["sound", (c) => esc(c.sound || "")], ["fps", (c) => c.fps_in.toFixed(1)], ["reconnects", (c) => c.reconnects], ["stored", (c) => mb(c.stored_bytes)], ["segments", (c) => c.segments], ["last error", (c) => esc(c.last_error)]]) +
      `<p class="muted">retention ${r.retention_days} days · quota ${r.max_size ? mb(r.max_size) : "none"} · keep free ${mb(r.min_free)} · registry ${r.registry ? "on" : "off"} · outbox ${esc(JSON.stringify(r.outbox))}</p>`;
  },
  audit: async () => {
    const rows = await api("/api/audit?limit=200");
    return table(rows, [["#", (r) => r.id], ["time", (r) => esc(r.ts)], ["who", (r) => `${esc(r.actor)} <small>${esc(r.role)}</small>`], ["action", (r) => esc(r.action)], ["target", (r) => esc(r.target)], ["why", (r) => esc(r.justification)], ["from", (r) => esc(r.address)], ["detail", (r) => `<small>${esc(r.detail)}</small>`]]);
  },
  approvals: async () => {
    const rows = await api("/api/approvals");
    return table(rows, [["id", (a) => esc(a.id)], ["action", (a) => esc(a.action)], ["what", (a) => `<small>${esc(JSON.stringify(a.params))}</small>`], ["asked by", (a) => esc(a.requested_by)], ["why", (a) => esc(a.reason)], ["expires", (a) => esc(fmt(a.expires_at))], ["", (a) => `<button data-approve="${esc(a.id)}">Approve</button> <button class="danger" data-reject="${esc(a.id)}">Reject</button>`]]);
  },
  users: async () => {
    const rows = await api("/api/users");
    return table(rows, [["name", (u) => esc(u.name)], ["role", (u) => esc(u.role)], ["cameras", (u) => esc(u.cameras ? u.cameras.join(", ") : "all")], ["disabled", (u) => (u.disabled ? "yes" : "")], ["created", (u) => esc(fmt(u.created_at))]]);
  },
};

async function tablePage() {
  const box = $("#table"), render = TABLES[box.dataset.source];
  const refresh = async () => { try { box.innerHTML = await render(); } catch (err) { box.innerHTML = `<p class="error">${esc(err.message)}</p>`; } };
  await refresh();
  if (box.dataset.source === "sites") setInterval(refresh, 2000);  // links go down and come back
  const verify = $("#verify");
  if (verify) verify.onclick = async () => {
    const r = await api("/api/audit/verify");
    $("#verify-result").textContent = r.ok ? `intact: ${r.records} records` : "BROKEN: " + r.problems.join("; ");
    $("#verify-result").className = r.ok ? "match" : "error";
  };
  box.onclick = async (e) => {
    const id = e.target.dataset?.approve || e.target.dataset?.reject;
    if (!id) return;
    try { await api(`/api/approvals/${id}/${e.target.dataset.approve ? "approve" : "reject"}`, { method: "POST" }); refresh(); }
    catch (err) { alert(err.message); }
  };
  const uf = $("#user-form");
  if (uf) uf.onsubmit = async (e) => {
    e.preventDefault();
    const f = new FormData(uf), cams = (f.get("cameras") || "").split(",").map((s) => s.trim()).filter(Boolean);
    try { const u = await api("/api/users", { method: "POST", json: { name: f.get("name"), role: f.get("role"), cameras: cams.length ? cams : null } }); $("#user-status").textContent = `created ${u.name}; password (shown once): ${u.password}`; refresh(); }
    catch (err) { $("#user-status").textContent = err.message; }
  };
}

const PAGES = { live: livePage, alarms: alarmsPage, camera: cameraPage, events: eventsPage, people: peoplePage, fingers: fingersPage, search: searchPage, plates: platesPage, sites: tablePage, machines: tablePage, system: tablePage, audit: tablePage, users: tablePage, approvals: tablePage };
document.addEventListener("DOMContentLoaded", () => { const f = PAGES[document.body.dataset.page]; if (f) f().catch((e) => console.error(e)); });
