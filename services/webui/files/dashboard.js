// DockerCoins dashboard: polls /json every second; the speed is the difference of the `hashes`
// counter between samples divided by the time between them (as the original page did),
// averaged over a few seconds because the workers add their work about once a second.
"use strict";

const POLL_MS = 1000;
const WINDOW_S = 5; // speed averaged over this many seconds
const SPAN_S = 300; // the chart shows at most this much history...
const MIN_SPAN_S = 60; // ...and at least this much (it grows with the history up to SPAN_S)
const CHART_HEIGHT = 320;
const PAD = { left: 48, right: 16, top: 14, bottom: 28 };

const samples = []; // {now, hashes, coins} as /json gave them
const points = []; // {t, speed}: one per sample after the first

const $ = (id) => document.getElementById(id);
const SVG_NS = "http://www.w3.org/2000/svg";

function addSample(s) {
  const last = samples[samples.length - 1];
  if (last && s.hashes < last.hashes) samples.length = 0; // the counter was reset (new Redis)
  if (last && s.now <= last.now) return;
  samples.push(s);
  while (samples.length > 1 && s.now - samples[0].now > SPAN_S + WINDOW_S) samples.shift();
  // The oldest sample within the window (at least the previous one).
  let j = samples.length - 2;
  while (j > 0 && s.now - samples[j - 1].now <= WINDOW_S + 0.25) j--;
  if (j >= 0) {
    const from = samples[j];
    points.push({ t: s.now, speed: (s.hashes - from.hashes) / (s.now - from.now) });
  }
  while (points.length && s.now - points[0].t > SPAN_S) points.shift();
}

// A round upper bound for the y axis: 1, 2, 5, 10, 20, 50...
function niceMax(v) {
  if (v <= 1) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

function svgEl(name, attrs, text) {
  const el = document.createElementNS(SVG_NS, name);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  if (text !== undefined) el.textContent = text;
  return el;
}

function render() {
  const svg = $("chart");
  const width = Math.max(svg.clientWidth || 900, 300);
  svg.setAttribute("viewBox", `0 0 ${width} ${CHART_HEIGHT}`);
  svg.setAttribute("data-points", String(points.length));
  const plotW = width - PAD.left - PAD.right;
  const plotH = CHART_HEIGHT - PAD.top - PAD.bottom;
  const now = samples.length ? samples[samples.length - 1].now : Date.now() / 1000;
  const age = points.length ? now - points[0].t : 0;
  const span = Math.min(SPAN_S, Math.max(MIN_SPAN_S, Math.ceil(age / 60) * 60));
  const yMax = niceMax(Math.max(1, ...points.map((p) => p.speed)) * 1.15);
  const x = (t) => PAD.left + plotW * (1 - (now - t) / span);
  const y = (v) => PAD.top + plotH * (1 - Math.max(0, v) / yMax);

  const grid = $("grid");
  grid.replaceChildren();
  for (let i = 0; i <= 4; i++) {
    const v = (yMax * i) / 4;
    grid.append(svgEl("line", { x1: PAD.left, x2: width - PAD.right, y1: y(v), y2: y(v) }));
    grid.append(svgEl("text", { x: PAD.left - 8, y: y(v) + 4, "text-anchor": "end" },
                      Number.isInteger(v) ? String(v) : v.toFixed(1)));
  }
  const step = span <= 60 ? 10 : span <= 120 ? 30 : 60; // seconds between time labels
  for (let ago = 0; ago <= span; ago += step) {
    const label = ago === 0 ? "now" : ago % 60 === 0 ? `-${ago / 60} min` : `-${ago} s`;
    grid.append(svgEl("text", { x: x(now - ago), y: CHART_HEIGHT - 8,
                                "text-anchor": ago === 0 ? "end" : ago === span ? "start" : "middle" },
                      label));
  }

  const visible = points.filter((p) => now - p.t <= span);
  const line = visible.map((p, i) => `${i ? "L" : "M"}${x(p.t).toFixed(1)},${y(p.speed).toFixed(1)}`);
  $("line").setAttribute("d", line.join(""));
  if (visible.length > 1) {
    const first = visible[0], last = visible[visible.length - 1];
    $("area").setAttribute("d", `${line.join("")}L${x(last.t).toFixed(1)},${y(0)}` +
                                `L${x(first.t).toFixed(1)},${y(0)}Z`);
  } else {
    $("area").setAttribute("d", "");
  }
  const last = visible[visible.length - 1];
  $("dot").setAttribute("cx", last ? x(last.t) : -10);
  $("dot").setAttribute("cy", last ? y(last.speed) : -10);
  $("empty").classList.toggle("hidden", visible.length > 0);
}

// Shows "~X.X hashes/second" (the unit in smaller type).
function showSpeed(speed) {
  const unit = document.createElement("span");
  unit.className = "unit";
  unit.textContent = "hashes/second";
  $("speed").replaceChildren(`~${speed.toFixed(1)} `, unit);
}

function setStatus(kind, text) {
  const el = $("status");
  el.className = `status ${kind}`;
  el.textContent = text;
}

async function refresh() {
  try {
    const response = await fetch("json", { cache: "no-store" });
    if (!response.ok) throw new Error(`/json answered ${response.status}`);
    const data = await response.json();
    const s = { now: Number(data.now), hashes: Number(data.hashes), coins: Number(data.coins) };
    addSample(s);
    $("coins").textContent = s.coins.toLocaleString("en-US");
    $("hashes").textContent = s.hashes.toLocaleString("en-US");
    const speed = points.length ? points[points.length - 1].speed : 0;
    showSpeed(speed);
    setStatus("live", "live");
  } catch (e) {
    setStatus("down", `cannot reach /json (${e.message})`);
  }
  render();
}

$("window").textContent = WINDOW_S;
$("span").textContent = SPAN_S / 60;
window.addEventListener("resize", render);
showSpeed(0);
render();
refresh();
setInterval(refresh, POLL_MS);
