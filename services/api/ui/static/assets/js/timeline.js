// The timeline card of the workspace page: the steps of a workspace's last
// transitions as a waterfall, like a build's timings. Each bar is an SVG
// rect placed by attributes (x from the step's start, width from its
// duration), so the strict Content-Security-Policy needs no inline style.
import {h, replace} from './dom.js';
import {api} from './api.js';

const SVG = 'http://www.w3.org/2000/svg';
const SCALE = 1000; // the SVG's width in user units

/** ms parses a protobuf Duration as JSON ("1.5s") to milliseconds. */
function ms(duration) {
  const n = parseFloat(duration || '0');
  return Number.isFinite(n) ? n * 1000 : 0;
}

function fmt(msec) {
  return msec < 10000 ? `${(msec / 1000).toFixed(2)} s` : `${(msec / 1000).toFixed(1)} s`;
}

/** label turns a step name into words: container_started → Container started. */
function label(name) {
  const s = String(name || '').replace(/_/g, ' ');
  return s.charAt(0).toUpperCase() + s.slice(1);
}

// kind colours a bar: the API's request, the provisioner's steps, health
// checks and the state reached.
function kind(step, t) {
  if (step.name === 'requested') return 'request';
  if (step.name === t.result) return t.result === 'failed' ? 'bad' : 'done';
  if (step.name === 'health_check_passed') return 'health';
  return 'work';
}

function svg(tag, attrs) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

/** bar draws one step over the transition's span [0, total] ms. */
function bar(offset, duration, total, cls, title) {
  const x = Math.min(SCALE, Math.max(0, (offset / total) * SCALE));
  const w = Math.max(3, Math.min(SCALE - x, (duration / total) * SCALE));
  const s = svg('svg', {class: 'tl-bar', viewBox: `0 0 ${SCALE} 14`, preserveAspectRatio: 'none', 'aria-hidden': 'true'});
  const r = svg('rect', {class: `tl-rect tl-${cls}`, x: x.toFixed(1), y: 2, width: w.toFixed(1), height: 10, rx: 2});
  const tip = svg('title', {});
  tip.textContent = title;
  r.append(tip);
  s.append(r);
  return s;
}

/** summary is "creating → running in 3.17 s" for a transition. */
function summary(t) {
  const total = span(t);
  return `${t.state} → ${t.result || 'under way'} · ${fmt(total)}`;
}

function span(t) {
  const start = Date.parse(t.start_time);
  const end = t.end_time ? Date.parse(t.end_time) : Date.now();
  return Math.max(1, end - start);
}

/** waterfall renders the steps of one transition. */
function waterfall(t) {
  const start = Date.parse(t.start_time);
  const total = span(t);
  const rows = (t.steps || []).map(s => {
    const offset = Date.parse(s.start_time) - start;
    const d = ms(s.duration);
    const title = `${label(s.name)}${s.target ? ` (${s.target})` : ''}: +${fmt(offset)}, ${fmt(d)}`;
    return h('li', {class: 'tl-row', 'data-step': s.name, 'data-target': s.target || ''},
      h('span', {class: 'tl-name'}, label(s.name), s.target ? h('span', {class: 'mono muted small'}, ` ${s.target}`) : null),
      h('span', {class: 'tl-track'}, bar(offset, d, total, kind(s, t), title)),
      h('span', {class: 'tl-time mono small'}, h('span', {class: 'muted'}, `+${fmt(offset)} `), fmt(d)));
  });
  return h('ol', {class: 'tl-rows', id: 'timeline-steps', 'aria-label': `Steps of ${summary(t)}`,
    'data-transition': t.state, 'data-result': t.result || ''}, rows);
}

/**
 * timelineCard is the card of workspace id; refresh() reloads it (at most
 * about twice a second, as watch events come in bursts while a workspace
 * changes state).
 */
export function timelineCard(id) {
  const picker = h('select', {id: 'timeline-transition', class: 'tl-picker', 'aria-label': 'Transition'});
  const body = h('div', {class: 'tl-body', id: 'timeline'});
  const el = h('section', {class: 'card', 'aria-labelledby': 'timeline-title'},
    h('div', {class: 'card-head'}, h('h2', {id: 'timeline-title'}, 'Timeline'), picker),
    body);
  let transitions = [];
  let chosen = ''; // start_time of the transition the user picked; '' follows the newest
  let timer = null;
  let loading = false;
  let again = false;
  let stopped = false;

  picker.addEventListener('change', () => {
    const i = Number(picker.value);
    chosen = i === transitions.length - 1 ? '' : transitions[i].start_time;
    draw();
  });

  function draw() {
    if (transitions.length === 0) {
      replace(picker);
      picker.disabled = true;
      replace(body, h('p', {class: 'muted tl-empty'}, 'No transitions recorded yet.'));
      return;
    }
    let i = transitions.findIndex(t => t.start_time === chosen);
    if (i < 0) i = transitions.length - 1;
    picker.disabled = false;
    replace(picker, transitions.map((t, j) => h('option', {value: j, selected: j === i}, summary(t))).reverse());
    picker.value = String(i);
    replace(body, waterfall(transitions[i]));
  }

  async function load() {
    if (loading) { again = true; return; }
    loading = true;
    try {
      const res = await api.timeline(id);
      transitions = res.transitions || [];
      draw();
    } catch (err) {
      replace(body, h('p', {class: 'muted tl-empty'}, `Timeline unavailable: ${err}`));
    } finally {
      loading = false;
      if (again) { again = false; refresh(); }
    }
  }

  function refresh() {
    if (timer || stopped) return;
    timer = setTimeout(() => { timer = null; load(); }, 400);
  }

  load();
  return {el, refresh, stop() { stopped = true; clearTimeout(timer); }};
}
