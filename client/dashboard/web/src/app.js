// The Vernier dashboard: a single-page app over the JSON API of
// `vernier dashboard` (docs/dashboard-api.md), drawn with ECharts. Plain
// script, no framework, no bundler: index.html loads /echarts.min.js first.
//
// Pages (hash routing):
//   #/                         studies table
//   #/study/NAME               summary and every plot of one study
//   #/study/NAME/trial/N       one trial
//
// Contract with the browser test (tests/dashboard/browser_test.py): every
// plot container is `#plot-<name>`; after each render it carries
// `data-points` (how many data points it draws, see each plot function) and
// `data-rendered` (incremented once per render, after ECharts has finished
// drawing, progressive rendering included). The trial table is
// `#trial-table` with one `<tr data-number=N>` per shown trial; API errors
// show in `#error` with the API's own text.
//
// Large studies (100,000 trials): columns stay flat arrays as the API sends
// them, scatter and line data go to ECharts as typed arrays in its `large`
// mode (one colour per series, so colour scales are split into a few
// series), the parallel coordinates, slice and contour scatter draw a
// sample of at most a few thousand trials (the best quarter always in it,
// the note under the plot says so), the table shows one page at a time, and live updates patch single trials
// instead of refetching, with a refresh interval that grows with the cost of
// a refresh (see StudyPage.schedule).
'use strict';

// ---------------------------------------------------------------- constants

const STATE_COLORS = {
  COMPLETE: '#2f6fde',
  PRUNED: '#e8912d',
  FAILED: '#d64545',
  RUNNING: '#2ea86b',
  WAITING: '#9aa3b5',
};
const STATE_ORDER = ['COMPLETE', 'PRUNED', 'FAILED', 'RUNNING', 'WAITING'];
// Not RUNNING or WAITING: the trial has ended.
const ENDED_STATES = new Set(['COMPLETE', 'PRUNED', 'FAILED']);

// Live updates: at most ~3 refreshes a second, so a report shows within
// REFRESH_MIN_MS plus one fetch (well under a second) while redrawing is
// cheap.
const REFRESH_MIN_MS = 333;
// Redrawing (from the first plot drawn to the frame that shows them) takes at
// most 1/RENDER_DUTY of the page's time (a redraw of a 20,000-trial study that
// takes 0.5 s: every 3 s), so that pages following a fast study leave the
// machine's cores to it. Waiting for the network does not count: fetching
// whole columns has its own limit (FULL_REFETCH_DUTY), and a few changed
// trials are fetched in milliseconds. The limit holds over time, not between
// two refreshes: after a quiet spell a page draws twice in a row (a new
// trial, then its first report), then once per RENDER_DUTY times a drawing.
const RENDER_DUTY = 6;
// More changed trials than this in one refresh: refetch whole columns
// instead of one /api/trial per trial.
const PATCH_LIMIT = 24;
// Importance is fANOVA over every COMPLETE trial (seconds for a large
// study): recomputed at most this often, and no more than 1/20 of the time.
const IMPORTANCE_MIN_MS = 10000;
// Overview plots drawn from a sample (or bins) of a large study's trials
// (parallel coordinates, slices and contour of more COMPLETE trials than
// PARALLEL_MAX, SLICE_MAX, CONTOUR_MAX; the best CURVE_MAX curves of more)
// look nearly the same after each live refresh, yet cost most of it: the
// parallel coordinates alone took twice the history's 0.11-0.13 s on a
// study of 26,000-37,000 trials. A live refresh redraws them at most this
// often (what changed in between is drawn then), and the refreshes that
// RENDER_DUTY allows come twice as often (bench/README.md). Plots that show
// every trial are redrawn on every refresh.
const SAMPLED_REDRAW_MS = 10000;
// A whole refetch of the columns and curves (many changes at once) takes at
// most 1/8 of the time, and comes at most once a second.
const FULL_REFETCH_DUTY = 8;
// The summary (counts, rate, ETA, running trials) costs the server a pass
// over the study: at most once a second.
const SUMMARY_MIN_MS = 1000;
// A study changing faster than the dashboard streams (it then sends `busy`:
// DashboardOptions::max_events_per_second) is polled instead for
// POLL_BACKOFF_MS: nobody reads hundreds of changes a second, and a refresh
// every POLL_MS shows the same.
const POLL_MS = 2000;
const POLL_BACKOFF_MS = 30000;
const API_TIMEOUT_MS = 60000;
// The first load waits this long at most for the event stream to begin.
const STREAM_START_WAIT_MS = 1000;
const STUDIES_POLL_MS = 2000;
const TABLE_PAGE_SIZE = 100;
// Overview plots sample more trials than this (sampleBest: the best quarter
// always, the rest evenly): more lines or points do not show more, and
// each 10,000 costs ~0.1-0.5 s of drawing. History and timeline draw every
// trial.
const PARALLEL_MAX = 2000;
const SLICE_MAX = 4000;
const CONTOUR_MAX = 10000;
// The API's default thinning of curves (docs/dashboard-api.md); curves
// patched from /api/trial are thinned the same way here.
const CURVE_POINTS = 200;
// Significant digits of the floats the page reads in bulk (/api/trials',
// /api/curves' `digits`): two more than it shows (fmtNum), far finer than a
// pixel; a 100,000-trial study's columns are 40 % shorter than with every
// double's 17 (to write, compress, send and parse). A trial's own page
// reads it exact (/api/trial).
const VALUE_DIGITS = 7;
// Curves drawn at most (/api/curves' max_curves): the best ones first.
const CURVE_MAX = 1000;
// Series with more points than this use ECharts' large mode.
const LARGE_THRESHOLD = 2000;
// A plot this close to the viewport (pixels above or below it) counts as in
// view: a live refresh redraws it, so that scrolling finds it drawn.
const VIEW_MARGIN_PX = 200;
// The timeline's column of worker names, in pixels.
const TIMELINE_LEFT = 150;
// More trials than this in the timeline's window are drawn at pixel
// resolution (timelineSegments): 100,000 bars of a pixel's tenth cost the
// browser over a second to stroke and show nothing more.
const TIMELINE_EXACT_MAX = 5000;
// More trials than this in the history's window are drawn one point per
// state and cell of HISTORY_CELL_PX x HISTORY_CELL_PX pixels (historyPoints):
// the 3-pixel symbol of a point covers its cell, so 100,000 points on a
// plot some 600 x 260 pixels wide draw the picture that far fewer do.
const HISTORY_EXACT_MAX = 5000;
const HISTORY_CELL_PX = 2;
// Colour scales (better → worse) for value-coloured scatters.
const VALUE_PALETTE = [
  '#0d3b8c',
  '#1f5fbf',
  '#3f86d9',
  '#6fa8e3',
  '#a3c8ea',
  '#e8c27a',
  '#e8912d',
  '#c4541c',
];
const NUMBER_PALETTE = ['#8fb8de', '#6baed6', '#4292c6', '#2171b5', '#08519c', '#08306b', '#041f4a'];

// ---------------------------------------------------------------- DOM helpers

// el('div', {class: 'x', onclick: f}, child, 'text', ...): a new element.
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value == null || value === false) continue;
    if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child == null || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function $(id) {
  return document.getElementById(id);
}

function badge(state) {
  return el('span', {class: `badge ${state}`}, state || '?');
}

function studyHref(study) {
  return `#/study/${encodeURIComponent(study)}`;
}
function trialHref(study, number) {
  return `${studyHref(study)}/trial/${number}`;
}

// ---------------------------------------------------------------- formatting

function fmtNum(v) {
  if (v == null || (typeof v === 'number' && Number.isNaN(v))) return '–';
  if (typeof v !== 'number') return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(3);
  return String(Number(v.toPrecision(5)));
}

function fmtDuration(ms) {
  if (ms == null || !(ms >= 0)) return '–';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${Math.round(s % 60)}s`;
  return `${Math.floor(s / 3600)}h ${Math.round((s % 3600) / 60)}m`;
}

function fmtTime(ms) {
  return ms > 0 ? new Date(ms).toLocaleString() : '–';
}

function fmtParam(v) {
  return typeof v === 'number' ? fmtNum(v) : v == null ? '–' : String(v);
}

// ---------------------------------------------------------------- API and errors

class ApiError extends Error {
  constructor(status, message, path) {
    super(message);
    this.status = status; // HTTP status; 0: no answer.
    this.path = path;
  }
}

// GET path?params; resolves to the parsed JSON. Rejects with an ApiError
// carrying the API's `error` text for any non-2xx answer, and for no answer
// within API_TIMEOUT_MS.
async function api(path, params) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params || {})) {
    if (value != null) query.set(key, value);
  }
  const url = query.toString() ? `${path}?${query}` : path;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), API_TIMEOUT_MS);
  try {
    let response;
    try {
      response = await fetch(url, {signal: controller.signal, headers: {Accept: 'application/json'}});
    } catch (e) {
      const why = e.name === 'AbortError' ? `no answer within ${API_TIMEOUT_MS / 1000} s` : e.message;
      throw new ApiError(0, `the dashboard did not answer (${why})`, path);
    }
    let body = null;
    try {
      body = await response.json();
    } catch (e) {
      /* not JSON: reported below */
    }
    if (!response.ok) {
      const message = body && typeof body.error === 'string' ? body.error : `HTTP ${response.status}`;
      throw new ApiError(response.status, message, path);
    }
    if (body == null) throw new ApiError(response.status, 'the answer is not JSON', path);
    return body;
  } finally {
    clearTimeout(timer);
  }
}

// The error banner (#error): one line per failing source (an endpoint, the
// event stream, a script error), removed when that source succeeds again.
const errors = new Map();

function showError(key, error) {
  let text;
  if (error instanceof ApiError) {
    text = `${error.path}: ${error.status ? `${error.status} ` : ''}${error.message}`;
    if (error.status === 401 && !/URL/.test(error.message)) {
      text += '\nOpen the URL that `vernier dashboard` printed (it carries ?token=…).';
    }
  } else {
    text = String(error && error.message ? error.message : error);
  }
  errors.set(key, text);
  renderErrors();
}

function clearError(key) {
  if (errors.delete(key)) renderErrors();
}

function renderErrors() {
  const banner = $('error');
  banner.textContent = [...errors.values()].join('\n');
  banner.hidden = errors.size === 0;
}

// Fetches and reports: resolves to the JSON, or to null after showing the
// error under `key` (or `path`).
async function load(path, params, key) {
  try {
    const t0 = performance.now();
    const body = await api(path, params);
    renderTimings[`fetch:${path}`] = Math.round(performance.now() - t0);
    clearError(key || path);
    return body;
  } catch (e) {
    showError(key || path, e);
    return null;
  }
}

window.addEventListener('error', (e) =>
  showError(
    'script',
    `dashboard script error: ${e.message}${e.error && e.error.stack ? '\n' + e.error.stack : ''}`,
  ),
);
window.addEventListener('unhandledrejection', (e) =>
  showError(
    'script',
    `dashboard script error: ${e.reason}${e.reason && e.reason.stack ? '\n' + e.reason.stack : ''}`,
  ),
);

function setLive(on, text) {
  const node = $('live');
  node.className = `live ${on ? 'on' : 'off'}`;
  node.textContent = text || (on ? 'live' : 'offline');
}

// ---------------------------------------------------------------- plot helpers

// Marks a plot container as rendered: the contract the browser test reads.
function markRendered(node, points) {
  node.dataset.points = String(points);
  node.dataset.rendered = String((Number(node.dataset.rendered) || 0) + 1);
}

// Draws `option` into plot container `id` and, once ECharts has finished
// drawing it, sets data-points = `points` and increments data-rendered.
// `onClick(seriesIndex, dataIndex)` is called for a click on an item.
function drawPlot(id, option, points, onClick) {
  const node = $(id);
  if (!node) return;
  let chart = echarts.getInstanceByDom(node);
  if (!chart) {
    node.textContent = '';
    chart = echarts.init(node, null, {renderer: 'canvas'});
  }
  // One pending mark per container: a newer draw replaces an unfinished one.
  const token = (node._drawToken || 0) + 1;
  node._drawToken = token;
  clearTimeout(node._drawTimer);
  const drawStart = performance.now();
  const finish = () => {
    if (node._drawToken !== token) return;
    renderTimings[`draw:${id}`] = Math.round(performance.now() - drawStart);
    node._drawToken = token + 0.5; // Marked once.
    clearTimeout(node._drawTimer);
    chart.off('finished');
    markRendered(node, points);
  };
  chart.off('finished');
  chart.on('finished', finish);
  // ECharts does not fire `finished` for a container that is not laid out;
  // the mark must still come.
  node._drawTimer = setTimeout(finish, 4000);
  chart.off('click');
  if (onClick) chart.on('click', (p) => onClick(p.seriesIndex, p.dataIndex, p));
  // Value axes cross at the data's edge, not at zero inside the plot.
  for (const axis of [option.xAxis, option.yAxis].flat()) {
    if (axis && !axis.axisLine) axis.axisLine = {onZero: false};
    if (axis && !axis.axisLabel) axis.axisLabel = {hideOverlap: true};
  }
  // Every series in one frame: ECharts otherwise draws a large series 400
  // items a frame (a 100,000-point plot over 250 frames, seconds).
  for (const series of [option.series || []].flat()) {
    if (series.progressive === undefined) series.progressive = 0;
  }
  try {
    chart.setOption({animation: false, ...option}, {notMerge: true});
  } catch (e) {
    // A plot that cannot draw must not stop the others: say which one.
    plotMessage(id, `This plot could not be drawn: ${e.message}`);
    throw new Error(`${id}: ${e.message}`);
  }
}

// Replaces plot `id` with a message (no chart) and marks it rendered with
// `points` (0 unless said).
function plotMessage(id, text, points = 0) {
  const node = $(id);
  if (!node) return;
  const chart = echarts.getInstanceByDom(node);
  if (chart) chart.dispose();
  node._drawToken = (node._drawToken || 0) + 1;
  clearTimeout(node._drawTimer);
  node.textContent = '';
  node.append(el('div', {class: 'plot-message'}, text));
  markRendered(node, points);
}

function disposePlots(root) {
  for (const node of root.querySelectorAll('.plot')) {
    clearTimeout(node._drawTimer);
    const chart = echarts.getInstanceByDom(node);
    if (chart) chart.dispose();
  }
}

// Grows a flat numeric array (JS arrays are cheap to push; converted to a
// typed array once complete).
function toTyped(list) {
  return Float64Array.from(list);
}

// Scatter series of points coloured by a value: one series per colour bin,
// so each can use ECharts' large mode (which draws one colour per series).
// xs, ys, cs: numbers per point; rows: the trial index of each point;
// lo..hi is mapped over `palette` (palette[0] at lo). Returns {series,
// rows} with rows[s][dataIndex] = trial index of series s.
function colourBinnedScatter(base, xs, ys, cs, rows, lo, hi, palette) {
  const bins = palette.map(() => ({data: [], rows: []}));
  const span = hi > lo ? hi - lo : 1;
  for (let p = 0; p < xs.length; p++) {
    let b = Math.floor(((cs[p] - lo) / span) * palette.length);
    b = Math.min(palette.length - 1, Math.max(0, Number.isFinite(b) ? b : 0));
    bins[b].data.push(xs[p], ys[p]);
    bins[b].rows.push(rows[p]);
  }
  const series = [];
  const seriesRows = [];
  bins.forEach((bin, b) => {
    if (!bin.rows.length) return;
    const from = lo + (span * b) / palette.length;
    const to = lo + (span * (b + 1)) / palette.length;
    series.push({
      ...base,
      type: 'scatter',
      name: `${fmtNum(from)} – ${fmtNum(to)}`,
      data: toTyped(bin.data),
      dimensions: ['x', 'y'],
      // Large mode by the total, not per bin: a few thousand points in plain
      // mode cost more than all of them in large mode.
      large: xs.length > LARGE_THRESHOLD,
      largeThreshold: 1,
      itemStyle: {color: palette[b]},
    });
    seriesRows.push(bin.rows);
  });
  return {series, rows: seriesRows};
}

// Follows the zooms and pans of `chart` (its first dataZoom): keep(zoom) at
// once, with the window {start, end} (percent of the axis) it shows, so
// that a redraw keeps it; redraw() once it has settled for 120 ms.
function followZoom(chart, keep, redraw) {
  let timer = null;
  chart.off('datazoom');
  chart.on('datazoom', () => {
    const option = chart.getOption().dataZoom[0];
    keep({start: option.start, end: option.end});
    clearTimeout(timer);
    timer = setTimeout(redraw, 120);
  });
}

// The axis values [from, to] that the zoom window {start, end} (percent of
// [min, max]) shows.
function zoomedRange(min, max, zoom) {
  return [min + ((max - min) * zoom.start) / 100, min + ((max - min) * zoom.end) / 100];
}

// The first index of ascending `sorted` whose value is >= `x` (or > `x`
// when `after`); sorted.length when there is none.
function searchSorted(sorted, x, after = false) {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] < x || (after && sorted[mid] === x)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

// The history's points between trial numbers `from` and `to` (inclusive)
// on a grid of `width` x `height` cells: {flat, rows, thinned}. flat[s]:
// ECharts scatter data of state s (x, y per point); rows[s][j]: the trial
// index of its j-th point. hist: {xs (ascending), ys, stateOf, rows,
// states}. Up to HISTORY_EXACT_MAX points in the window are all drawn (a
// history of no more is drawn whole, whatever the window); more are
// thinned to the first trial of each state in each cell (of the window's
// x range and its points' y range).
function historyPoints(hist, from, to, width, height) {
  const flat = hist.states.map(() => []);
  const rows = hist.states.map(() => []);
  const whole = hist.xs.length <= HISTORY_EXACT_MAX;
  const lo = whole ? 0 : searchSorted(hist.xs, from);
  const hi = whole ? hist.xs.length : searchSorted(hist.xs, to, true);
  const thinned = hi - lo > HISTORY_EXACT_MAX;
  let seen = null;
  let xScale = 0;
  let yScale = 0;
  let yLo = Infinity;
  let yHi = -Infinity;
  if (thinned) {
    for (let j = lo; j < hi; j++) {
      if (hist.ys[j] < yLo) yLo = hist.ys[j];
      if (hist.ys[j] > yHi) yHi = hist.ys[j];
    }
    xScale = width / (to > from ? to - from : 1);
    yScale = height / (yHi > yLo ? yHi - yLo : 1);
    seen = hist.states.map(() => new Uint8Array((width + 1) * (height + 1)));
  }
  for (let j = lo; j < hi; j++) {
    const s = hist.stateOf[j];
    if (thinned) {
      const column = Math.floor((hist.xs[j] - from) * xScale);
      const cell = column * (height + 1) + Math.floor((hist.ys[j] - yLo) * yScale);
      if (seen[s][cell]) continue;
      seen[s][cell] = 1;
    }
    flat[s].push(hist.xs[j], hist.ys[j]);
    rows[s].push(hist.rows[j]);
  }
  return {flat, rows, thinned};
}

// The timeline's bars between `from` and `to` (ms) on a plot `pixels` wide:
// {flat, meta, binned}. flat[k]: ECharts 'lines' data of state k (2, start,
// row, end, row per bar); meta[k][j]: what its j-th bar stands for, a trial's
// index or a bin {row, from, to, trials, busy}. Up to TIMELINE_EXACT_MAX
// trials in the window get a bar each. More are binned per row and pixel
// column: a column takes the state that was busy longest in it, or stays
// blank when the slot was idle for at least half of it (idle time stays
// visible), and runs of equal columns merge into one bar.
function timelineSegments(tl, from, to, pixels) {
  const flat = tl.states.map(() => []);
  const meta = tl.states.map(() => []);
  const inView = [];
  for (let j = 0; j < tl.starts.length; j++) {
    if (tl.ends[j] > from && tl.starts[j] < to) inView.push(j);
  }
  if (inView.length <= TIMELINE_EXACT_MAX) {
    for (const j of inView) {
      const k = tl.stateOf[j];
      flat[k].push(2, tl.starts[j], tl.rowOf[j], tl.ends[j], tl.rowOf[j]);
      meta[k].push(tl.trials[j]);
    }
    return {flat, meta, binned: false};
  }
  const byRow = tl.names.map(() => []);
  for (const j of inView) byRow[tl.rowOf[j]].push(j);
  const bins = {
    from,
    width: (to - from) / pixels,
    pixels,
    busy: new Float64Array(tl.states.length * pixels),
    began: new Uint32Array(pixels),
  };
  byRow.forEach((list, row) => {
    if (!list.length) return;
    fillTimelineBins(tl, list, bins);
    appendTimelineRuns(tl.states.length, row, bins, flat, meta);
  });
  return {flat, meta, binned: true};
}

// Sums, per state and pixel column, how long the trials `list` (of one row)
// were busy in it, and counts the trials that began in each column.
function fillTimelineBins(tl, list, bins) {
  const {from, width, pixels, busy, began} = bins;
  busy.fill(0);
  began.fill(0);
  for (const j of list) {
    const s = Math.max(tl.starts[j], from);
    const e = Math.min(tl.ends[j], from + width * pixels);
    const first = Math.min(pixels - 1, Math.floor((s - from) / width));
    const last = Math.min(pixels - 1, Math.floor((e - from) / width));
    if (tl.starts[j] >= from) began[first]++;
    const base = tl.stateOf[j] * pixels;
    for (let c = first; c <= last; c++) {
      const left = from + c * width;
      busy[base + c] += Math.min(e, left + width) - Math.max(s, left);
    }
  }
}

// One row's filled bins as bars: runs of columns of the same state merged.
function appendTimelineRuns(stateCount, row, bins, flat, meta) {
  const {from, width, pixels, busy, began} = bins;
  let run = {state: -1, first: 0, trials: 0, busy: 0};
  const close = (end) => {
    if (run.state < 0) return;
    const a = from + run.first * width;
    const b = from + end * width;
    flat[run.state].push(2, a, row, b, row);
    meta[run.state].push({row, from: a, to: b, trials: run.trials, busy: run.busy});
  };
  for (let c = 0; c < pixels; c++) {
    let total = 0;
    let top = -1;
    for (let k = 0; k < stateCount; k++) {
      const v = busy[k * pixels + c];
      total += v;
      if (top < 0 || v > busy[top * pixels + c]) top = k;
    }
    const state = total >= width / 2 ? top : -1;
    if (state !== run.state) {
      close(c);
      run = {state, first: c, trials: 0, busy: 0};
    }
    run.trials += began[c];
    run.busy += total;
  }
  close(pixels);
}

// Axis options for a parameter: category for categorical, log for log
// parameters, value otherwise.
function paramAxis(param, extra) {
  if (param && param.type === 'categorical') {
    return {type: 'category', data: (param.choices || []).map(String), name: param.name, ...extra};
  }
  return {
    type: param && param.log ? 'log' : 'value',
    scale: true,
    name: param ? param.name : '',
    minInterval: param && param.type === 'int' ? 1 : undefined,
    ...extra,
  };
}

// A plot coordinate for a parameter value: the choice's index for a
// categorical parameter (category axes take indices), the number otherwise;
// null when absent or not plottable.
function paramCoord(param, value, choiceIndex) {
  if (value == null) return null;
  if (param && param.type === 'categorical') {
    const index = choiceIndex.get(String(value));
    return index == null ? null : index;
  }
  const number = Number(value);
  if (!Number.isFinite(number) || (param && param.log && number <= 0)) return null;
  return number;
}

function choiceIndexOf(param) {
  return new Map(((param && param.choices) || []).map((c, j) => [String(c), j]));
}

function rangeOf(values) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return lo <= hi ? [lo, hi] : [0, 1];
}

// Pads [lo, hi] by 5 % on each side (and a span of 0 to ±1), for axes whose
// extent ECharts cannot compute itself (lines series).
function padded([lo, hi]) {
  const pad = hi > lo ? (hi - lo) * 0.05 : Math.abs(lo) * 0.05 || 1;
  return [lo - pad, hi + pad];
}

const TOOLTIP = {confine: true, trigger: 'item', enterable: false};
const GRID = {left: 60, right: 24, top: 36, bottom: 40, containLabel: false};

// Milliseconds each plot's last preparation and setOption took (not the
// drawing that follows), readable as window.vernierTimings by benchmarks.
const renderTimings = {};
window.vernierTimings = renderTimings;

// When the study page's last live refreshes began (performance.now(), the
// last REFRESH_LOG_MAX), for benchmarks and tests.
const REFRESH_LOG_MAX = 50;
function logRefresh() {
  const log = (renderTimings.refreshes = renderTimings.refreshes || []);
  log.push(Math.round(performance.now()));
  if (log.length > REFRESH_LOG_MAX) log.shift();
}

// Lets the browser handle input and paint before going on: a message runs
// as soon as it can (setTimeout(0) waits 4 ms when nested).
function yieldToBrowser() {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => resolve();
    channel.port2.postMessage(null);
  });
}

// Resolves once the browser has painted the next frame (or after a second:
// a hidden page paints none).
function afterNextFrame() {
  return new Promise((resolve) => {
    requestAnimationFrame(() => setTimeout(resolve, 0));
    setTimeout(resolve, 1000);
  });
}

// ---------------------------------------------------------------- hidden pages

// A hidden page (a background tab, a minimised window) fetches and draws
// nothing live: its work waits until it is seen again, so that a user with
// many dashboards open pays for the one in view, not for all of them. The
// event stream stays open (events are small), so nothing is missed.
const waitingForVisible = new Set();

function pageHidden() {
  return document.visibilityState === 'hidden';
}

// Runs `fn` now when the page is visible, else once it is (once however
// often asked for the same `fn`).
function whenVisible(fn) {
  if (pageHidden()) waitingForVisible.add(fn);
  else fn();
}

document.addEventListener('visibilitychange', () => {
  if (pageHidden()) return;
  const waiting = [...waitingForVisible];
  waitingForVisible.clear();
  for (const fn of waiting) fn();
});

// ---------------------------------------------------------------- router

let currentPage = null;

function parseRoute(hash) {
  const parts = hash
    .replace(/^#\/?/, '')
    .split('/')
    .filter((p) => p !== '')
    .map(decodeURIComponent);
  if (parts[0] === 'study' && parts[1] != null) {
    if (parts[2] === 'trial' && parts[3] != null) {
      // `number` stays the text of the URL: TrialPage says when it is not one.
      return {page: 'trial', study: parts[1], number: parts[3]};
    }
    return {page: 'study', study: parts[1]};
  }
  return {page: 'studies'};
}

function route() {
  if (currentPage) currentPage.dispose();
  currentPage = null;
  const app = $('app');
  disposePlots(app);
  app.textContent = '';
  errors.clear();
  renderErrors();
  if (typeof echarts === 'undefined') {
    showError('script', 'echarts.min.js did not load: the dashboard cannot draw plots');
  }
  const r = parseRoute(location.hash);
  const crumbs = $('crumbs');
  crumbs.textContent = '';
  if (r.page !== 'studies') {
    crumbs.append(el('a', {href: '#/'}, 'studies'), ' / ', el('a', {href: studyHref(r.study)}, r.study));
    if (r.page === 'trial') crumbs.append(' / ', `trial ${r.number}`);
  }
  try {
    if (r.page === 'study') currentPage = new StudyPage(app, r.study);
    else if (r.page === 'trial') currentPage = new TrialPage(app, r.study, r.number);
    else currentPage = new StudiesPage(app);
  } catch (e) {
    showError('script', `dashboard script error: ${e.message}`);
  }
}

// ---------------------------------------------------------------- live events

// An EventSource on /api/events?study=NAME that calls onEvent(event) for each
// parsed event; reconnects after an error (the browser resumes an open
// stream itself; a refused one, e.g. 401, is retried every 3 s).
class EventStream {
  constructor(study, onEvent) {
    this.study = study;
    this.onEvent = onEvent;
    this.closed = false;
    this.open();
  }

  open() {
    if (this.closed) return;
    const source = new EventSource(`/api/events?study=${encodeURIComponent(this.study)}`);
    this.source = source;
    source.onopen = () => {
      setLive(true);
      clearError('events');
    };
    source.onmessage = (message) => {
      let event;
      try {
        event = JSON.parse(message.data);
      } catch (e) {
        return;
      }
      this.onEvent(event);
    };
    source.onerror = () => {
      setLive(false, 'reconnecting');
      if (source.readyState === EventSource.CLOSED && !this.closed) {
        this.retry = setTimeout(() => this.open(), 3000);
      }
    };
  }

  close() {
    this.closed = true;
    clearTimeout(this.retry);
    if (this.source) this.source.close();
    setLive(false);
  }
}

// ---------------------------------------------------------------- studies page

class StudiesPage {
  constructor(root) {
    this.root = root;
    this.lastJson = '';
    this.pollWhenVisible = () => {
      if (!this.disposed) this.poll();
    };
    root.append(
      el('h1', {}, 'Studies'),
      el('div', {class: 'card', id: 'studies'}, el('p', {class: 'muted'}, 'Loading…')),
    );
    this.poll();
  }

  async poll() {
    const body = await load('/api/studies');
    if (this.disposed) return;
    if (body) {
      const json = JSON.stringify(body);
      if (json !== this.lastJson) {
        this.lastJson = json;
        this.render(body.studies || []);
      }
    } else if (!this.lastJson) {
      $('studies').textContent = 'The studies could not be loaded (see the error above).';
    }
    this.timer = setTimeout(() => whenVisible(this.pollWhenVisible), STUDIES_POLL_MS);
  }

  render(studies) {
    const card = $('studies');
    card.textContent = '';
    if (!studies.length) {
      card.append(
        el('p', {class: 'muted'}, 'No studies yet: `vernier study create -f STUDY.yaml` or `vernier run`.'),
      );
      return;
    }
    const rows = studies.map((s) => {
      const counts = s.counts || {};
      let finished = 0;
      for (const [state, n] of Object.entries(counts)) if (ENDED_STATES.has(state)) finished += n;
      const share = s.max_trials > 0 ? Math.min(1, finished / s.max_trials) : 0;
      const objectives = (s.objectives || []).map((o) => `${o.metric} (${o.goal})`).join(', ');
      const countText = STATE_ORDER.filter((st) => counts[st])
        .map((st) => `${counts[st]} ${st.toLowerCase()}`)
        .join(', ');
      return el(
        'tr',
        {dataset: {name: s.name}},
        el('td', {}, el('a', {href: studyHref(s.name)}, s.name)),
        el('td', {title: s.state_reason || ''}, badge(s.state)),
        el(
          'td',
          {},
          `${finished} / ${s.max_trials || '∞'}`,
          el('div', {class: 'progress'}, el('div', {style: `width:${(share * 100).toFixed(1)}%`})),
        ),
        el('td', {class: 'muted'}, countText || '–'),
        el('td', {class: 'num'}, s.best ? s.best.map(fmtNum).join(', ') : '–'),
        el('td', {}, objectives),
        el('td', {}, `${s.sampler || '–'} / ${s.pruner || '–'}`),
        el('td', {class: 'muted'}, fmtTime(s.create_time_ms)),
      );
    });
    card.append(
      el(
        'div',
        {class: 'table-wrap'},
        el(
          'table',
          {id: 'study-table'},
          el(
            'thead',
            {},
            el(
              'tr',
              {},
              [
                'study',
                'state',
                'progress',
                'trials',
                'best',
                'objectives',
                'sampler / pruner',
                'created',
              ].map((h) => el('th', {}, h)),
            ),
          ),
          el('tbody', {}, rows),
        ),
      ),
    );
  }

  dispose() {
    this.disposed = true;
    clearTimeout(this.timer);
    waitingForVisible.delete(this.pollWhenVisible);
  }
}

// ---------------------------------------------------------------- study model

// The /api/trials columns, patched in place by live updates. Index i is one
// trial; `numbers` stays sorted.
function indexOfNumber(trials, number) {
  const numbers = trials.numbers;
  let lo = 0;
  let hi = numbers.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (numbers[mid] < number) lo = mid + 1;
    else hi = mid;
  }
  return lo; // numbers[lo] === number, or where it goes.
}

const SCALAR_COLUMNS = [
  'numbers',
  'states',
  'start_ms',
  'end_ms',
  'workers',
  'origins',
  'retries',
  'failure_reasons',
];

// A {dict, codes} column of /api/trials (each repeating value sent once) as
// a plain array; a plain array is returned as it is.
function expandDict(column) {
  if (!column || Array.isArray(column)) return column;
  const {dict, codes} = column;
  const out = new Array(codes.length);
  for (let i = 0; i < codes.length; i++) out[i] = codes[i] == null ? null : dict[codes[i]];
  return out;
}

// Times of /api/trials are milliseconds after time_base_ms, null while
// unset: made absolute in place, 0 while unset.
function absoluteTimes(column, base) {
  if (!Array.isArray(column)) return;
  for (let i = 0; i < column.length; i++) column[i] = column[i] == null ? 0 : column[i] + base;
}

// Expands /api/trials' compact columns and fills columns an answer may leave
// out, so plots need not check.
function normaliseTrials(trials) {
  for (const column of ['states', 'workers', 'origins', 'failure_reasons']) {
    trials[column] = expandDict(trials[column]);
  }
  for (const name of Object.keys(trials.params || {})) trials.params[name] = expandDict(trials.params[name]);
  absoluteTimes(trials.start_ms, trials.time_base_ms || 0);
  absoluteTimes(trials.end_ms, trials.time_base_ms || 0);
  const n = (trials.numbers = trials.numbers || []).length;
  for (const column of SCALAR_COLUMNS) {
    if (!Array.isArray(trials[column])) trials[column] = new Array(n).fill(null);
  }
  trials.values = trials.values || [];
  trials.params = trials.params || {};
  trials.exploits = trials.exploits || {};
  return trials;
}

// The columns of `trials` numbered below `from` (new arrays).
function trialsBelow(trials, from) {
  const cut = indexOfNumber(trials, from);
  const out = {...trials, values: trials.values.map((column) => column.slice(0, cut))};
  for (const column of SCALAR_COLUMNS) out[column] = trials[column].slice(0, cut);
  out.params = {};
  for (const [name, column] of Object.entries(trials.params)) out.params[name] = column.slice(0, cut);
  out.exploits = {};
  for (const [number, exploits] of Object.entries(trials.exploits)) {
    if (Number(number) < from) out.exploits[number] = exploits;
  }
  return out;
}

// Whether `fresh` (normalised /api/trials from trial `from` on) holds what
// `trials` holds from `from` on: the same trials with the same values and
// the same fields a running, retried, exploiting or ending trial changes.
function sameTrialsFrom(trials, from, fresh) {
  const cut = indexOfNumber(trials, from);
  if (trials.numbers.length - cut !== fresh.numbers.length) return false;
  if (trials.values.length !== fresh.values.length) return false;
  const changing = ['numbers', 'states', 'start_ms', 'end_ms', 'workers', 'retries', 'failure_reasons'];
  for (let j = 0; j < fresh.numbers.length; j++) {
    const i = cut + j;
    if (
      changing.some((column) => trials[column][i] !== fresh[column][j]) ||
      trials.values.some((column, k) => column[i] !== fresh.values[k][j])
    ) {
      return false;
    }
  }
  const exploitsFrom = (exploits) =>
    JSON.stringify(Object.entries(exploits).filter(([number]) => Number(number) >= from));
  return exploitsFrom(trials.exploits) === exploitsFrom(fresh.exploits);
}

// Normalised columns `head` then `tail` (numbered after it) as one: `head`,
// extended; a column only one of them has is null in the other's rows.
function joinTrials(head, tail) {
  const before = head.numbers.length;
  const added = tail.numbers.length;
  const joined = (a, b) => (a || new Array(before).fill(null)).concat(b || new Array(added).fill(null));
  for (const column of SCALAR_COLUMNS) head[column] = joined(head[column], tail[column]);
  const objectives = Math.max(head.values.length, tail.values.length);
  for (let k = 0; k < objectives; k++) head.values[k] = joined(head.values[k], tail.values[k]);
  for (const name of new Set([...Object.keys(head.params), ...Object.keys(tail.params)])) {
    head.params[name] = joined(head.params[name], tail.params[name]);
  }
  Object.assign(head.exploits, tail.exploits);
  return head;
}

// The plots (card names) that draw only COMPLETE trials.
const COMPLETE_PLOTS = ['parallel', 'slice', 'contour', 'pareto'];

// Writes one /api/trial answer into the columns (inserting a new trial in
// number order). Returns the names of the plots whose drawing it changed: a
// report of a running trial changes its value (the history) and its row,
// not the plots of COMPLETE trials nor the timeline.
function patchTrialColumns(trials, trial) {
  let i = indexOfNumber(trials, trial.number);
  const isNew = trials.numbers[i] !== trial.number;
  const valuesOf = (j) => JSON.stringify(trials.values.map((column) => column[j]));
  const timesOf = (j) => [trials.start_ms[j], trials.end_ms[j], trials.workers[j]].join();
  const old = isNew ? null : {state: trials.states[i], values: valuesOf(i), times: timesOf(i)};
  if (isNew) {
    for (const column of SCALAR_COLUMNS) {
      if (!trials[column]) trials[column] = new Array(trials.numbers.length).fill(null);
      trials[column].splice(i, 0, null);
    }
    for (const column of trials.values) column.splice(i, 0, null);
    for (const column of Object.values(trials.params)) column.splice(i, 0, null);
  }
  trials.numbers[i] = trial.number;
  trials.states[i] = trial.state;
  trials.start_ms[i] = trial.start_ms || 0;
  trials.end_ms[i] = trial.end_ms || 0;
  trials.workers[i] = trial.worker || '';
  trials.origins[i] = trial.origin || '';
  trials.retries[i] = trial.retries || 0;
  trials.failure_reasons[i] = trial.failure_reason || '';
  const values = trial.values || [];
  trials.values.forEach((column, k) => {
    column[i] = values[k] == null ? null : values[k];
  });
  for (const [name, value] of Object.entries(trial.params || {})) {
    if (!trials.params[name]) trials.params[name] = new Array(trials.numbers.length).fill(null);
    trials.params[name][i] = value;
  }
  const hasExploits = trial.exploits && trial.exploits.length;
  if (hasExploits) trials.exploits[trial.number] = trial.exploits;
  const changed = new Set(['table']);
  const stateChanged = isNew || old.state !== trial.state;
  const valuesChanged = isNew || old.values !== valuesOf(i);
  if (stateChanged || valuesChanged) changed.add('history');
  if ((stateChanged || valuesChanged) && (trial.state === 'COMPLETE' || (old && old.state === 'COMPLETE')))
    for (const name of COMPLETE_PLOTS) changed.add(name);
  if (stateChanged || old.times !== timesOf(i)) changed.add('timeline');
  if (hasExploits) changed.add('lineage');
  return changed;
}

// Keeps at most `points` of a curve's points, evenly spaced, always the last
// (a pruned curve must end at its rung).
function thinCurve(steps, values, points) {
  if (steps.length <= points) return {steps, values};
  const s = [];
  const v = [];
  const stride = (steps.length - 1) / (points - 1);
  for (let j = 0; j < points; j++) {
    const at = Math.round(j * stride);
    s.push(steps[at]);
    v.push(values[at]);
  }
  return {steps: s, values: v};
}

// Writes one /api/trial answer's curve of `curves.metric` into the curves.
function patchCurve(curves, trial) {
  const steps = [];
  const values = [];
  for (const m of trial.intermediate || []) {
    const v = m.metrics ? m.metrics[curves.metric] : undefined;
    if (v == null) continue;
    steps.push(m.step);
    values.push(v);
  }
  const found = curves.curves.find((c) => c.number === trial.number);
  if (!steps.length) {
    if (found) found.state = trial.state;
    return;
  }
  const thin = thinCurve(steps, values, CURVE_POINTS);
  if (found) {
    Object.assign(found, {state: trial.state, steps: thin.steps, values: thin.values});
  } else if (curves.curves.length < CURVE_MAX) {
    curves.curves.push({number: trial.number, state: trial.state, steps: thin.steps, values: thin.values});
  }
}

// ---------------------------------------------------------------- study page

// Card with a title, optional controls and a plot container.
function plotCard(name, title, controls, extraClass) {
  return el(
    'section',
    {class: 'card', id: `card-${name}`},
    el('div', {class: 'card-head'}, el('h2', {}, title), controls || null),
    el('div', {class: 'note', id: `note-${name}`}),
    el('div', {class: `plot ${extraClass || ''}`, id: `plot-${name}`}),
  );
}

function select(id, options, value, onchange) {
  const node = el(
    'select',
    {id, onchange: (e) => onchange(e.target.value)},
    options.map(([v, label]) => el('option', {value: v}, label)),
  );
  node.value = String(value);
  return node;
}

function setNote(name, text) {
  const node = $(`note-${name}`);
  if (node) node.textContent = text || '';
}

// Turns many changed trials into one whole refetch from the lowest of them
// (what refresh() does with more than PATCH_LIMIT), so that the changes a
// hidden or slow page gathers take constant space.
function collapseToFull(dirty) {
  let lowest = Infinity;
  for (const number of dirty.numbers) lowest = Math.min(lowest, number);
  dirty.numbers = new Set([lowest]);
  dirty.full = true;
}

class StudyPage {
  constructor(root, study) {
    this.root = root;
    this.study = study;
    this.info = null; // /api/study's "study"
    this.summary = null; // /api/study's "summary"
    this.trials = null; // /api/trials
    this.curves = null; // /api/curves
    this.curveMetric = null;
    this.importance = null; // /api/importance, or {error} for a 409
    this.ui = {
      historyObjective: 0,
      contourX: null,
      contourY: null,
      contourMode: 'scatter',
      paretoX: 0,
      paretoY: 1,
      table: {sortKey: 'number', sortDir: 1, filter: '', state: '', page: 0},
    };
    // Live refresh state (see schedule()).
    // full: read the trials again from refetchFrom() on; all: from the first.
    this.dirty = {numbers: new Set(), full: false, all: false, summary: false, importance: false};
    this.nextFullAt = 0;
    this.lastFlush = 0;
    // Drawing's account (see RENDER_DUTY and spendDrawing()): the last
    // drawing's time, and when the time drawn so far is paid for (Date.now()).
    this.drawMs = 0;
    this.drawPaidAt = 0;
    this.lastImportance = 0;
    // Sampled overview plots (SAMPLED_REDRAW_MS): those whose last drawing
    // was of a sample, when each was drawn (Date.now()), and those waiting
    // for their next drawing (drawLagging()).
    this.sampled = new Set();
    this.sampledDrawnAt = {};
    this.lagging = new Set();
    this.lagTimer = null;
    this.scheduleWhenVisible = () => this.schedule();
    this.drawLaggingWhenVisible = () => this.drawLagging();
    this.layout();
    this.watchViewport();
    this.start();
  }

  layout() {
    const r = this.root;
    r.append(
      el('h1', {}, this.study, ' ', el('span', {id: 'study-state'})),
      el('section', {class: 'card', id: 'summary'}, el('p', {class: 'muted'}, 'Loading…')),
      el(
        'div',
        {class: 'grid'},
        plotCard('history', 'Optimisation history', el('span', {id: 'ctl-history'})),
        plotCard('curves', 'Learning curves', el('span', {id: 'ctl-curves'})),
        plotCard('parallel', 'Parallel coordinates'),
        plotCard('importance', 'Parameter importance'),
        plotCard('contour', 'Contour', el('span', {id: 'ctl-contour'})),
        plotCard('pareto', 'Pareto front', el('span', {id: 'ctl-pareto'})),
        plotCard('timeline', 'Timeline per worker'),
        plotCard('lineage', 'PBT lineage'),
      ),
      plotCard('slice', 'Slice plot per parameter'),
      el(
        'section',
        {class: 'card', id: 'card-table'},
        el('div', {class: 'card-head'}, el('h2', {}, 'Trials')),
        el('div', {id: 'table-controls', class: 'controls'}),
        el('div', {class: 'table-wrap'}, el('table', {id: 'trial-table'})),
        el('div', {id: 'table-pager', class: 'controls'}),
      ),
    );
    this.onResize = () => {
      clearTimeout(this.resizeTimer);
      this.resizeTimer = setTimeout(() => {
        for (const node of this.root.querySelectorAll('.plot')) {
          const chart = echarts.getInstanceByDom(node);
          if (chart) chart.resize();
        }
      }, 150);
    };
    window.addEventListener('resize', this.onResize);
  }

  // A live refresh redraws the plots in or near the view (`inView`, card
  // names); the others are marked `stale` and drawn once scrolled to, as a
  // hidden page waits until it is seen: a user watching the history does not
  // pay for redrawing the table, the slices and the timeline below it.
  watchViewport() {
    this.inView = new Set();
    this.stale = new Set();
    this.viewObserver = new IntersectionObserver(
      (entries) => {
        for (const entry of entries) {
          const name = entry.target.id.slice('card-'.length);
          if (!entry.isIntersecting) {
            this.inView.delete(name);
          } else {
            this.inView.add(name);
            if (this.stale.delete(name)) this.drawStale(name);
          }
        }
      },
      {rootMargin: `${VIEW_MARGIN_PX}px 0px`},
    );
    for (const card of this.root.querySelectorAll('section.card[id^="card-"]'))
      this.viewObserver.observe(card);
  }

  // Whether a live refresh draws the plot of card `name` now. A hidden card
  // (the Pareto front of a single-objective study, the lineage before any
  // exploit) is drawn too: its drawing is what shows it once it applies.
  shownLive(name) {
    const now = this.inView.has(name) || $(`card-${name}`).hidden;
    if (now) this.stale.delete(name);
    else this.stale.add(name);
    return now;
  }

  // Whether a live refresh draws plot `name` now: shown live (shownLive())
  // and, if its last drawing was of a sample, drawn at least
  // SAMPLED_REDRAW_MS ago. A sampled plot not due yet waits in `lagging`
  // for drawLagging(), which its timer runs when it is due.
  drawsLive(name) {
    if (!this.shownLive(name)) return false;
    if (!this.sampled.has(name)) return true;
    const wait = (this.sampledDrawnAt[name] || 0) + SAMPLED_REDRAW_MS - Date.now();
    if (wait <= 0) return true;
    this.lagging.add(name);
    if (!this.lagTimer) this.lagTimer = setTimeout(() => this.drawLagging(), wait);
    return false;
  }

  // Records a drawing of plot `name`, of a sample of the trials or of all.
  noteDrawn(name, ofSample) {
    this.sampledDrawnAt[name] = Date.now();
    this.lagging.delete(name);
    if (ofSample) this.sampled.add(name);
    else this.sampled.delete(name);
  }

  // Draws the lagging plots that are due, as stale ones once scrolled to
  // (drawStale: the curves are fetched first). Waits for a refresh in
  // flight, and while the page is hidden.
  drawLagging() {
    this.lagTimer = null;
    if (this.disposed || !this.lagging.size) return;
    if (pageHidden()) {
      whenVisible(this.drawLaggingWhenVisible);
      return;
    }
    if (this.inFlight) {
      this.lagTimer = setTimeout(() => this.drawLagging(), REFRESH_MIN_MS);
      return;
    }
    const names = [...this.lagging];
    this.lagging.clear();
    for (const name of names) if (this.drawsLive(name)) this.drawStale(name);
  }

  // Draws stale plot `name`, now in view, from what the page holds (the
  // curves and the importance are fetched first: a refresh skipped them).
  drawStale(name) {
    if (this.disposed || !this.trials || !this.info) return;
    if (name === 'curves') {
      this.loadCurves().then(() => !this.disposed && this.curves && this.renderCurves());
    } else if (name === 'importance') {
      if (!this.importanceInFlight) this.loadImportance();
    } else if (name in this.trialPlotSteps()) {
      this.drawTrialPlot(name);
    }
  }

  // First load: every endpoint at once; each plot draws as soon as its data
  // is in.
  async start() {
    // The event stream first: every change after it has begun comes as an
    // event, so a first load asked after that misses none, and the stream's
    // opening resync (reason "start") needs no second load of everything.
    const begun = new Promise((resolve) => (this.streamBegun = resolve));
    this.openEvents();
    await Promise.race([begun, new Promise((resolve) => setTimeout(resolve, STREAM_START_WAIT_MS))]);
    if (this.disposed) return;
    this.loadStarted = true;
    const studyP = this.loadStudy();
    const trialsP = this.fetchTrials();
    const curvesP = this.loadCurves();
    // fANOVA (~0.2 CPU-s in the dashboard for a large study) is asked with
    // the trials: its answer comes while the page still waits for them and
    // is drawn then. Asked once they had come, it was drawn after every
    // trial plot (0.1-0.2 s later on the 100,000-trial page; bench/README.md).
    studyP.then((ok) => ok && !this.disposed && this.loadImportance());
    // The curves need only the study: drawn while the trials still come.
    Promise.all([studyP, curvesP]).then(([ok]) => {
      if (ok && !this.disposed && this.curves) this.renderCurves();
    });
    const [ok, trials] = await Promise.all([studyP, trialsP]);
    if (this.disposed) return;
    if (!ok || !trials) {
      this.failAll(
        ok
          ? 'the trials could not be loaded (see the error above)'
          : 'the study could not be loaded (see the error above)',
      );
      return;
    }
    this.trials = trials;
    const began = performance.now();
    await this.renderTrialPlots(true);
    // The frame that paints every plot is part of the drawing too. The live
    // refreshes are paced by this drawing until their own first one; the
    // page's opening is not booked against them.
    await afterNextFrame();
    this.drawMs = performance.now() - began;
    this.drawPaidAt = Date.now();
  }

  // /api/trials, normalised (null after showing an error).
  async fetchTrials() {
    const body = await load('/api/trials', {study: this.study, digits: VALUE_DIGITS});
    return body && normaliseTrials(body);
  }

  // The trials held, read again from trial number `from` on (0: all of
  // them); null after showing an error. Reading only what may have changed
  // keeps a live page of a large running study from listing every trial on
  // every refresh.
  // Resolves to null also when nothing read differs from what is held, so
  // that a page polling a study that has stopped changing draws nothing.
  async fetchTrialsFrom(from) {
    if (!from) return this.fetchTrials();
    const query = {study: this.study, min_number: from, digits: VALUE_DIGITS};
    const body = await load('/api/trials', query, '/api/trials');
    if (!body || this.disposed) return null;
    const fresh = normaliseTrials(body);
    if (sameTrialsFrom(this.trials, from, fresh)) return null;
    return joinTrials(trialsBelow(this.trials, from), fresh);
  }

  // The first trial number a refresh reads again: the first trial held that
  // had not ended, the first of `changed`, or the next new one, whichever is
  // lowest. Ended trials change only by an exclusion, which comes as an event
  // (in `changed`), or after a resync (which reads everything).
  refetchFrom(changed) {
    const t = this.trials;
    let from = t.numbers.length ? t.numbers[t.numbers.length - 1] + 1 : 0;
    for (const number of changed) from = Math.min(from, number);
    for (let i = 0; i < t.numbers.length && t.numbers[i] < from; i++) {
      if (!ENDED_STATES.has(t.states[i])) {
        from = t.numbers[i];
        break;
      }
    }
    return from;
  }

  // Every plot shows `text` instead of a chart (still marked rendered).
  failAll(text) {
    for (const name of [
      'history',
      'curves',
      'parallel',
      'slice',
      'contour',
      'importance',
      'pareto',
      'timeline',
      'lineage',
    ]) {
      plotMessage(`plot-${name}`, text);
    }
    $('trial-table').textContent = '';
  }

  async loadStudy() {
    const body = await load('/api/study', {study: this.study});
    if (!body || this.disposed) return false;
    const first = !this.info;
    this.info = body.study;
    this.summary = body.summary;
    if (first)
      this.curveMetric =
        this.info.objectives && this.info.objectives[0] ? this.info.objectives[0].metric : null;
    this.renderSummary();
    return true;
  }

  curvesQuery() {
    return {
      study: this.study,
      metric: this.curveMetric || undefined,
      max_curves: CURVE_MAX,
      digits: VALUE_DIGITS,
    };
  }

  async loadCurves() {
    const body = await load('/api/curves', this.curvesQuery(), '/api/curves');
    if (this.disposed) return;
    if (body) this.curves = body;
    else if (!this.curves)
      plotMessage('plot-curves', 'The curves could not be loaded (see the error above).');
  }

  async loadImportance() {
    this.lastImportance = Date.now();
    this.importanceInFlight = true;
    try {
      // The API's default objective: the first, as in the plots' colours.
      this.importance = await api('/api/importance', {study: this.study});
      clearError('/api/importance');
    } catch (e) {
      // 409: too few COMPLETE trials, an expected state shown in the plot.
      if (e instanceof ApiError && e.status === 409) {
        this.importance = {error: e.message};
        clearError('/api/importance');
      } else {
        this.importance = {error: `not available: ${e.message}`};
        showError('/api/importance', e);
      }
    }
    this.importanceInFlight = false;
    this.importanceInterval = Math.max(IMPORTANCE_MIN_MS, 20 * (Date.now() - this.lastImportance));
    if (!this.disposed) this.renderImportance();
  }

  // ---- live updates

  openEvents() {
    this.events = new EventStream(this.study, (e) => this.onEvent(e));
  }

  // Too many events (the dashboard counts them and ends the stream with a
  // `busy` event saying `reason`): close the stream, refetch every POLL_MS,
  // and stream again after POLL_BACKOFF_MS (to see whether the rate has
  // dropped).
  startPolling(reason) {
    this.events.close();
    this.events = null;
    setLive(false, `polling: ${reason}`);
    const poll = () => {
      this.dirty.summary = true;
      this.dirty.full = true;
      this.dirty.importance = true; // Its own interval still applies.
      this.schedule();
    };
    poll();
    this.pollTimer = setInterval(poll, POLL_MS);
    this.pollEnd = setTimeout(() => {
      clearInterval(this.pollTimer);
      this.dirty.all = this.dirty.full = true; // Catch up on what the stream did not say.
      this.openEvents();
      this.schedule();
    }, POLL_BACKOFF_MS);
  }

  onEvent(event) {
    if (this.streamBegun) {
      this.streamBegun();
      this.streamBegun = null;
      if (event.kind === 'resync' && event.reason === 'start' && !this.loadStarted) return;
    }
    if (event.kind === 'busy') {
      if (this.events) this.startPolling(event.reason);
      return;
    }
    const d = this.dirty;
    d.summary = true;
    if (event.kind === 'resync' || event.kind === 'study') {
      if (event.kind === 'resync') d.all = d.full = true;
    } else if (event.number != null) {
      d.numbers.add(event.number);
      if (d.numbers.size > PATCH_LIMIT) collapseToFull(d);
      if (event.kind === 'trial' && event.state === 'COMPLETE') d.importance = true;
    }
    this.schedule();
  }

  // At most one refresh in flight, one per REFRESH_MIN_MS, and drawing at
  // most 1/RENDER_DUTY of the time (so a 100,000-trial study does not spend
  // the browser's time refreshing): a refresh may begin one drawing's
  // worth ahead of what is paid for.
  // Changes that need a full refetch wait for nextFullAt (set from the last
  // full refetch's cost).
  // A hidden page schedules nothing until it is visible again.
  schedule() {
    if (this.timer || this.inFlight || this.disposed) return;
    if (pageHidden()) {
      whenVisible(this.scheduleWhenVisible);
      return;
    }
    const d = this.dirty;
    const allowedAt = Math.max(this.lastFlush + REFRESH_MIN_MS, this.drawPaidAt - RENDER_DUTY * this.drawMs);
    let wait = Math.max(0, allowedAt - Date.now());
    if (!d.summary && (d.full || d.numbers.size > PATCH_LIMIT))
      wait = Math.max(wait, this.nextFullAt - Date.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      this.flush();
    }, wait);
  }

  async flush() {
    if (this.disposed || !this.trials || !this.info || pageHidden()) {
      if (!pageHidden()) this.lastFlush = Date.now();
      if (!this.disposed) this.schedule();
      return;
    }
    logRefresh();
    this.inFlight = true;
    try {
      await this.refresh();
    } catch (e) {
      // A refresh that failed must not end live updates: say so, go on.
      showError('script', `dashboard script error: ${e.message}`);
    } finally {
      this.inFlight = false;
    }
    if (this.disposed) return;
    const d = this.dirty;
    if (d.summary || d.numbers.size || d.full) this.schedule();
    else if (d.importance) {
      // A COMPLETE trial waits for the importance interval.
      const importanceInterval = this.importanceInterval || IMPORTANCE_MIN_MS;
      clearTimeout(this.importanceTimer);
      this.importanceTimer = setTimeout(
        () => {
          d.summary = true;
          this.schedule();
        },
        Math.max(0, importanceInterval - (Date.now() - this.lastImportance)) + 50,
      );
    }
  }

  // One refresh: fetches what the dirty state says (patches of single
  // trials, or whole columns when there are many), then redraws what changed.
  async refresh() {
    this.lastFlush = Date.now();
    const d = this.dirty;
    const numbers = [...d.numbers];
    let full = d.full || numbers.length > PATCH_LIMIT;
    let deferred = false;
    let from = 0;
    if (full && Date.now() < this.nextFullAt) {
      full = false;
      deferred = true; // Keep the changes for the next full refetch.
    } else {
      from = d.all ? 0 : this.refetchFrom(numbers);
      d.numbers.clear();
      d.full = d.all = false;
    }
    const wantSummary = d.summary && Date.now() - (this.lastSummary || 0) >= SUMMARY_MIN_MS;
    if (wantSummary) {
      d.summary = false;
      this.lastSummary = Date.now();
    }
    const tasks = [];
    if (wantSummary) tasks.push(this.loadStudy());
    let trialsChanged = false;
    let curvesChanged = false;
    const patched = new Set(); // The plots patches changed (a full refetch: all).
    const started = Date.now();
    if (full) {
      tasks.push(
        this.fetchTrialsFrom(from).then((trials) => {
          if (trials && !this.disposed) {
            this.trials = trials;
            trialsChanged = true;
          }
        }),
      );
      // Curves out of view are read again once scrolled to (drawStale), a
      // sample of them when due (drawsLive).
      if (this.drawsLive('curves'))
        tasks.push(
          load('/api/curves', this.curvesQuery(), '/api/curves').then((body) => {
            if (body && !this.disposed) {
              this.curves = body;
              curvesChanged = true;
            }
          }),
        );
    } else if (!deferred) {
      for (const number of numbers) {
        tasks.push(
          load('/api/trial', {study: this.study, number}, '/api/trial').then((trial) => {
            if (!trial || this.disposed) return;
            for (const name of patchTrialColumns(this.trials, trial)) patched.add(name);
            trialsChanged = true;
            if (this.curves) {
              patchCurve(this.curves, trial);
              curvesChanged = true;
            }
          }),
        );
      }
    }
    await Promise.all(tasks);
    if (this.disposed) return;
    const drawStart = performance.now();
    if (trialsChanged) await this.renderTrialPlots(false, full ? null : patched);
    if (curvesChanged && this.drawsLive('curves')) this.renderCurves();
    if (trialsChanged || curvesChanged) {
      await afterNextFrame();
      this.spendDrawing(performance.now() - drawStart);
    }
    if (full) this.nextFullAt = Date.now() + Math.max(1000, FULL_REFETCH_DUTY * (Date.now() - started));
    const importanceInterval = this.importanceInterval || IMPORTANCE_MIN_MS;
    if (d.importance && !this.importanceInFlight && Date.now() - this.lastImportance > importanceInterval) {
      d.importance = false;
      // fANOVA (CPU-seconds in the dashboard) only for a plot in view.
      if (this.shownLive('importance')) this.loadImportance();
    }
  }

  dispose() {
    this.disposed = true;
    clearTimeout(this.timer);
    clearTimeout(this.importanceTimer);
    clearTimeout(this.lagTimer);
    clearTimeout(this.resizeTimer);
    clearInterval(this.pollTimer);
    clearTimeout(this.pollEnd);
    waitingForVisible.delete(this.scheduleWhenVisible);
    waitingForVisible.delete(this.drawLaggingWhenVisible);
    window.removeEventListener('resize', this.onResize);
    if (this.events) this.events.close();
    this.viewObserver.disconnect();
  }

  // ---- shared derived data

  goal(k) {
    const o = this.info.objectives && this.info.objectives[k];
    return o && o.goal === 'maximize' ? 'maximize' : 'minimize';
  }

  // Sign s such that s × value is smaller for better values.
  sign(k) {
    return this.goal(k) === 'maximize' ? -1 : 1;
  }

  objectiveName(k) {
    const o = this.info.objectives && this.info.objectives[k];
    return o ? o.metric : `objective ${k}`;
  }

  // The study's parameters: the spec's, then any column the spec lacks.
  params() {
    const list = (this.info.params || []).slice();
    const known = new Set(list.map((p) => p.name));
    for (const name of Object.keys(this.trials.params || {})) {
      if (!known.has(name)) list.push({name, type: 'float'});
    }
    return list;
  }

  // Indices of COMPLETE trials whose objective k has a value.
  completeWithValue(k) {
    const t = this.trials;
    const column = t.values[k] || [];
    const out = [];
    for (let i = 0; i < t.numbers.length; i++) {
      if (t.states[i] === 'COMPLETE' && column[i] != null) out.push(i);
    }
    return out;
  }

  trialTooltip(i, extra) {
    const t = this.trials;
    const lines = [`<b>trial ${t.numbers[i]}</b> · ${t.states[i]}`];
    t.values.forEach((column, k) => lines.push(`${this.objectiveName(k)}: ${fmtNum(column[i])}`));
    for (const p of this.params()) {
      const column = t.params[p.name];
      if (column && column[i] != null) lines.push(`${p.name}: ${fmtParam(column[i])}`);
    }
    if (extra) lines.push(extra);
    return lines.join('<br>');
  }

  openTrial(i) {
    if (i != null && this.trials.numbers[i] != null)
      location.hash = trialHref(this.study, this.trials.numbers[i]);
  }

  // ---- rendering

  renderSummary() {
    const s = this.summary || {};
    const info = this.info;
    const state = $('study-state');
    state.textContent = '';
    state.append(badge(info.state));
    if (info.state_reason)
      state.append(' ', el('span', {class: 'muted', style: 'font-size:13px'}, info.state_reason));
    const counts = s.counts || info.counts || {};
    const share = s.max_trials > 0 ? Math.min(1, (s.finished || 0) / s.max_trials) : 0;
    const stat = (label, value, id) =>
      el('div', {class: 'stat', id}, el('div', {class: 'label'}, label), el('div', {class: 'value'}, value));
    const best = s.best ? s.best.map((v, k) => `${this.objectiveName(k)} ${fmtNum(v)}`).join(', ') : '–';
    const card = $('summary');
    card.textContent = '';
    const stats = el(
      'div',
      {class: 'summary'},
      el(
        'div',
        {class: 'stat'},
        el('div', {class: 'label'}, 'finished'),
        el('div', {class: 'value', id: 'summary-finished'}, `${s.finished || 0} / ${s.max_trials || '∞'}`),
        el('div', {class: 'progress'}, el('div', {style: `width:${(share * 100).toFixed(1)}%`})),
      ),
      STATE_ORDER.filter((st) => counts[st]).map((st) =>
        stat(st.toLowerCase(), String(counts[st]), `summary-${st}`),
      ),
      stat('best', best, 'summary-best'),
      (info.objectives || []).length > 1 ? stat('Pareto front', String(s.pareto_size || 0)) : null,
      stat(
        'trials / min',
        `${fmtNum(s.rate_recent_per_min || 0)} (all: ${fmtNum(s.rate_overall_per_min || 0)})`,
      ),
      stat('ETA', s.eta_seconds == null ? '–' : fmtDuration(s.eta_seconds * 1000)),
      stat('sampler / pruner', `${info.sampler || '–'} / ${info.pruner || '–'}`),
      stat('objectives', (info.objectives || []).map((o) => `${o.metric} (${o.goal})`).join(', ')),
    );
    card.append(stats);
    const running = s.running || [];
    if (running.length) {
      card.append(
        el('h2', {style: 'margin-top:12px'}, `Running (${running.length})`),
        el(
          'div',
          {class: 'table-wrap'},
          el(
            'table',
            {id: 'running-table'},
            el(
              'thead',
              {},
              el(
                'tr',
                {},
                ['trial', 'step', 'value', 'worker'].map((h) => el('th', {}, h)),
              ),
            ),
            el(
              'tbody',
              {},
              running.map((r) =>
                el(
                  'tr',
                  {dataset: {number: r.number}},
                  el('td', {}, el('a', {href: trialHref(this.study, r.number)}, String(r.number))),
                  el('td', {class: 'num'}, r.step == null ? '–' : String(r.step)),
                  el('td', {class: 'num'}, fmtNum(r.value)),
                  el('td', {}, r.worker || '(ask/tell)'),
                ),
              ),
            ),
          ),
        ),
      );
    }
  }

  // The drawing of each plot (by card name) that depends on the trial columns.
  trialPlotSteps() {
    return {
      history: () => {
        this.renderHistoryControls();
        this.renderHistory();
      },
      table: () => this.renderTable(),
      parallel: () => this.renderParallel(),
      contour: () => {
        this.renderContourControls();
        this.renderContour();
      },
      pareto: () => this.renderPareto(),
      timeline: () => this.renderTimeline(),
      lineage: () => this.renderLineage(),
      slice: () => this.renderSlice(),
    };
  }

  // Re-renders the plots that depend on the trial columns (`only`: those
  // named, null: all; a live refresh: of those, the ones in view, see
  // watchViewport). A live refresh yields to the browser between plots, so
  // that a click or a scroll waits for one plot at most; the first load does
  // not: each yield paints a frame, and the 100,000-trial page was drawn
  // 0.2-0.7 s sooner without them (medians of 5 loads, 3 pairs;
  // bench/README.md).
  async renderTrialPlots(firstLoad = false, only = null) {
    this.trialsVersion = (this.trialsVersion || 0) + 1;
    for (const name of Object.keys(this.trialPlotSteps())) {
      if (this.disposed) return;
      if (only && !only.has(name)) continue;
      if (!firstLoad && !this.drawsLive(name)) continue;
      this.drawTrialPlot(name);
      if (!firstLoad) await yieldToBrowser();
    }
  }

  // Draws one plot of trialPlotSteps(); a plot that fails says so and does
  // not stop the others.
  drawTrialPlot(name) {
    const t0 = performance.now();
    try {
      this.trialPlotSteps()[name]();
    } catch (e) {
      showError('script', `dashboard script error: ${e.message}`);
    }
    // Milliseconds each plot's last preparation took, for benchmarks.
    renderTimings[name] = Math.round(performance.now() - t0);
  }

  // Books a drawing of `ms` that has just ended: paid for RENDER_DUTY times
  // its time after it began, or after the drawing before it is paid for.
  spendDrawing(ms) {
    const began = Date.now() - ms;
    this.drawMs = ms;
    this.drawPaidAt = Math.max(this.drawPaidAt, began) + RENDER_DUTY * ms;
  }

  renderHistoryControls() {
    const holder = $('ctl-history');
    const objectives = this.info.objectives || [];
    if (objectives.length < 2 || holder.childElementCount) return;
    holder.append(
      el('label', {}, 'objective '),
      select(
        'history-objective',
        objectives.map((o, k) => [k, o.metric]),
        this.ui.historyObjective,
        (v) => {
          this.ui.historyObjective = Number(v);
          this.renderHistory();
        },
      ),
    );
  }

  // History: one point per trial with a value of the chosen objective (x:
  // trial number), coloured by state, and the best-so-far line over COMPLETE
  // trials. More than HISTORY_EXACT_MAX in the window are drawn one point
  // per state and HISTORY_CELL_PX cell (historyPoints); zooming in redraws
  // the window.
  // data-points: trials with a value.
  renderHistory() {
    const t = this.trials;
    const k = this.ui.historyObjective;
    const column = t.values[k] || [];
    const sign = this.sign(k);
    const hist = {xs: [], ys: [], stateOf: [], rows: [], states: []};
    const stateCodes = new Map();
    const bestLine = [];
    let best = null;
    for (let i = 0; i < t.numbers.length; i++) {
      const y = column[i];
      if (y == null) continue;
      const state = t.states[i];
      if (!stateCodes.has(state)) stateCodes.set(state, stateCodes.size);
      hist.xs.push(t.numbers[i]);
      hist.ys.push(y);
      hist.stateOf.push(stateCodes.get(state));
      hist.rows.push(i);
      if (state === 'COMPLETE' && (best == null || sign * y < sign * best)) {
        best = y;
        bestLine.push([t.numbers[i], y]);
      }
    }
    const points = hist.rows.length;
    if (!points) {
      this.history = null;
      plotMessage('plot-history', 'No trial has a value yet.');
      setNote('history', '');
      return;
    }
    if (bestLine.length) bestLine.push([t.numbers[t.numbers.length - 1], best]);
    // Series in state order: remap the codes.
    hist.states = [...stateCodes.keys()].sort((a, b) => STATE_ORDER.indexOf(a) - STATE_ORDER.indexOf(b));
    const remap = [];
    hist.states.forEach((state, s) => (remap[stateCodes.get(state)] = s));
    for (let j = 0; j < points; j++) hist.stateOf[j] = remap[hist.stateOf[j]];
    const x0 = hist.xs[0];
    const x1 = hist.xs[points - 1];
    [hist.min, hist.max] = x1 > x0 ? [x0, x1] : [x0 - 1, x1 + 1];
    hist.best = best;
    hist.symbolSize = points > 5000 ? 3 : 6;
    hist.bestSeries = {
      type: 'line',
      name: `best (${this.goal(k)})`,
      data: bestLine,
      step: 'end',
      showSymbol: false,
      lineStyle: {color: '#1d2330', width: 2},
      itemStyle: {color: '#1d2330'},
      silent: true,
      z: 5,
    };
    this.history = hist;
    // A redraw (live update) keeps the window the user zoomed to.
    const zoom = this.historyZoom || {start: 0, end: 100};
    const drawn = this.historySeries(hist, zoom);
    drawPlot(
      'plot-history',
      {
        grid: GRID,
        legend: {top: 0},
        tooltip: {
          ...TOOLTIP,
          formatter: (p) => {
            const rows = this.history && this.history.drawnRows[p.seriesIndex];
            return rows ? this.trialTooltip(rows[p.dataIndex]) : '';
          },
        },
        xAxis: {
          type: 'value',
          name: 'trial',
          nameLocation: 'middle',
          nameGap: 24,
          min: hist.min,
          max: hist.max,
          // A zoom window's edges fall between trials: no label there.
          axisLabel: {
            hideOverlap: true,
            formatter: (v) => (Number.isInteger(v) ? echarts.format.addCommas(v) : ''),
          },
        },
        yAxis: {type: 'value', name: this.objectiveName(k), scale: true},
        dataZoom: [{type: 'inside', filterMode: 'none', ...zoom}],
        series: drawn,
      },
      points,
      (s, d) => {
        const rows = this.history && this.history.drawnRows[s];
        if (rows) this.openTrial(rows[d]);
      },
    );
    const chart = echarts.getInstanceByDom($('plot-history'));
    if (chart)
      followZoom(
        chart,
        (zoom) => (this.historyZoom = zoom),
        () => this.redrawHistoryWindow(),
      );
  }

  // The history's series for the zoom window {start, end} (percent of the
  // axis), the best-so-far line last; sets the note and
  // this.history.drawnRows[s][d]: the trial index of series s's point d.
  historySeries(hist, zoom) {
    const [from, to] = zoomedRange(hist.min, hist.max, zoom);
    const node = $('plot-history');
    const width = Math.max(100, (node.clientWidth || 600) - GRID.left - GRID.right);
    const height = Math.max(50, (node.clientHeight || 300) - GRID.top - GRID.bottom);
    const cells = (pixels) => Math.ceil(pixels / HISTORY_CELL_PX);
    const drawn = historyPoints(hist, from, to, cells(width), cells(height));
    hist.drawnRows = drawn.rows;
    const series = hist.states.map((state, s) => ({
      type: 'scatter',
      name: state,
      data: toTyped(drawn.flat[s]),
      dimensions: ['trial', 'value'],
      large: drawn.rows[s].length > LARGE_THRESHOLD,
      largeThreshold: LARGE_THRESHOLD,
      symbolSize: hist.symbolSize,
      itemStyle: {color: STATE_COLORS[state] || '#999'},
    }));
    series.push(hist.bestSeries);
    const shown = drawn.rows.reduce((sum, rows) => sum + rows.length, 0);
    setNote(
      'history',
      `${hist.xs.length} trials with a value; best ${fmtNum(hist.best)}` +
        (drawn.thinned
          ? ` (${shown} drawn: one per ${HISTORY_CELL_PX} px square and state; zoom for all)`
          : ''),
    );
    return series;
  }

  // Draws the history's zoom window again (after a zoom or a pan).
  redrawHistoryWindow() {
    const node = $('plot-history');
    const chart = node && echarts.getInstanceByDom(node);
    if (!chart || !this.history || this.disposed) return;
    const series = this.historySeries(this.history, this.historyZoom);
    // Replaced, not merged: ECharts merges typed arrays element by element.
    chart.setOption({series}, {replaceMerge: ['series']});
  }

  renderCurvesControls() {
    const holder = $('ctl-curves');
    const objectives = this.info.objectives || [];
    if (objectives.length < 2 || holder.childElementCount) return;
    holder.append(
      el('label', {}, 'metric '),
      select(
        'curves-metric',
        objectives.map((o) => [o.metric, o.metric]),
        this.curveMetric,
        async (v) => {
          this.curveMetric = v;
          await this.loadCurves();
          if (this.curves) this.renderCurves();
        },
      ),
    );
  }

  // Learning curves: one polyline per trial of /api/curves (a pruned one ends
  // at its rung), coloured by state; hovering names the trial. data-points:
  // total points over all curves.
  renderCurves() {
    this.renderCurvesControls();
    const c = this.curves;
    const byState = new Map();
    let points = 0;
    let xs = [Infinity, -Infinity];
    let ys = [Infinity, -Infinity];
    // ECharts' flat polyline format per state: count, then x, y pairs; a
    // one-point curve repeats its point (a polyline needs two). Sized
    // first, then filled: no growing arrays of ~400,000 numbers.
    const pointsOf = (curve) => Math.min(curve.steps.length, curve.values.length);
    for (const curve of c.curves) {
      const n = pointsOf(curve);
      if (!n) continue;
      if (!byState.has(curve.state)) byState.set(curve.state, {size: 0, at: 0, curves: []});
      byState.get(curve.state).size += 1 + 2 * Math.max(2, n);
    }
    for (const bucket of byState.values()) bucket.flat = new Float64Array(bucket.size);
    for (const curve of c.curves) {
      const n = pointsOf(curve);
      if (!n) continue;
      const bucket = byState.get(curve.state);
      const flat = bucket.flat;
      flat[bucket.at++] = Math.max(2, n);
      for (let j = 0; j < Math.max(2, n); j++) {
        const x = curve.steps[Math.min(j, n - 1)];
        const value = curve.values[Math.min(j, n - 1)];
        const y = value == null ? NaN : value;
        flat[bucket.at++] = x;
        flat[bucket.at++] = y;
        if (x < xs[0]) xs[0] = x;
        if (x > xs[1]) xs[1] = x;
        if (y < ys[0]) ys[0] = y;
        if (y > ys[1]) ys[1] = y;
      }
      bucket.curves.push(curve);
      points += n;
    }
    const shown = [...byState.values()].reduce((a, b) => a + b.curves.length, 0);
    // The page asks for the best CURVE_MAX: a sample of more trials.
    this.noteDrawn('curves', c.total_trials > CURVE_MAX);
    setNote(
      'curves',
      `${c.metric}: ${shown} of ${c.total_trials} trials` + (shown < c.total_trials ? ' (best first)' : ''),
    );
    if (!points) {
      plotMessage('plot-curves', `No trial has reported ${c.metric} yet.`);
      return;
    }
    const states = [...byState.keys()].sort((a, b) => STATE_ORDER.indexOf(a) - STATE_ORDER.indexOf(b));
    const curvesOf = states.map((s) => byState.get(s).curves);
    const many = shown > 300;
    const series = states.map((state) => {
      const bucket = byState.get(state);
      return {
        type: 'lines',
        name: state,
        coordinateSystem: 'cartesian2d',
        polyline: true,
        data: bucket.flat,
        dimensions: ['value'],
        large: bucket.curves.length > 500,
        largeThreshold: 500,
        lineStyle: {color: STATE_COLORS[state] || '#999', width: 1, opacity: many ? 0.35 : 0.8},
        emphasis: {lineStyle: {width: 3, opacity: 1}},
        clip: true,
      };
    });
    // Lines series do not give axes an extent: set it from the data.
    const [x0, x1] = xs[0] === xs[1] ? [xs[0] - 1, xs[1] + 1] : xs;
    const [y0, y1] = padded(ys);
    const tooltip = (p) => {
      const curve = curvesOf[p.seriesIndex] && curvesOf[p.seriesIndex][p.dataIndex];
      if (!curve) return '';
      const last = curve.steps.length - 1;
      return `<b>trial ${curve.number}</b> · ${curve.state}<br>last step ${curve.steps[last]}: ${c.metric} ${fmtNum(curve.values[last])}`;
    };
    drawPlot(
      'plot-curves',
      {
        grid: GRID,
        legend: {top: 0, data: states},
        tooltip: {...TOOLTIP, formatter: tooltip},
        xAxis: {type: 'value', name: 'step', nameLocation: 'middle', nameGap: 24, min: x0, max: x1},
        yAxis: {type: 'value', name: c.metric, min: y0, max: y1, axisLabel: {formatter: fmtNum}},
        series,
      },
      points,
      (s, d) => {
        const curve = curvesOf[s] && curvesOf[s][d];
        if (curve) location.hash = trialHref(this.study, curve.number);
      },
    );
  }

  // Parallel coordinates: one line per COMPLETE trial with a value (at most
  // PARALLEL_MAX: the best quarter plus an even sample of the rest), axes =
  // parameters then objectives, coloured by the first objective.
  // data-points: lines drawn.
  renderParallel() {
    const t = this.trials;
    const params = this.params();
    const nObj = Math.max(1, t.values.length);
    let rows = this.completeWithValue(0);
    const total = rows.length;
    if (!total) {
      plotMessage('plot-parallel', 'No COMPLETE trial yet.');
      setNote('parallel', '');
      return;
    }
    this.noteDrawn('parallel', rows.length > PARALLEL_MAX);
    if (rows.length > PARALLEL_MAX) rows = this.sampleBest(rows, PARALLEL_MAX);
    const choiceMaps = params.map(choiceIndexOf);
    const data = rows.map((i) => {
      const row = params.map((p) => {
        const column = t.params[p.name];
        const v = column ? column[i] : null;
        if (v == null) return '-';
        return p.type === 'categorical' ? String(v) : v;
      });
      for (let k = 0; k < nObj; k++) row.push(t.values[k] ? t.values[k][i] : '-');
      return row;
    });
    const axes = params.map((p, d) => {
      const axis = paramAxis(p, {dim: d});
      if (p.type === 'categorical' && !choiceMaps[d].size) {
        axis.data = [...new Set(data.map((r) => r[d]).filter((v) => v !== '-'))];
      }
      return axis;
    });
    for (let k = 0; k < nObj; k++) {
      axes.push({
        dim: params.length + k,
        name: this.objectiveName(k),
        type: 'value',
        scale: true,
        nameTextStyle: {fontWeight: 'bold'},
      });
    }
    const objectiveRange = rangeOf(rows.map((i) => t.values[0][i]));
    // Colours run from min to max: dark (better) at the min when minimising.
    const colours = this.sign(0) > 0 ? VALUE_PALETTE : VALUE_PALETTE.slice().reverse();
    setNote(
      'parallel',
      rows.length < total
        ? `${rows.length} of ${total} COMPLETE trials (best quarter + sample)`
        : `${total} COMPLETE trials`,
    );
    drawPlot(
      'plot-parallel',
      {
        parallel: {left: 50, right: 120, top: 40, bottom: 30},
        parallelAxis: axes,
        visualMap: {
          type: 'continuous',
          dimension: params.length,
          min: objectiveRange[0],
          max: objectiveRange[1],
          inRange: {color: colours},
          right: 0,
          top: 'middle',
          itemHeight: 120,
          calculable: true,
          text: [this.objectiveName(0), ''],
          precision: 4,
        },
        tooltip: {...TOOLTIP, formatter: (p) => this.trialTooltip(rows[p.dataIndex])},
        series: [
          {
            type: 'parallel',
            data,
            smooth: false,
            progressive: 0,
            lineStyle: {width: 1, opacity: rows.length > 2000 ? 0.15 : 0.5},
            emphasis: {lineStyle: {width: 3, opacity: 1}},
          },
        ],
      },
      rows.length,
      (s, d) => this.openTrial(rows[d]),
    );
  }

  // `rows` (trial indices) cut to `max`: the best max/4 by the first
  // objective, then an even sample of the others.
  sampleBest(rows, max) {
    const sorted = this.ranked(rows);
    const keep = Math.floor(max / 4);
    const out = sorted.slice(0, keep);
    const rest = sorted.slice(keep);
    const stride = rest.length / (max - keep);
    for (let j = 0; j < max - keep; j++) out.push(rest[Math.floor(j * stride)]);
    return out.sort((a, b) => a - b);
  }

  // `rows` sorted best first by the first objective; remembered for the
  // same trials (the overview plots all rank the same rows).
  ranked(rows) {
    const cache = this.rankCache;
    if (cache && cache.version === this.trialsVersion && cache.rows === rows.length) return cache.sorted;
    const column = this.trials.values[0];
    const sign = this.sign(0);
    // Each key carries its position in `rows` in its lowest mantissa bits,
    // so that a native numeric sort (no comparator: 21 vs 61 ms for 80,000
    // trials) orders the positions too. Keys closer than 2^(bits - 52) of
    // their size may swap: no plot can show that. (Little-endian, as every
    // browser's typed arrays are; the keys are finite.)
    const n = rows.length;
    const bits = Math.max(1, Math.ceil(Math.log2(n + 1)));
    const mask = 2 ** bits - 1;
    const keys = new Float64Array(n);
    const low = new Uint32Array(keys.buffer);
    for (let j = 0; j < n; j++) {
      keys[j] = sign * column[rows[j]];
      low[2 * j] = ((low[2 * j] & ~mask) | j) >>> 0;
    }
    keys.sort();
    const sorted = new Array(n);
    for (let j = 0; j < n; j++) sorted[j] = rows[low[2 * j] & mask];
    this.rankCache = {version: this.trialsVersion, rows: n, sorted};
    return sorted;
  }

  // Slice plot: one small scatter per parameter (x: its value, y: the first
  // objective) over COMPLETE trials, coloured by trial number.
  // data-points: points over all parameters.
  renderSlice() {
    const t = this.trials;
    const params = this.params();
    const node = $('plot-slice');
    const all = this.completeWithValue(0);
    this.noteDrawn('slice', all.length > SLICE_MAX);
    const rows = all.length > SLICE_MAX ? this.sampleBest(all, SLICE_MAX) : all;
    setNote(
      'slice',
      rows.length < all.length
        ? `${rows.length} of ${all.length} COMPLETE trials (best quarter + sample)`
        : '',
    );
    if (!params.length || !rows.length) {
      plotMessage('plot-slice', params.length ? 'No COMPLETE trial yet.' : 'The study has no parameters.');
      return;
    }
    const cols = Math.min(params.length, window.innerWidth > 1400 ? 4 : 3);
    const lines = Math.ceil(params.length / cols);
    const height = lines * 230 + 40;
    if (node.style.height !== `${height}px`) {
      node.style.height = `${height}px`;
      const chart = echarts.getInstanceByDom(node);
      if (chart) chart.resize();
    }
    const numberRange = rangeOf(rows.map((i) => t.numbers[i]));
    const grids = [];
    const xAxes = [];
    const yAxes = [];
    const series = [];
    const seriesRows = [];
    let points = 0;
    params.forEach((p, g) => {
      const col = g % cols;
      const line = Math.floor(g / cols);
      grids.push({
        left: `${(col / cols) * 100 + 4}%`,
        width: `${100 / cols - 6}%`,
        top: line * 230 + 30,
        height: 170,
      });
      xAxes.push(paramAxis(p, {gridIndex: g, nameLocation: 'middle', nameGap: 22}));
      yAxes.push({
        type: 'value',
        scale: true,
        gridIndex: g,
        name: col === 0 ? this.objectiveName(0) : '',
        axisLabel: {formatter: fmtNum},
      });
      const column = t.params[p.name] || [];
      const choices = choiceIndexOf(p);
      const xs = [];
      const ys = [];
      const cs = [];
      const rs = [];
      for (const i of rows) {
        const x = paramCoord(p, column[i], choices);
        if (x == null) continue;
        xs.push(x);
        ys.push(t.values[0][i]);
        cs.push(t.numbers[i]);
        rs.push(i);
      }
      points += xs.length;
      const binned = colourBinnedScatter(
        {xAxisIndex: g, yAxisIndex: g, symbolSize: rows.length > 5000 ? 3 : 5},
        xs,
        ys,
        cs,
        rs,
        numberRange[0],
        numberRange[1],
        NUMBER_PALETTE,
      );
      for (const s of binned.series) s.name = `trials ${s.name}`;
      series.push(...binned.series);
      seriesRows.push(...binned.rows);
    });
    drawPlot(
      'plot-slice',
      {
        grid: grids,
        xAxis: xAxes,
        yAxis: yAxes,
        series,
        tooltip: {...TOOLTIP, formatter: (p) => this.trialTooltip(seriesRows[p.seriesIndex][p.dataIndex])},
      },
      points,
      (s, d) => this.openTrial(seriesRows[s][d]),
    );
  }

  renderContourControls() {
    const holder = $('ctl-contour');
    const params = this.params();
    const names = params.map((p) => [p.name, p.name]);
    if (this.ui.contourX == null && params.length) this.ui.contourX = params[0].name;
    if (this.ui.contourY == null && params.length > 1) this.ui.contourY = params[1].name;
    if (holder.childElementCount || params.length < 2) return;
    holder.append(
      el('label', {}, 'x '),
      select('contour-x', names, this.ui.contourX, (v) => {
        this.ui.contourX = v;
        this.renderContour();
      }),
      el('label', {}, ' y '),
      select('contour-y', names, this.ui.contourY, (v) => {
        this.ui.contourY = v;
        this.renderContour();
      }),
      el('label', {}, ' '),
      select(
        'contour-mode',
        [
          ['scatter', 'scatter'],
          ['binned', 'binned (mean)'],
        ],
        this.ui.contourMode,
        (v) => {
          this.ui.contourMode = v;
          this.renderContour();
        },
      ),
    );
  }

  // Contour of two chosen parameters over COMPLETE trials, coloured by the
  // first objective: a scatter (data-points: trials drawn) or a 20×20 binned
  // heatmap of the mean value (data-points: non-empty cells).
  renderContour() {
    const t = this.trials;
    const params = this.params();
    if (params.length < 2) {
      plotMessage('plot-contour', 'A contour needs two parameters.');
      return;
    }
    const px = params.find((p) => p.name === this.ui.contourX) || params[0];
    const py = params.find((p) => p.name === this.ui.contourY) || params[1];
    const cx = choiceIndexOf(px);
    const cy = choiceIndexOf(py);
    const xs = [];
    const ys = [];
    const vs = [];
    const rs = [];
    const all = this.completeWithValue(0);
    // The binned heatmap uses every trial; the scatter a sample.
    const sampled = this.ui.contourMode !== 'binned' && all.length > CONTOUR_MAX;
    this.noteDrawn('contour', all.length > CONTOUR_MAX); // Binned: as large.
    for (const i of sampled ? this.sampleBest(all, CONTOUR_MAX) : all) {
      const x = paramCoord(px, (t.params[px.name] || [])[i], cx);
      const y = paramCoord(py, (t.params[py.name] || [])[i], cy);
      if (x == null || y == null) continue;
      xs.push(x);
      ys.push(y);
      vs.push(t.values[0][i]);
      rs.push(i);
    }
    if (!xs.length) {
      plotMessage('plot-contour', `No COMPLETE trial has both ${px.name} and ${py.name}.`);
      return;
    }
    const [lo, hi] = rangeOf(vs);
    // Palette from better to worse: for a maximised objective, high is better.
    const palette = this.sign(0) > 0 ? VALUE_PALETTE : VALUE_PALETTE.slice().reverse();
    const axisName = {nameLocation: 'middle', nameGap: 24};
    if (this.ui.contourMode === 'binned')
      return this.renderContourBinned(px, py, xs, ys, vs, lo, hi, palette);
    const binned = colourBinnedScatter(
      {symbolSize: xs.length > 5000 ? 3 : 7},
      xs,
      ys,
      vs,
      rs,
      lo,
      hi,
      palette,
    );
    setNote(
      'contour',
      `${xs.length}${sampled ? ` of ${all.length} (best quarter + sample)` : ''} trials; ` +
        `colour: ${this.objectiveName(0)} (dark = better)`,
    );
    drawPlot(
      'plot-contour',
      {
        grid: {...GRID, right: 110},
        legend: {type: 'scroll', orient: 'vertical', right: 0, top: 20, textStyle: {fontSize: 10}},
        xAxis: paramAxis(px, axisName),
        yAxis: paramAxis(py, {nameLocation: 'end'}),
        tooltip: {...TOOLTIP, formatter: (p) => this.trialTooltip(binned.rows[p.seriesIndex][p.dataIndex])},
        series: binned.series,
      },
      xs.length,
      (s, d) => this.openTrial(binned.rows[s][d]),
    );
  }

  renderContourBinned(px, py, xs, ys, vs, lo, hi, palette) {
    const BINS = 20;
    // Bin edges: choices for categorical parameters, else BINS equal steps
    // (in log space for log parameters) over the data's range.
    const binner = (p, values) => {
      if (p.type === 'categorical') {
        const labels = (p.choices || []).map(String);
        return {labels, of: (v) => v};
      }
      const f = p.log ? Math.log10 : (v) => v;
      const [a, b] = rangeOf(values.map(f));
      const width = b > a ? (b - a) / BINS : 1;
      const labels = [];
      for (let j = 0; j < BINS; j++)
        labels.push(fmtNum(p.log ? 10 ** (a + (j + 0.5) * width) : a + (j + 0.5) * width));
      return {labels, of: (v) => Math.min(BINS - 1, Math.floor((f(v) - a) / width))};
    };
    const bx = binner(px, xs);
    const by = binner(py, ys);
    const cells = new Map();
    for (let j = 0; j < xs.length; j++) {
      const key = bx.of(xs[j]) * 4096 + by.of(ys[j]);
      const cell = cells.get(key) || {sum: 0, n: 0};
      cell.sum += vs[j];
      cell.n++;
      cells.set(key, cell);
    }
    const data = [];
    for (const [key, cell] of cells)
      data.push([Math.floor(key / 4096), key % 4096, cell.sum / cell.n, cell.n]);
    setNote(
      'contour',
      `${xs.length} trials in ${data.length} cells; colour: mean ${this.objectiveName(0)} (dark = better)`,
    );
    drawPlot(
      'plot-contour',
      {
        grid: {...GRID, right: 90},
        xAxis: {type: 'category', data: bx.labels, name: px.name, nameLocation: 'middle', nameGap: 24},
        yAxis: {type: 'category', data: by.labels, name: py.name},
        visualMap: {
          type: 'continuous',
          dimension: 2,
          min: lo,
          max: hi,
          inRange: {color: palette},
          right: 0,
          top: 'middle',
          itemHeight: 120,
          calculable: true,
          precision: 4,
        },
        tooltip: {
          ...TOOLTIP,
          formatter: (p) =>
            `${px.name} ≈ ${bx.labels[p.value[0]]}<br>${py.name} ≈ ${by.labels[p.value[1]]}<br>` +
            `mean ${this.objectiveName(0)} ${fmtNum(p.value[2])} over ${p.value[3]} trials`,
        },
        series: [{type: 'heatmap', data, progressive: 0}],
      },
      data.length,
    );
  }

  // Importance: fANOVA from /api/importance, one bar per parameter; a 409
  // (too few COMPLETE trials) shows the API's text. data-points: bars.
  renderImportance() {
    const imp = this.importance;
    if (!imp) return;
    if (imp.error) {
      plotMessage('plot-importance', imp.error);
      setNote('importance', '');
      return;
    }
    const list = (imp.importances || []).slice().sort((a, b) => a.importance - b.importance);
    if (!list.length) {
      plotMessage('plot-importance', 'No importance to show.');
      return;
    }
    setNote('importance', `fANOVA of ${imp.objective} over ${imp.trials_used} COMPLETE trials`);
    drawPlot(
      'plot-importance',
      {
        grid: {...GRID, left: 120},
        tooltip: {...TOOLTIP, formatter: (p) => `${p.name}: ${fmtNum(p.value)}`},
        xAxis: {type: 'value', name: 'importance', nameLocation: 'middle', nameGap: 24},
        yAxis: {type: 'category', data: list.map((x) => x.param)},
        series: [
          {
            type: 'bar',
            data: list.map((x) => x.importance),
            itemStyle: {color: '#2f6fde'},
            label: {show: true, position: 'right', formatter: (p) => fmtNum(p.value)},
          },
        ],
      },
      list.length,
    );
  }

  renderParetoControls() {
    const holder = $('ctl-pareto');
    const objectives = this.info.objectives || [];
    if (objectives.length < 3 || holder.childElementCount) return;
    const names = objectives.map((o, k) => [k, o.metric]);
    holder.append(
      el('label', {}, 'x '),
      select('pareto-x', names, this.ui.paretoX, (v) => {
        this.ui.paretoX = Number(v);
        this.renderPareto();
      }),
      el('label', {}, ' y '),
      select('pareto-y', names, this.ui.paretoY, (v) => {
        this.ui.paretoY = Number(v);
        this.renderPareto();
      }),
    );
  }

  // Pareto front (multi-objective studies): every COMPLETE trial with all
  // objective values, the non-dominated ones (over all objectives)
  // highlighted. data-points: all points; data-front: non-dominated points.
  // Single-objective studies hide the card (data-points 0).
  renderPareto() {
    const t = this.trials;
    const nObj = (this.info.objectives || []).length;
    const card = $('card-pareto');
    if (nObj < 2) {
      card.hidden = true;
      plotMessage('plot-pareto', 'Single-objective study: no Pareto front.');
      return;
    }
    card.hidden = false;
    this.renderParetoControls();
    const rows = [];
    for (let i = 0; i < t.numbers.length; i++) {
      if (t.states[i] !== 'COMPLETE') continue;
      let all = true;
      for (let k = 0; k < nObj; k++) if (!t.values[k] || t.values[k][i] == null) all = false;
      if (all) rows.push(i);
    }
    if (!rows.length) {
      plotMessage('plot-pareto', 'No COMPLETE trial with every objective yet.');
      $('plot-pareto').dataset.front = '0';
      return;
    }
    const front = new Set(this.nonDominated(rows, nObj));
    const kx = this.ui.paretoX;
    const ky = this.ui.paretoY;
    const dominated = {data: [], rows: []};
    const best = {data: [], rows: []};
    for (const i of rows) {
      const bucket = front.has(i) ? best : dominated;
      bucket.data.push(t.values[kx][i], t.values[ky][i]);
      bucket.rows.push(i);
    }
    // The front as a line, in x order (meaningful for two objectives).
    const frontLine = best.rows.map((i) => [t.values[kx][i], t.values[ky][i]]).sort((a, b) => a[0] - b[0]);
    const seriesRows = [dominated.rows, best.rows, null];
    setNote(
      'pareto',
      `${rows.length} COMPLETE trials, ${front.size} on the Pareto front (${this.goal(kx)} ${this.objectiveName(kx)}, ${this.goal(ky)} ${this.objectiveName(ky)})`,
    );
    $('plot-pareto').dataset.front = String(front.size);
    drawPlot(
      'plot-pareto',
      {
        grid: GRID,
        legend: {top: 0},
        tooltip: {
          ...TOOLTIP,
          formatter: (p) =>
            seriesRows[p.seriesIndex] ? this.trialTooltip(seriesRows[p.seriesIndex][p.dataIndex]) : '',
        },
        xAxis: {
          type: 'value',
          scale: true,
          name: this.objectiveName(kx),
          nameLocation: 'middle',
          nameGap: 24,
        },
        yAxis: {type: 'value', scale: true, name: this.objectiveName(ky)},
        series: [
          {
            type: 'scatter',
            name: 'dominated',
            data: toTyped(dominated.data),
            dimensions: ['x', 'y'],
            symbolSize: rows.length > 5000 ? 4 : 7,
            large: dominated.rows.length > LARGE_THRESHOLD,
            itemStyle: {color: '#aab2c2'},
          },
          {
            type: 'scatter',
            name: 'Pareto front',
            data: toTyped(best.data),
            dimensions: ['x', 'y'],
            symbolSize: 10,
            large: best.rows.length > LARGE_THRESHOLD,
            itemStyle: {color: '#d64545'},
            z: 3,
          },
          nObj === 2
            ? {
                type: 'line',
                name: 'front',
                data: frontLine,
                showSymbol: false,
                silent: true,
                lineStyle: {color: '#d64545', type: 'dashed', width: 1},
                itemStyle: {color: '#d64545'},
              }
            : null,
        ].filter(Boolean),
      },
      rows.length,
      (s, d) => seriesRows[s] && this.openTrial(seriesRows[s][d]),
    );
  }

  // Trial indices of `rows` that no other row dominates (no worse in every
  // objective, better in one), with each objective's goal.
  nonDominated(rows, nObj) {
    const t = this.trials;
    const signs = [];
    for (let k = 0; k < nObj; k++) signs.push(this.sign(k));
    const key = (i, k) => signs[k] * t.values[k][i];
    // Sorted by the first objective (then the others), a point can only be
    // dominated by one before it, so comparing with the front so far is enough.
    const sorted = rows.slice().sort((a, b) => {
      for (let k = 0; k < nObj; k++) {
        const d = key(a, k) - key(b, k);
        if (d) return d;
      }
      return a - b;
    });
    const front = [];
    for (const i of sorted) {
      let dominatedBy = false;
      for (const j of front) {
        let noWorse = true;
        let better = false;
        for (let k = 0; k < nObj; k++) {
          const d = key(j, k) - key(i, k);
          if (d > 0) {
            noWorse = false;
            break;
          }
          if (d < 0) better = true;
        }
        if (noWorse && better) {
          dominatedBy = true;
          break;
        }
      }
      if (!dominatedBy) front.push(i);
    }
    return front;
  }

  // Timeline: one row per worker (ask/tell trials in their own row), a bar
  // per trial from its start to its end (now while it runs), coloured by
  // state; gaps are idle time. With more than TIMELINE_EXACT_MAX trials in
  // view a bar is narrower than a pixel, so each row is drawn at pixel
  // resolution instead (timelineBins): zooming in redraws the window, down
  // to one bar per trial. data-points: trials with a start.
  renderTimeline() {
    const t = this.trials;
    const now = Date.now();
    const workers = new Map();
    const byState = new Map();
    const bars = {starts: [], ends: [], rowOf: [], stateOf: [], trials: []};
    let x0 = Infinity;
    let x1 = -Infinity;
    for (let i = 0; i < t.numbers.length; i++) {
      const start = t.start_ms[i];
      if (!(start > 0)) continue;
      const end = Math.max(t.end_ms[i] > 0 ? t.end_ms[i] : now, start + 1);
      const worker = t.workers[i] || '(ask/tell)';
      if (!workers.has(worker)) workers.set(worker, workers.size);
      const state = t.states[i];
      if (!byState.has(state)) byState.set(state, byState.size);
      bars.starts.push(start);
      bars.ends.push(end);
      bars.rowOf.push(workers.get(worker));
      bars.stateOf.push(byState.get(state));
      bars.trials.push(i);
      if (start < x0) x0 = start;
      if (end > x1) x1 = end;
    }
    const count = bars.trials.length;
    if (!count) {
      plotMessage('plot-timeline', 'No trial has started yet.');
      setNote('timeline', '');
      return;
    }
    // Rows sorted by name, series in state order: remap both.
    const names = [...workers.keys()].sort();
    const rowRemap = new Map(names.map((n, j) => [workers.get(n), j]));
    const states = [...byState.keys()].sort((a, b) => STATE_ORDER.indexOf(a) - STATE_ORDER.indexOf(b));
    const stateRemap = new Map(states.map((st, k) => [byState.get(st), k]));
    for (let j = 0; j < count; j++) {
      bars.rowOf[j] = rowRemap.get(bars.rowOf[j]);
      bars.stateOf[j] = stateRemap.get(bars.stateOf[j]);
    }
    const node = $('plot-timeline');
    const height = Math.min(700, Math.max(260, names.length * 26 + 80));
    if (node.style.height !== `${height}px`) {
      node.style.height = `${height}px`;
      const chart = echarts.getInstanceByDom(node);
      if (chart) chart.resize();
    }
    const span = Math.max(1000, x1 - x0);
    const timeline = {
      ...bars,
      names,
      states,
      min: x0 - span * 0.01,
      max: x1 + span * 0.01,
      barWidth: Math.max(2, Math.min(16, ((height - 80) / names.length) * 0.6)),
    };
    this.timeline = timeline;
    // A redraw (live update) keeps the window the user zoomed to.
    const zoom = this.timelineZoom || {start: 0, end: 100};
    const drawn = this.timelineSeries(timeline, zoom);
    setNote(
      'timeline',
      `${count} trials on ${names.length} worker${names.length === 1 ? '' : 's'}${drawn.note}`,
    );
    drawPlot(
      'plot-timeline',
      {
        grid: {...GRID, left: TIMELINE_LEFT},
        legend: {top: 0, data: states},
        tooltip: {...TOOLTIP, formatter: (p) => this.timelineTooltip(p.seriesIndex, p.dataIndex)},
        xAxis: {type: 'time', min: timeline.min, max: timeline.max},
        // A value axis with the names as labels: a category axis makes ECharts'
        // large lines twice as slow to draw.
        yAxis: {
          type: 'value',
          min: -0.5,
          max: names.length - 0.5,
          inverse: true,
          splitLine: {show: false},
          axisTick: {show: false},
          axisLabel: {
            width: TIMELINE_LEFT - 10,
            overflow: 'truncate',
            hideOverlap: true,
            customValues: names.map((_, j) => j),
            formatter: (v) => (names[v] != null ? names[v] : ''),
          },
        },
        dataZoom: [{type: 'inside', xAxisIndex: 0, filterMode: 'none', ...zoom}],
        series: drawn.series,
      },
      count,
      (s, d) => this.clickTimeline(s, d),
    );
    followZoom(
      echarts.getInstanceByDom(node),
      (zoom) => (this.timelineZoom = zoom),
      () => this.redrawTimelineWindow(),
    );
  }

  // The timeline's series for the zoom window {start, end} (percent of the
  // axis): {series, note}. Sets this.timeline.meta[state][k]: what the k-th
  // segment of that state's series stands for (a trial's index, or a bin).
  timelineSeries(timeline, zoom) {
    const [from, to] = zoomedRange(timeline.min, timeline.max, zoom);
    const node = $('plot-timeline');
    const pixels = Math.max(100, Math.round((node.clientWidth || 800) - TIMELINE_LEFT - GRID.right));
    const segments = timelineSegments(timeline, from, to, pixels);
    timeline.meta = segments.meta;
    const series = timeline.states.map((state, k) => ({
      type: 'lines',
      name: state,
      coordinateSystem: 'cartesian2d',
      polyline: true,
      data: toTyped(segments.flat[k]),
      dimensions: ['value'],
      // Always large: ECharts reads flat typed data only in large mode.
      large: true,
      largeThreshold: 500,
      clip: true,
      lineStyle: {color: STATE_COLORS[state] || '#999', width: timeline.barWidth, opacity: 0.9, cap: 'butt'},
    }));
    const note = segments.binned
      ? ` (one bar per pixel: ${fmtDuration((to - from) / pixels)}, coloured by the state that` +
        ' holds most of it, blank where the slot was idle for most of it; zoom in for single trials)'
      : '';
    return {series, note};
  }

  // After a zoom: the same timeline redrawn for the new window.
  redrawTimelineWindow() {
    const node = $('plot-timeline');
    const chart = node && echarts.getInstanceByDom(node);
    if (!chart || !this.timeline || this.disposed) return;
    const drawn = this.timelineSeries(this.timeline, this.timelineZoom);
    // Replaced, not merged: ECharts merges typed arrays element by element.
    chart.setOption({series: drawn.series}, {replaceMerge: ['series']});
    const names = this.timeline.names;
    setNote(
      'timeline',
      `${this.timeline.trials.length} trials on ${names.length} worker${names.length === 1 ? '' : 's'}${drawn.note}`,
    );
  }

  timelineTooltip(seriesIndex, dataIndex) {
    const tl = this.timeline;
    const what = tl && tl.meta[seriesIndex] && tl.meta[seriesIndex][dataIndex];
    if (what == null) return '';
    const t = this.trials;
    if (typeof what === 'number') {
      const end = t.end_ms[what] > 0 ? t.end_ms[what] : Date.now();
      return this.trialTooltip(
        what,
        `worker ${t.workers[what] || '(ask/tell)'}<br>${fmtDuration(end - t.start_ms[what])}`,
      );
    }
    const busy = Math.round((100 * what.busy) / (what.to - what.from));
    return (
      `<b>${tl.names[what.row]}</b><br>${fmtTime(what.from)} – ${fmtTime(what.to)}<br>` +
      `${what.trials} trial${what.trials === 1 ? '' : 's'} began, busy ${busy} % of the time<br>` +
      'click to zoom in'
    );
  }

  // A click on a trial's bar opens it; on a bin, zooms to it.
  clickTimeline(seriesIndex, dataIndex) {
    const tl = this.timeline;
    const what = tl && tl.meta[seriesIndex] && tl.meta[seriesIndex][dataIndex];
    if (what == null) return;
    if (typeof what === 'number') {
      this.openTrial(what);
      return;
    }
    const chart = echarts.getInstanceByDom($('plot-timeline'));
    const width = tl.max - tl.min;
    chart.dispatchAction({
      type: 'dataZoom',
      start: Math.max(0, ((what.from - tl.min) / width) * 100),
      end: Math.min(100, ((what.to - tl.min) / width) * 100),
    });
  }

  // PBT lineage: an arrow from donor to trial for each exploit (the trial
  // copied the donor's weights), nodes placed at (start time, first
  // objective); the card is hidden when no trial has exploited.
  // data-points: arrows.
  renderLineage() {
    const t = this.trials;
    const exploits = t.exploits || {};
    const entries = Object.entries(exploits).filter(([, list]) => list && list.length);
    const card = $('card-lineage');
    if (!entries.length) {
      card.hidden = true;
      plotMessage('plot-lineage', 'No trial has exploited another (not a PBT study).');
      return;
    }
    card.hidden = false;
    const nodeOf = new Map();
    const nodes = [];
    const node = (number) => {
      if (nodeOf.has(number)) return nodeOf.get(number);
      const i = indexOfNumber(t, number);
      const known = t.numbers[i] === number;
      const x = known && t.start_ms[i] > 0 ? t.start_ms[i] : number;
      const y = known && t.values[0] && t.values[0][i] != null ? t.values[0][i] : 0;
      nodes.push({
        name: String(number),
        value: [x, y],
        trial: known ? i : null,
        itemStyle: {color: STATE_COLORS[known ? t.states[i] : 'WAITING']},
      });
      nodeOf.set(number, nodes.length - 1);
      return nodes.length - 1;
    };
    const links = [];
    for (const [number, list] of entries) {
      for (const e of list) {
        links.push({
          source: node(e.donor),
          target: node(Number(number)),
          tip: `trial ${number} took trial ${e.donor}'s weights at step ${e.step} (donor's step ${e.donor_step})`,
        });
      }
    }
    const timeAxis = nodes.every((n) => n.value[0] > 1e11);
    setNote('lineage', `${links.length} exploits among ${nodes.length} trials`);
    drawPlot(
      'plot-lineage',
      {
        grid: GRID,
        tooltip: {
          ...TOOLTIP,
          formatter: (p) =>
            p.dataType === 'edge'
              ? p.data.tip
              : p.data.trial != null
                ? this.trialTooltip(p.data.trial)
                : `trial ${p.name}`,
        },
        xAxis: {type: timeAxis ? 'time' : 'value', scale: true, name: timeAxis ? '' : 'trial'},
        yAxis: {type: 'value', scale: true, name: this.objectiveName(0)},
        series: [
          {
            type: 'graph',
            coordinateSystem: 'cartesian2d',
            layout: 'none',
            data: nodes,
            links,
            symbolSize: 9,
            edgeSymbol: ['none', 'arrow'],
            edgeSymbolSize: 7,
            label: {show: nodes.length <= 60, position: 'top', fontSize: 10},
            lineStyle: {color: '#59627a', opacity: 0.6, curveness: 0.1},
            emphasis: {focus: 'adjacency'},
          },
        ],
      },
      links.length,
      (s, d, p) => p.dataType === 'node' && p.data.trial != null && this.openTrial(p.data.trial),
    );
  }

  // ---- trial table

  // Columns of the table: key, header, value of trial i, and whether numeric.
  tableColumns() {
    const t = this.trials;
    const now = Date.now();
    const columns = [
      {key: 'number', title: '#', value: (i) => t.numbers[i], num: true},
      {key: 'state', title: 'state', value: (i) => t.states[i]},
    ];
    t.values.forEach((column, k) =>
      columns.push({key: `v${k}`, title: this.objectiveName(k), value: (i) => column[i], num: true}),
    );
    for (const p of this.params()) {
      const column = t.params[p.name] || [];
      columns.push({
        key: `p:${p.name}`,
        title: p.name,
        value: (i) => column[i],
        num: p.type !== 'categorical',
      });
    }
    columns.push({
      key: 'duration',
      title: 'duration',
      num: true,
      value: (i) => (t.start_ms[i] > 0 ? (t.end_ms[i] > 0 ? t.end_ms[i] : now) - t.start_ms[i] : null),
      format: fmtDuration,
    });
    columns.push({key: 'worker', title: 'worker', value: (i) => t.workers[i] || ''});
    return columns;
  }

  // The trial table: filter by state and by text (over a row's shown
  // values), sort by any column (click a header), 100 rows a page.
  renderTable() {
    const t = this.trials;
    const ui = this.ui.table;
    const columns = this.tableColumns();
    this.renderTableControls();
    const filter = ui.filter.trim().toLowerCase();
    let rows = [];
    for (let i = 0; i < t.numbers.length; i++) {
      if (ui.state && t.states[i] !== ui.state) continue;
      if (filter) {
        const text = columns
          .map((c) => (c.format ? c.format(c.value(i)) : fmtParam(c.value(i))))
          .join(' ')
          .toLowerCase();
        if (!text.includes(filter)) continue;
      }
      rows.push(i);
    }
    const column = columns.find((c) => c.key === ui.sortKey) || columns[0];
    if (column.key !== 'number' || ui.sortDir !== 1) {
      const dir = ui.sortDir;
      const keys = new Map(rows.map((i) => [i, column.value(i)]));
      rows.sort((a, b) => {
        const va = keys.get(a);
        const vb = keys.get(b);
        if (va == null || vb == null) return (va == null) - (vb == null) || a - b; // Empty last.
        if (va < vb) return -dir;
        if (va > vb) return dir;
        return a - b;
      });
    }
    const pages = Math.max(1, Math.ceil(rows.length / TABLE_PAGE_SIZE));
    ui.page = Math.min(ui.page, pages - 1);
    const shown = rows.slice(ui.page * TABLE_PAGE_SIZE, (ui.page + 1) * TABLE_PAGE_SIZE);
    const table = $('trial-table');
    table.textContent = '';
    table.append(
      el(
        'thead',
        {},
        el(
          'tr',
          {},
          columns.map((c) =>
            el(
              'th',
              {
                class: `sortable ${c.num ? 'num' : ''} ${c.key === ui.sortKey ? (ui.sortDir > 0 ? 'sorted-asc' : 'sorted-desc') : ''}`,
                dataset: {key: c.key},
                onclick: () => {
                  if (ui.sortKey === c.key) ui.sortDir = -ui.sortDir;
                  else {
                    ui.sortKey = c.key;
                    ui.sortDir = 1;
                  }
                  this.renderTable();
                },
              },
              c.title,
            ),
          ),
        ),
      ),
      el(
        'tbody',
        {},
        shown.map((i) =>
          el(
            'tr',
            {dataset: {number: t.numbers[i]}},
            columns.map((c) => {
              const v = c.value(i);
              if (c.key === 'number')
                return el('td', {class: 'num'}, el('a', {href: trialHref(this.study, v)}, String(v)));
              if (c.key === 'state') return el('td', {}, badge(v));
              return el('td', {class: c.num ? 'num' : ''}, c.format ? c.format(v) : fmtParam(v));
            }),
          ),
        ),
      ),
    );
    const pager = $('table-pager');
    pager.textContent = '';
    pager.append(
      el(
        'button',
        {
          id: 'table-prev',
          disabled: ui.page === 0,
          onclick: () => {
            ui.page--;
            this.renderTable();
          },
        },
        '‹ previous',
      ),
      el(
        'span',
        {id: 'table-page'},
        `page ${ui.page + 1} of ${pages} · ${rows.length} of ${t.numbers.length} trials`,
      ),
      el(
        'button',
        {
          id: 'table-next',
          disabled: ui.page >= pages - 1,
          onclick: () => {
            ui.page++;
            this.renderTable();
          },
        },
        'next ›',
      ),
    );
  }

  renderTableControls() {
    const holder = $('table-controls');
    if (holder.childElementCount) return;
    const ui = this.ui.table;
    let timer = null;
    holder.append(
      el('label', {}, 'state '),
      select('table-state', [['', 'all'], ...STATE_ORDER.map((s) => [s, s.toLowerCase()])], ui.state, (v) => {
        ui.state = v;
        ui.page = 0;
        this.renderTable();
      }),
      el('input', {
        type: 'search',
        id: 'table-filter',
        placeholder: 'filter (any shown value)',
        value: ui.filter,
        oninput: (e) => {
          clearTimeout(timer);
          timer = setTimeout(() => {
            ui.filter = e.target.value;
            ui.page = 0;
            this.renderTable();
          }, 200);
        },
      }),
    );
  }
}

// ---------------------------------------------------------------- trial page

class TrialPage {
  constructor(root, study, number) {
    this.root = root;
    this.study = study;
    this.text = number;
    this.number = /^\d+$/.test(number) ? Number(number) : NaN;
    this.lastFlush = 0;
    this.scheduleWhenVisible = () => this.schedule();
    root.append(el('div', {id: 'trial'}, el('p', {class: 'muted'}, 'Loading…')));
    this.start();
  }

  async start() {
    if (!Number.isInteger(this.number) || this.number < 0) {
      showError('route', `no such trial: "${this.text}" is not a trial number`);
      $('trial').textContent = '';
      return;
    }
    const [study, trial] = await Promise.all([
      load('/api/study', {study: this.study}),
      load('/api/trial', {study: this.study, number: this.number}),
    ]);
    if (this.disposed) return;
    this.info = study ? study.study : null;
    if (!trial) {
      $('trial').textContent = 'The trial could not be loaded (see the error above).';
      return;
    }
    this.render(trial);
    this.events = new EventStream(this.study, (e) => {
      // After `busy` the stream ends; EventSource opens it again in a few
      // seconds (its `resync` then refetches): this page polls so.
      if (e.number === this.number || e.kind === 'resync' || e.kind === 'busy') this.schedule();
    });
  }

  // Refetches the trial at most every REFRESH_MIN_MS, while visible.
  schedule() {
    if (this.timer || this.disposed) return;
    if (pageHidden()) {
      whenVisible(this.scheduleWhenVisible);
      return;
    }
    const wait = Math.max(0, this.lastFlush + REFRESH_MIN_MS - Date.now());
    this.timer = setTimeout(async () => {
      if (pageHidden()) {
        this.timer = null;
        this.schedule();
        return;
      }
      this.lastFlush = Date.now();
      const trial = await load('/api/trial', {study: this.study, number: this.number});
      this.timer = null;
      if (trial && !this.disposed) this.render(trial);
    }, wait);
  }

  render(trial) {
    const root = $('trial');
    // Keep the chart: re-rendering replaces everything around it.
    const oldPlot = $('plot-trial-curves');
    const chart = oldPlot ? echarts.getInstanceByDom(oldPlot) : null;
    if (chart) chart.dispose();
    const renderedBefore = oldPlot ? oldPlot.dataset.rendered : undefined;
    root.textContent = '';
    const objectives = (this.info && this.info.objectives) || [];
    const duration =
      trial.start_ms > 0 ? (trial.end_ms > 0 ? trial.end_ms : Date.now()) - trial.start_ms : null;
    const values = trial.values || [];
    root.append(
      el(
        'h1',
        {},
        `Trial ${trial.number} `,
        badge(trial.state),
        ' ',
        el(
          'span',
          {style: 'font-size:13px'},
          trial.number > 0 ? el('a', {href: trialHref(this.study, trial.number - 1)}, '‹ previous') : null,
          ' ',
          el('a', {href: trialHref(this.study, trial.number + 1)}, 'next ›'),
        ),
      ),
    );
    const steps = (trial.intermediate || []).map((m) => m.step);
    if (trial.state === 'PRUNED') {
      const at = steps.length ? Math.max(...steps) : null;
      root.append(
        el(
          'div',
          {class: 'reason PRUNED', id: 'trial-reason'},
          `Pruned${at == null ? '' : ` at step ${at}`}${trial.failure_reason ? `: ${trial.failure_reason}` : " by the study's pruner."}`,
        ),
      );
    } else if (trial.failure_reason) {
      root.append(
        el(
          'div',
          {class: `reason ${trial.state}`, id: 'trial-reason'},
          `${trial.state === 'FAILED' ? 'Failed' : 'Note'}: ${trial.failure_reason}`,
        ),
      );
    }
    const kv = (rows) =>
      el(
        'table',
        {class: 'kv'},
        el(
          'tbody',
          {},
          rows.map(([k, v]) => el('tr', {}, el('th', {}, k), el('td', {}, v))),
        ),
      );
    const valueRows = values.map((v, k) => [
      objectives[k] ? `${objectives[k].metric} (${objectives[k].goal})` : `value ${k}`,
      fmtNum(v),
    ]);
    root.append(
      el(
        'div',
        {class: 'grid'},
        el(
          'section',
          {class: 'card'},
          el('h2', {}, 'Trial'),
          kv([
            ...valueRows,
            ['worker', trial.worker || '(ask/tell)'],
            ['retries', String(trial.retries || 0)],
            ['origin', trial.origin || '–'],
            ['started', fmtTime(trial.start_ms)],
            ['ended', fmtTime(trial.end_ms)],
            ['duration', fmtDuration(duration)],
          ]),
        ),
        el(
          'section',
          {class: 'card'},
          el('h2', {}, 'Parameters'),
          el(
            'table',
            {class: 'kv', id: 'trial-params'},
            el(
              'tbody',
              {},
              Object.entries(trial.params || {}).map(([k, v]) =>
                el('tr', {dataset: {param: k}}, el('th', {}, k), el('td', {class: 'mono'}, fmtParam(v))),
              ),
            ),
          ),
        ),
        el(
          'section',
          {class: 'card'},
          el('h2', {}, 'Final metrics'),
          Object.keys(trial.final_metrics || {}).length
            ? el(
                'table',
                {class: 'kv', id: 'trial-metrics'},
                el(
                  'tbody',
                  {},
                  Object.entries(trial.final_metrics).map(([k, v]) =>
                    el('tr', {dataset: {metric: k}}, el('th', {}, k), el('td', {class: 'mono'}, fmtNum(v))),
                  ),
                ),
              )
            : el('p', {class: 'muted'}, 'None reported (yet).'),
        ),
      ),
    );
    if (trial.exploits && trial.exploits.length) {
      root.append(
        el(
          'section',
          {class: 'card'},
          el('h2', {}, 'Exploits (PBT)'),
          el(
            'ul',
            {},
            trial.exploits.map((e) =>
              el(
                'li',
                {},
                `at step ${e.step}: took the weights of `,
                el('a', {href: trialHref(this.study, e.donor)}, `trial ${e.donor}`),
                ` (its step ${e.donor_step})`,
              ),
            ),
          ),
        ),
      );
    }
    const plot = el('div', {class: 'plot tall', id: 'plot-trial-curves'});
    if (renderedBefore) plot.dataset.rendered = renderedBefore;
    root.append(el('section', {class: 'card'}, el('h2', {}, 'Intermediate values'), plot));
    this.renderCurves(trial);
  }

  // The trial's curves: one small chart per reported metric (stacked
  // grids). data-points: points over all metrics.
  renderCurves(trial) {
    const byMetric = new Map();
    for (const m of trial.intermediate || []) {
      for (const [name, v] of Object.entries(m.metrics || {})) {
        if (!byMetric.has(name)) byMetric.set(name, []);
        byMetric.get(name).push([m.step, v]);
      }
    }
    if (!byMetric.size) {
      plotMessage('plot-trial-curves', 'No intermediate values reported.');
      return;
    }
    const names = [...byMetric.keys()];
    const cols = Math.min(2, names.length);
    const lines = Math.ceil(names.length / cols);
    const node = $('plot-trial-curves');
    node.style.height = `${lines * 230 + 30}px`;
    let points = 0;
    const grids = [];
    const xAxes = [];
    const yAxes = [];
    const series = [];
    names.forEach((name, g) => {
      const data = byMetric.get(name).sort((a, b) => a[0] - b[0]);
      points += data.length;
      const col = g % cols;
      const line = Math.floor(g / cols);
      grids.push({
        left: `${(col / cols) * 100 + 6}%`,
        width: `${100 / cols - 9}%`,
        top: line * 230 + 30,
        height: 170,
      });
      xAxes.push({
        type: 'value',
        gridIndex: g,
        name: 'step',
        nameLocation: 'middle',
        nameGap: 22,
        scale: true,
      });
      yAxes.push({type: 'value', gridIndex: g, name, scale: true, axisLabel: {formatter: fmtNum}});
      series.push({
        type: 'line',
        name,
        xAxisIndex: g,
        yAxisIndex: g,
        data,
        showSymbol: data.length < 60,
        sampling: 'lttb',
        lineStyle: {width: 2},
      });
    });
    drawPlot(
      'plot-trial-curves',
      {
        grid: grids,
        xAxis: xAxes,
        yAxis: yAxes,
        series,
        tooltip: {
          ...TOOLTIP,
          trigger: 'axis',
          formatter: (ps) =>
            ps.map((p) => `${p.seriesName} @ ${p.value[0]}: ${fmtNum(p.value[1])}`).join('<br>'),
        },
      },
      points,
    );
  }

  dispose() {
    this.disposed = true;
    clearTimeout(this.timer);
    waitingForVisible.delete(this.scheduleWhenVisible);
    if (this.events) this.events.close();
  }
}

// ---------------------------------------------------------------- start

window.addEventListener('hashchange', route);
window.addEventListener('DOMContentLoaded', route);
if (document.readyState !== 'loading') route();
