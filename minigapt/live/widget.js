// minigapt live jam: the browser side of minigapt.live.widget.JamWidget (an anywidget ES module).
// Everything that must be instant lives here: your notes sound as the key goes down (samples the
// kernel rendered with the notebooks' soundfont), the clock and metronome run on the AudioContext,
// chords are scheduled on that clock from the kernel's plans, and the timeline is drawn. Once per
// 16th-note frame a tick goes to the kernel, which answers with the plan of the lookahead window.
// No imports and no network: this file is read from disk by the Python module.

const KEYS = { a: 0, w: 1, s: 2, e: 3, d: 4, f: 5, t: 6, g: 7, y: 8, h: 9, u: 10, j: 11, k: 12,
  o: 13, l: 14, p: 15, ";": 16, "'": 17 };
const NAMES = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"];
const MELODY_GAIN = 1.0, CHORD_GAIN = 1.0, SCHEDULE_AHEAD_S = 0.25, TICK_MS = 20;

function rootOf(name) {
  const two = NAMES.indexOf(name.slice(0, 2));
  return two >= 0 ? two : Math.max(0, NAMES.indexOf(name.slice(0, 1)));
}

function median(xs) {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function render({ model, el: host }) {
  // --- DOM -----------------------------------------------------------------------------------
  const root = el("div", "mg-jam");
  root.tabIndex = 0;
  root.setAttribute("data-lm-suppress-shortcuts", "true");
  host.appendChild(root);

  const bar = el("div", "mg-controls");
  const startBtn = el("button", "mg-start", "▶ Start");
  const modelSel = el("select", "mg-model");
  const field = (label, key, min, max, step) => {
    const wrap = el("label", "mg-field", label + " ");
    const input = el("input");
    Object.assign(input, { type: "number", min, max, step, value: model.get(key) });
    input.dataset.key = key;
    input.addEventListener("change", () => {
      const v = parseFloat(input.value);
      if (Number.isFinite(v)) { model.set(key, v); model.save_changes(); }
    });
    model.on("change:" + key, () => { input.value = model.get(key); });
    wrap.appendChild(input);
    return wrap;
  };
  const metro = el("label", "mg-field");
  const metroBox = el("input");
  metroBox.type = "checkbox";
  metroBox.checked = model.get("metronome");
  metroBox.addEventListener("change", () => { model.set("metronome", metroBox.checked); model.save_changes(); });
  metro.append(metroBox, document.createTextNode(" metronome"));
  bar.append(startBtn, el("span", "mg-label", "model"), modelSel,
    field("tempo", "tempo_bpm", 40, 200, 1), field("temperature", "temperature", 0, 1.5, 0.1),
    field("lookahead", "lookahead_beats", 1, 8, 1), field("commit", "commit_beats", 0, 8, 1),
    field("listen", "listen_beats", 0, 16, 1), metro);

  const canvas = el("canvas", "mg-timeline");
  canvas.width = 900; canvas.height = 210;
  const info = el("div", "mg-info");
  const statusLine = el("span", "mg-status", model.get("status") || "Click here, then press Start.");
  const statsLine = el("span", "mg-stats", "");
  info.append(statusLine, statsLine);
  const keyboard = el("div", "mg-keyboard");
  const hint = el("div", "mg-hint",
    "Keys: A W S E D F T G Y H U J K O L P ; ' play from C (Z / X: octave down / up). " +
    "A MIDI keyboard works too where the browser offers Web MIDI. Click the widget first.");
  root.append(bar, canvas, info, keyboard, hint);

  const fillModels = () => {
    const labels = model.get("model_labels") || {};
    modelSel.replaceChildren(...model.get("models").map((m) => {
      const o = el("option", "", labels[m] || m);
      o.value = m;
      return o;
    }));
    modelSel.value = model.get("model");
  };
  fillModels();
  model.on("change:models", fillModels);
  model.on("change:model", () => { modelSel.value = model.get("model"); });
  model.on("change:status", () => { statusLine.textContent = model.get("status"); });
  modelSel.addEventListener("change", () => { model.set("model", modelSel.value); model.save_changes(); });

  // --- state ---------------------------------------------------------------------------------
  const S = {
    ctx: null, audioClock: false, t0: 0, frameS: 60 / 80 / 4, listen: 32, lookahead: 16,
    session: null, running: false, starting: false, seq: 0, lastTick: -1, schedFrame: 0, nextBeat: 0,
    plan: new Map(), notes: [], held: new Map(), chord: null, octave: 60, rtt: [], kernel: [], up: [], down: [],
    late: 0, plans: 0, timer: null, raf: null, midi: 0, version: -1, onsets: 0, lastChord: null,
  };

  // --- sound ---------------------------------------------------------------------------------
  let pcm = null, index = null;
  const buffers = new Map();
  const loadBank = () => {
    try { index = JSON.parse(model.get("sample_index") || "{}"); } catch (e) { index = {}; }
    const raw = model.get("samples");
    pcm = null;
    if (raw && raw.byteLength) {
      const bytes = raw instanceof ArrayBuffer ? new Uint8Array(raw)
        : new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
      pcm = new Int16Array(bytes.slice().buffer);  // a copy: aligned for 16-bit reads
    }
    buffers.clear();
  };
  loadBank();
  model.on("change:samples", loadBank);

  const audio = () => {
    if (!S.ctx) S.ctx = new (window.AudioContext || window.webkitAudioContext)();
    if (S.ctx.state === "suspended") S.ctx.resume();
    return S.ctx;
  };
  const sampleFor = (part, pitch) => {
    const bank = index && index[part];
    if (!pcm || !bank) return null;
    let best = null;
    for (const p of Object.keys(bank)) {
      if (best === null || Math.abs(+p - pitch) < Math.abs(best - pitch)) best = +p;
    }
    const key = part + best;
    if (!buffers.has(key)) {
      const [offset, length] = bank[String(best)];
      const buf = S.ctx.createBuffer(1, length, index.rate);
      const data = buf.getChannelData(0);
      for (let i = 0; i < length; i++) data[i] = pcm[offset + i] / 32768;
      buffers.set(key, buf);
    }
    return { buf: buffers.get(key), rate: Math.pow(2, (pitch - best) / 12) };
  };
  const voice = (part, pitch, when, loop) => {
    const ctx = S.ctx, g = ctx.createGain();
    g.gain.value = part === "melody" ? MELODY_GAIN : CHORD_GAIN;
    g.connect(ctx.destination);
    const s = sampleFor(part, pitch);
    let src;
    if (s) {
      src = ctx.createBufferSource();
      src.buffer = s.buf;
      src.playbackRate.value = s.rate;
      if (loop && index.loop) { src.loop = true; src.loopStart = index.loop[0]; src.loopEnd = index.loop[1]; }
    } else {  // no samples were sent: a plain tone
      src = ctx.createOscillator();
      src.frequency.value = 440 * Math.pow(2, (pitch - 69) / 12);
      g.gain.value = part === "melody" ? 0.15 : 0.04;
    }
    src.connect(g);
    src.start(Math.max(when, ctx.currentTime));
    return { src, g };
  };
  const release = (v, when) => {
    const t = Math.max(when, S.ctx.currentTime);
    v.g.gain.setTargetAtTime(0, t, 0.06);
    try { v.src.stop(t + 0.5); } catch (e) { /* already stopped */ }
  };
  const click = (when, accent) => {
    const ctx = S.ctx, o = ctx.createOscillator(), g = ctx.createGain();
    o.frequency.value = accent ? 1600 : 1000;
    g.gain.setValueAtTime(accent ? 0.25 : 0.15, when);
    g.gain.exponentialRampToValueAtTime(0.001, when + 0.04);
    o.connect(g).connect(ctx.destination);
    o.start(when);
    o.stop(when + 0.05);
  };

  // --- the clock -----------------------------------------------------------------------------
  const now = () => (S.audioClock ? S.ctx.currentTime : performance.now() / 1000);
  const toAudio = (t) => (S.audioClock ? t : S.ctx.currentTime + (t - now()));
  const timeOf = (frame) => S.t0 + frame * S.frameS;
  const jamTime = () => now() - S.t0;

  // --- input ---------------------------------------------------------------------------------
  const noteOn = (pitch) => {
    if (pitch < 21 || pitch > 108 || S.held.has(pitch)) return;
    audio();
    const v = voice("melody", pitch, S.ctx.currentTime, false);
    const note = { pitch, start: S.running ? jamTime() : null, end: null };
    S.held.set(pitch, { v, note });
    if (S.running) {
      S.notes.push(note);
      model.send({ type: "note", session: S.session, on: true, pitch, time: Math.max(0, jamTime()) });
    }
    keyboard.querySelector(`[data-pitch="${pitch}"]`)?.classList.add("mg-down");
  };
  const noteOff = (pitch) => {
    const h = S.held.get(pitch);
    if (!h) return;
    S.held.delete(pitch);
    release(h.v, S.ctx.currentTime);
    if (S.running && h.note.start !== null) {
      h.note.end = jamTime();
      model.send({ type: "note", session: S.session, on: false, pitch, time: Math.max(0, jamTime()) });
    }
    keyboard.querySelector(`[data-pitch="${pitch}"]`)?.classList.remove("mg-down");
  };
  const onKey = (e, down) => {
    if (e.ctrlKey || e.metaKey || e.altKey || e.key === "Escape" || e.key === "Tab") return;
    e.stopPropagation();  // keeps JupyterLab's single-key shortcuts (a, b, d d, ...) from firing
    const k = e.key.toLowerCase();
    if (k in KEYS) {
      e.preventDefault();
      if (e.repeat) return;
      const pitch = S.octave + KEYS[k];
      down ? noteOn(pitch) : noteOff(pitch);
    } else if (down && (k === "z" || k === "x")) {
      e.preventDefault();
      S.octave = Math.min(96, Math.max(24, S.octave + (k === "z" ? -12 : 12)));
      buildKeyboard();
    }
  };
  root.addEventListener("keydown", (e) => onKey(e, true));
  root.addEventListener("keyup", (e) => onKey(e, false));
  root.addEventListener("keypress", (e) => { if (!(e.ctrlKey || e.metaKey || e.altKey)) e.stopPropagation(); });
  root.addEventListener("pointerdown", () => root.focus({ preventScroll: true }));
  root.addEventListener("focus", () => root.classList.add("mg-focus"));
  root.addEventListener("blur", () => {
    root.classList.remove("mg-focus");
    for (const p of [...S.held.keys()]) noteOff(p);
  });

  function buildKeyboard() {
    keyboard.replaceChildren();
    const letters = Object.fromEntries(Object.entries(KEYS).map(([k, v]) => [v, k.toUpperCase()]));
    for (let i = 0; i < 25; i++) {
      const pitch = S.octave + i, black = [1, 3, 6, 8, 10].includes(pitch % 12);
      const key = el("div", black ? "mg-key mg-black" : "mg-key mg-white", letters[i] || "");
      key.dataset.pitch = pitch;
      key.addEventListener("pointerdown", (e) => { e.preventDefault(); key.setPointerCapture?.(e.pointerId); noteOn(pitch); });
      key.addEventListener("pointerup", () => noteOff(pitch));
      key.addEventListener("pointercancel", () => noteOff(pitch));
      keyboard.appendChild(key);
    }
  }
  buildKeyboard();

  const midiMessage = (m) => {
    const [status, pitch, velocity] = m.data;
    const kind = status & 0xf0;
    if (kind === 0x90 && velocity > 0) noteOn(pitch);
    else if (kind === 0x80 || (kind === 0x90 && velocity === 0)) noteOff(pitch);
  };
  const enableMidi = () => {
    if (S.midi || !navigator.requestMIDIAccess) return;
    S.midi = -1;
    navigator.requestMIDIAccess().then((access) => {
      const bind = () => {
        S.midi = 0;
        for (const input of access.inputs.values()) { input.onmidimessage = midiMessage; S.midi++; }
      };
      bind();
      access.onstatechange = bind;
    }).catch(() => { S.midi = 0; });
  };

  // --- kernel messages -----------------------------------------------------------------------
  const applyPlan = (msg) => {
    S.plans++;
    S.version = msg.version;
    msg.chords.forEach((c, i) => {
      const f = msg.start + i, old = S.plan.get(f);
      if (old && old.committed) return;  // a committed chord never changes
      S.plan.set(f, c ? { name: c[0], onset: c[1], committed: msg.committed[i] }
        : { name: null, onset: false, committed: msg.committed[i] });
    });
  };
  model.on("msg:custom", (msg) => {
    if (msg.type === "started") {
      S.session = msg.session; S.frameS = msg.frame_s; S.listen = msg.listen_frames;
      S.lookahead = msg.lookahead_frames;
      S.plan.clear(); S.notes = []; S.rtt = []; S.kernel = []; S.up = []; S.down = []; S.late = 0; S.plans = 0; S.onsets = 0;
      S.lastTick = -1; S.schedFrame = 0; S.nextBeat = 0; S.seq = 0;
      S.t0 = now() + 0.3;
      S.running = true; S.starting = false;
      applyPlan(msg.plan);
      startBtn.textContent = "■ Stop";
      root.dataset.state = "running";
      S.timer = setInterval(schedule, TICK_MS);
    } else if (msg.type === "plan") {
      if (typeof msg.sent === "number") S.rtt.push(performance.now() - msg.sent);
      if (typeof msg.recv_epoch === "number" && typeof msg.sent_epoch === "number") {  // the two legs (one machine, one clock)
        S.up.push(msg.recv_epoch - msg.sent_epoch);
        S.down.push(performance.timeOrigin + performance.now() - msg.reply_epoch);
      }
      if (typeof msg.kernel_ms === "number") S.kernel.push(msg.kernel_ms);
      applyPlan(msg);
    } else if (msg.type === "stopped") {
      if (msg.status) statusLine.textContent = msg.status;
    } else if (msg.type === "error") {
      statusLine.textContent = msg.message;
      S.starting = false;
    }
  });

  const stats = () => ({
    round_trip_ms_median: median(S.rtt), round_trip_ms_max: S.rtt.length ? Math.max(...S.rtt) : null,
    round_trips: S.rtt.length, kernel_ms_median: median(S.kernel), late_chords: S.late, plans: S.plans,
    to_kernel_ms_median: median(S.up), from_kernel_ms_median: median(S.down),
    audio_clock: S.audioClock, midi_inputs: Math.max(0, S.midi), chord_onsets: S.onsets, last_chord: S.lastChord,
    notes_played: S.notes.length,
  });

  const start = async () => {
    if (S.running || S.starting) return;
    S.starting = true;
    const ctx = audio();
    try { await ctx.resume(); } catch (e) { /* no sound, the clock still runs */ }
    S.audioClock = ctx.state === "running";
    enableMidi();
    root.focus({ preventScroll: true });
    const settings = {};
    for (const input of bar.querySelectorAll("input[type=number]")) settings[input.dataset.key] = parseFloat(input.value);
    model.send({ type: "start", session: String(Date.now()), model: modelSel.value, ...settings });
  };
  const stop = () => {
    if (!S.running) return;
    S.running = false;
    clearInterval(S.timer);
    if (S.chord) { S.chord.voices.forEach((v) => release(v, S.ctx.currentTime)); S.chord = null; }
    model.send({ type: "stop", session: S.session, stats: stats() });
    startBtn.textContent = "▶ Start";
    root.dataset.state = "stopped";
  };
  startBtn.addEventListener("click", () => (S.running ? stop() : start()));

  // --- the scheduler: ticks to the kernel, metronome and chords on the audio clock ------------
  const startChord = (name, when) => {
    const voicing = (model.get("voicings") || {})[name] || [];
    S.onsets++;
    S.lastChord = name;
    return { name, voices: voicing.map((p) => voice("chords", p, when, true)) };
  };
  function schedule() {
    if (!S.running) return;
    const t = now(), frame = Math.floor((t - S.t0) / S.frameS);
    if (frame > S.lastTick && frame >= 0) {
      S.lastTick = frame;
      model.send({ type: "tick", session: S.session, frame, seq: ++S.seq, sent: performance.now(),
        sent_epoch: performance.timeOrigin + performance.now() });
    }
    const horizon = t + SCHEDULE_AHEAD_S;
    while (timeOf(S.nextBeat * 4) < horizon) {
      if (metroBox.checked && timeOf(S.nextBeat * 4) >= t - 0.01) click(toAudio(timeOf(S.nextBeat * 4)), S.nextBeat % 4 === 0);
      S.nextBeat++;
    }
    while (timeOf(S.schedFrame) < horizon) {
      const f = S.schedFrame, e = S.plan.get(f), when = toAudio(timeOf(f));
      if (!e) {
        if (f >= S.listen) S.late++;  // no plan for a frame about to sound: keep what sounds
      } else if (!e.name) {
        if (S.chord) { S.chord.voices.forEach((v) => release(v, when)); S.chord = null; }
      } else if (e.onset || !S.chord || S.chord.name !== e.name) {
        if (S.chord) S.chord.voices.forEach((v) => release(v, when));
        S.chord = startChord(e.name, when);
      }
      S.schedFrame++;
    }
    for (const f of S.plan.keys()) if (f < frame - 256) S.plan.delete(f);
  }

  // --- the timeline ----------------------------------------------------------------------------
  const g = canvas.getContext("2d");
  function draw() {
    S.raf = requestAnimationFrame(draw);
    const W = canvas.width, H = canvas.height, ppf = 9, nowX = Math.round(W * 0.35);
    const nowF = S.running ? jamTime() / S.frameS : S.lastTick + 1;
    const x = (f) => nowX + (f - nowF) * ppf;
    const f0 = Math.floor(nowF - nowX / ppf), f1 = Math.ceil(nowF + (W - nowX) / ppf);
    g.clearRect(0, 0, W, H);
    g.fillStyle = "#fafafa"; g.fillRect(0, 0, W, H);
    if (x(S.listen) > 0) {
      g.fillStyle = "#ececec"; g.fillRect(0, 0, Math.min(W, x(S.listen)), H);
      g.fillStyle = "#888"; g.font = "12px sans-serif";
      g.fillText("listening", Math.max(4, x(0) + 4), H - 6);
    }
    for (let f = Math.max(0, f0 - (f0 % 4)); f <= f1; f += 4) {
      g.strokeStyle = f % 16 === 0 ? "#bbb" : "#e0e0e0";
      g.beginPath(); g.moveTo(x(f) + 0.5, 0); g.lineTo(x(f) + 0.5, H); g.stroke();
    }
    // chords: committed solid, planned faded
    let f = Math.max(0, f0);
    while (f <= f1) {
      const e = S.plan.get(f);
      if (!e || !e.name) { f++; continue; }
      let end = f + 1;
      while (end <= f1) {
        const n = S.plan.get(end);
        if (!n || n.name !== e.name || n.onset || n.committed !== e.committed) break;
        end++;
      }
      g.globalAlpha = e.committed ? 1 : 0.35;
      g.fillStyle = `hsl(${rootOf(e.name) * 30}, 55%, 55%)`;
      g.fillRect(x(f) + 1, 6, (end - f) * ppf - 2, 40);
      g.fillStyle = "#111"; g.font = "bold 13px sans-serif";
      if ((end - f) * ppf > 18) g.fillText(e.name, x(f) + 4, 31);
      g.globalAlpha = 1;
      f = end;
    }
    // the player's notes
    const lo = 48, hi = 84, top = 56, bottom = H - 4;
    const y = (p) => bottom - ((Math.min(hi, Math.max(lo, p)) - lo) / (hi - lo)) * (bottom - top);
    g.fillStyle = "#1f5fbf";
    for (const n of S.notes) {
      const a = n.start / S.frameS, b = (n.end === null ? jamTime() : n.end) / S.frameS;
      if (b < f0 || a > f1) continue;
      g.fillRect(x(a), y(n.pitch) - 3, Math.max(2, (b - a) * ppf), 6);
    }
    g.strokeStyle = "#d33"; g.lineWidth = 2;
    g.beginPath(); g.moveTo(nowX, 0); g.lineTo(nowX, H); g.stroke();
    g.lineWidth = 1;
    if (S.running) {
      const beat = Math.floor(nowF / 4), left = S.listen - nowF;
      g.fillStyle = "#333"; g.font = "12px sans-serif";
      g.fillText(`bar ${Math.floor(beat / 4) + 1} beat ${(beat % 4) + 1}` +
        (left > 0 ? ` · chords in ${Math.ceil(left / 4)} beats` : ""), nowX + 6, H - 6);
    }
    const st = stats();
    root.dataset.stats = JSON.stringify(st);
    if (st.round_trips) {
      statsLine.textContent = ` · round trip ${st.round_trip_ms_median.toFixed(1)} ms (max ${st.round_trip_ms_max.toFixed(0)})` +
        ` · kernel ${(st.kernel_ms_median || 0).toFixed(1)} ms · late chords ${st.late_chords}`;
    }
  }
  draw();

  return () => {  // the widget is removed: silence and stop everything
    if (S.running) stop();
    cancelAnimationFrame(S.raf);
    clearInterval(S.timer);
    for (const p of [...S.held.keys()]) noteOff(p);
    if (S.ctx) S.ctx.close();
  };
}

export default { render };
