// Small DOM helpers. Every value from the API goes through textContent or an
// attribute, never through innerHTML.

/**
 * h creates an element: h('a', {href: '/', class: 'x', onclick: fn}, 'text', child).
 * Attributes set to null, undefined or false are omitted; true sets an empty one.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') {
      el.addEventListener(k.slice(2), v);
    } else if (k === 'class') {
      el.className = v;
    } else if (k === 'dataset') {
      Object.assign(el.dataset, v);
    } else if (k === 'value' || k === 'checked' || k === 'disabled' || k === 'selected') {
      el[k] = v;
      if (k !== 'value') el.toggleAttribute(k, !!v);
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** replace swaps an element's children. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** time parses an RFC 3339 timestamp from the API; null when unset. */
export function time(ts) {
  if (!ts) return null;
  const d = new Date(ts);
  return Number.isNaN(d.getTime()) || d.getFullYear() < 1971 ? null : d;
}

const rtf = new Intl.RelativeTimeFormat(undefined, {numeric: 'auto'});
const units = [['year', 31536e6], ['month', 2592e6], ['day', 864e5], ['hour', 36e5], ['minute', 6e4], ['second', 1e3]];

/** ago formats a date relative to now ("3 minutes ago", "in 20 seconds"). */
export function ago(d) {
  if (!d) return '—';
  const diff = d.getTime() - Date.now();
  for (const [unit, ms] of units) {
    if (Math.abs(diff) >= ms || unit === 'second') {
      return rtf.format(Math.round(diff / ms), unit);
    }
  }
  return '';
}

/** when renders a <time> element with a relative label and the exact time as a tooltip. */
export function when(ts) {
  const d = time(ts);
  if (!d) return h('span', {class: 'muted'}, '—');
  return h('time', {datetime: d.toISOString(), title: d.toLocaleString(), 'data-relative': ''}, ago(d));
}

/** refreshTimes updates every relative time under root. */
export function refreshTimes(root = document) {
  for (const t of root.querySelectorAll('time[data-relative]')) {
    t.textContent = ago(new Date(t.dateTime));
  }
}

/** domains turns a textarea value into a list: one per line or comma-separated. */
export function parseDomains(text) {
  return text.split(/[\n,]/).map(s => s.trim()).filter(Boolean);
}

let uid = 0;
/** nextId returns a document-unique id with a prefix. */
export function nextId(prefix) {
  uid += 1;
  return `${prefix}-${uid}`;
}
