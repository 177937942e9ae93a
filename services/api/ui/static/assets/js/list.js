// The workspace list: a snapshot from ListWorkspaces kept current by
// WatchWorkspaces, filtered by state and searched by name in the browser.
import {h, replace, when} from './dom.js';
import {listAll, watch} from './api.js';
import {STATES, SERVICES, badge} from './rules.js';
import {banner} from './form.js';

/**
 * liveSet holds workspaces by id. Events are applied only when newer (by
 * store revision), and while a snapshot is loading they are buffered and
 * replayed on top of it, so a slow list never undoes a newer event.
 */
export class LiveSet {
  constructor() {
    this.items = new Map();
    this.gone = new Set();
    this.buffers = new Set();
  }

  apply(ev) {
    for (const b of this.buffers) b.push(ev);
    this.applyOne(ev);
  }

  applyOne({type, workspace: w}) {
    if (!w || !w.id) return;
    if (type === 'deleted') {
      this.items.delete(w.id);
      this.gone.add(w.id);
      return;
    }
    if (this.gone.has(w.id)) return;
    const cur = this.items.get(w.id);
    if (cur && Number(cur.revision) > Number(w.revision)) return;
    this.items.set(w.id, w);
  }

  async snapshot(load) {
    const buf = [];
    this.buffers.add(buf);
    try {
      const list = await load();
      this.items.clear();
      for (const w of list) if (!this.gone.has(w.id)) this.items.set(w.id, w);
      for (const ev of buf) this.applyOne(ev);
    } finally {
      this.buffers.delete(buf);
    }
  }
}

function servicesSummary(w) {
  const svcs = SERVICES.map(s => (w.services || {})[s.name]).filter(s => s && s.enabled);
  const up = svcs.filter(s => s.state === 'running').length;
  return h('span', {class: 'svc-summary', title: SERVICES.filter(s => ((w.services || {})[s.name] || {}).enabled)
    .map(s => `${s.name}: ${(w.services[s.name].state || 'pending')}`).join(', ')},
  h('span', {class: 'meter', 'aria-hidden': 'true'}, svcs.map(s => h('span', {class: `pip pip-${s.state === 'running' ? 'ok' : 'off'}`}))),
  `${up}/${svcs.length} running`);
}

function row(w, changed) {
  const href = `/workspaces/${encodeURIComponent(w.id)}`;
  return h('tr', {'data-id': w.id, 'data-name': w.name, class: changed ? 'flash' : null},
    h('td', {'data-label': 'Name'},
      h('a', {href, 'data-link': '', class: 'ws-name'}, w.name),
      h('div', {class: 'mono muted small'}, w.id)),
    h('td', {'data-label': 'State'},
      badge(w.state),
      w.state_reason ? h('div', {class: 'muted small reason'}, w.state_reason) : null),
    h('td', {'data-label': 'Provisioner'}, w.provisioner),
    h('td', {'data-label': 'Services'}, servicesSummary(w)),
    h('td', {'data-label': 'Firewall'}, badge((w.firewall_status || {}).phase || 'unavailable')),
    h('td', {'data-label': 'Created'}, when(w.create_time)));
}

/** listView renders the list into main; it returns a function that stops its watch. */
export function listView(main, {setConnection}) {
  const params = new URLSearchParams(location.search);
  const set = new LiveSet();
  const lastState = new Map();
  let loaded = false;
  let loadError = null;
  let resync = false;
  let conn = 'connecting';

  const search = h('input', {type: 'search', id: 'search', name: 'q', value: params.get('q') || '',
    placeholder: 'Search by name', autocomplete: 'off', spellcheck: 'false'});
  const stateSel = h('select', {id: 'state-filter', name: 'state'},
    h('option', {value: ''}, 'All states'),
    STATES.map(s => h('option', {value: s}, s)));
  stateSel.value = params.get('state') || '';
  const count = h('p', {class: 'muted count', id: 'list-count', 'aria-live': 'polite'});
  const body = h('div', {id: 'workspace-list'});
  const rowCache = new Map();
  const tbody = h('tbody');
  const table = h('table', {class: 'table ws-table'},
    h('caption', {class: 'sr-only'}, 'Workspaces'),
    h('thead', {}, h('tr', {}, ['Name', 'State', 'Provisioner', 'Services', 'Firewall', 'Created'].map(c => h('th', {scope: 'col'}, c)))),
    tbody);

  const onFilter = () => {
    const q = new URLSearchParams();
    if (search.value.trim()) q.set('q', search.value.trim());
    if (stateSel.value) q.set('state', stateSel.value);
    const qs = q.toString();
    history.replaceState(null, '', qs ? `/?${qs}` : '/');
    render();
  };
  search.addEventListener('input', onFilter);
  stateSel.addEventListener('change', onFilter);

  function render() {
    const term = search.value.trim().toLowerCase();
    const st = stateSel.value;
    const all = [...set.items.values()];
    const shown = all
      .filter(w => (!st || w.state === st) && (!term || w.name.toLowerCase().includes(term)))
      .sort((a, b) => (b.create_time || '').localeCompare(a.create_time || '') || a.id.localeCompare(b.id));
    for (const o of stateSel.options) {
      if (!o.value) continue;
      const n = all.filter(w => w.state === o.value).length;
      o.textContent = n ? `${o.value} (${n})` : o.value;
    }
    count.textContent = loaded ? `${shown.length} of ${all.length} workspace${all.length === 1 ? '' : 's'}` : '';
    if (loadError) {
      replace(body, banner(loadError, {title: 'Could not load workspaces.'}));
      return;
    }
    if (!loaded) {
      replace(body, h('p', {class: 'muted empty'}, 'Loading workspaces…'));
      return;
    }
    if (!all.length) {
      replace(body, h('div', {class: 'empty card'},
        h('h2', {}, 'No workspaces yet'),
        h('p', {class: 'muted'}, 'A workspace is a ready-to-use agent environment: runtime, terminal, browser and an egress firewall.'),
        h('a', {href: '/new', 'data-link': '', class: 'btn btn-primary'}, 'Create a workspace')));
      return;
    }
    if (!shown.length) {
      replace(body, h('div', {class: 'empty card'},
        h('p', {}, 'No workspace matches these filters.'),
        h('button', {type: 'button', class: 'btn', onclick: () => { search.value = ''; stateSel.value = ''; onFilter(); }}, 'Clear filters')));
      return;
    }
    // Rows are reused while their workspace is unchanged and only moved when
    // the order changes, so a focused link survives unrelated updates.
    const rows = shown.map(w => {
      const cached = rowCache.get(w.id);
      if (cached && cached.revision === w.revision && cached.time === w.create_time) return cached.el;
      const changed = lastState.has(w.id) && lastState.get(w.id) !== w.state;
      lastState.set(w.id, w.state);
      const el = row(w, changed);
      if (cached && cached.el.isConnected) cached.el.replaceWith(el);
      rowCache.set(w.id, {revision: w.revision, time: w.create_time, el});
      return el;
    });
    for (const id of rowCache.keys()) if (!set.items.has(id)) rowCache.delete(id);
    if (body.firstChild !== table) replace(body, table);
    rows.forEach((el, i) => {
      if (tbody.children[i] !== el) tbody.insertBefore(el, tbody.children[i] || null);
    });
    while (tbody.children.length > rows.length) tbody.lastElementChild.remove();
  }

  async function snapshot() {
    try {
      await set.snapshot(listAll);
      loaded = true;
      loadError = null;
      // The watch answers its headers with the first change, so with no
      // workspace it stays pending although it is subscribed.
      if (conn === 'connecting') setConnection('live');
    } catch (err) {
      loadError = err;
    }
    render();
  }

  const stop = watch({
    onEvent: ev => { set.apply(ev); if (loaded) render(); },
    onStatus: (s, err) => {
      conn = s;
      setConnection(s, err);
      if (s === 'reconnecting') resync = true;
      if (s === 'live' && resync) { resync = false; snapshot(); }
    },
  });
  snapshot();

  main.replaceChildren(
    h('div', {class: 'page-head'},
      h('div', {}, h('h1', {}, 'Workspaces'), count),
      h('a', {href: '/new', 'data-link': '', class: 'btn btn-primary', id: 'new-workspace'}, 'New workspace')),
    h('div', {class: 'toolbar', role: 'search'},
      h('div', {class: 'field'}, h('label', {for: 'search'}, 'Search by name'), search),
      h('div', {class: 'field'}, h('label', {for: 'state-filter'}, 'Filter by state'), stateSel)),
    body);
  render();
  return stop;
}
