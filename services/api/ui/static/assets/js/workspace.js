// The workspace page: state and reason, actions, services, timeline,
// firewall, delete.
import {h, replace, when} from './dom.js';
import {api, watch} from './api.js';
import {SERVICES, allowed, why, badge} from './rules.js';
import {banner} from './form.js';
import {toast} from './notify.js';
import {firewallEditor} from './firewall.js';
import {timelineCard} from './timeline.js';

const TRANSITIONAL = new Set(['creating', 'stopping', 'starting', 'restarting', 'deleting']);

function endpoint(url) {
  if (!url) return h('span', {class: 'muted'}, '—');
  return /^https?:\/\//.test(url)
    ? h('a', {href: url, target: '_blank', rel: 'noopener noreferrer', class: 'mono small'}, url)
    : h('span', {class: 'mono small'}, url);
}

/** workspaceView renders one workspace into main; it returns a cleanup function. */
export function workspaceView(main, {id, navigate, setConnection}) {
  let w = null;
  let deleted = false;
  let editor = null;
  let timeline = null;
  const pending = new Set();
  const alerts = h('div', {class: 'page-alerts', id: 'page-alerts'});
  const head = h('div');
  const overview = h('dl', {class: 'facts', id: 'overview'});
  const services = h('div', {id: 'services'});
  const fwSlot = h('div');
  const dialog = deleteDialog();

  main.replaceChildren(h('p', {class: 'muted empty'}, 'Loading workspace…'));

  // run performs an action and shows its outcome; the response is the
  // workspace after the call, newer than or equal to what we show.
  async function run(key, label, fn) {
    pending.add(key);
    render();
    replace(alerts);
    try {
      const res = await fn();
      toast(`${label} requested`);
      if (res && res.id) update(res);
      return res;
    } catch (err) {
      replace(alerts, banner(err, {title: `${label} failed.`}));
      return null;
    } finally {
      pending.delete(key);
      render();
    }
  }

  // Buttons are created once and updated in place, so keyboard focus
  // survives the re-renders every watch event causes.
  const buttons = {};
  function button(key, label, onclick, {danger = false, aria = null} = {}) {
    const b = h('button', {type: 'button', class: `btn${danger ? ' btn-danger' : ''}${key.startsWith('svc-') ? ' btn-small' : ''}`,
      id: key.startsWith('svc-') ? `restart-${key.slice(4)}` : `action-${key}`, 'aria-label': aria, onclick}, label);
    buttons[key] = {el: b, label};
    return b;
  }
  // openButton opens a service in a new tab on the service's own origin: a
  // one-time link from the API, exchanged there for a cookie of that origin.
  function openButton(s) {
    const key = `open-${s.name}`;
    const b = h('button', {type: 'button', class: 'btn btn-small', id: key, 'aria-label': `Open ${s.name}`,
      onclick: () => openService(s)}, 'Open');
    buttons[key] = {el: b, label: 'Open'};
    return b;
  }
  async function openService(s) {
    const key = `open-${s.name}`;
    // The tab opens now, inside the click, so no popup blocker stops it; it
    // gets no handle on the console.
    const tab = window.open('about:blank', '_blank');
    if (tab) tab.opener = null;
    pending.add(key);
    render();
    replace(alerts);
    try {
      const res = await api.open(id, s.name);
      if (tab) tab.location.href = res.url;
      else window.open(res.url, '_blank', 'noopener,noreferrer');
    } catch (err) {
      if (tab) tab.close();
      replace(alerts, banner(err, {title: `Opening ${s.label} failed.`}));
    } finally {
      pending.delete(key);
      render();
    }
  }
  function setButton(key, ok, title) {
    const {el, label} = buttons[key];
    el.disabled = !ok || pending.has(key);
    el.title = title;
    el.textContent = pending.has(key) ? `${label}…` : label;
  }

  const titleName = h('span');
  const stateSlot = h('span');
  const idLine = h('p', {class: 'mono muted small'});
  const reason = h('div', {class: 'ws-reason', id: 'ws-reason', role: 'status'});
  const goneSlot = h('div');
  const crumbName = h('span');
  // Terminal, Browser and Canvas open their service like its row's Open
  // button: each daemon serves its page at the service's root (the
  // terminal, the browser's live preview, the canvas's index).
  const opener = (name, label, aria) => button(name, label, () => openService(SERVICES.find(s => s.name === name)), {aria});
  const actions = h('div', {class: 'actions', role: 'group', 'aria-label': 'Workspace actions'},
    opener('terminal', 'Terminal', 'Open the terminal in a new tab'),
    opener('browser', 'Browser', 'Open the live preview of the browser in a new tab'),
    opener('canvas', 'Canvas', 'Open the canvas in a new tab'),
    button('start', 'Start', () => run('start', 'Start', () => api.start(id))),
    button('stop', 'Stop', () => run('stop', 'Stop', () => api.stop(id))),
    button('restart', 'Restart', () => run('restart', 'Restart', () => api.restart(id))),
    button('delete', 'Delete', () => dialog.open(), {danger: true}));
  head.append(
    h('nav', {class: 'crumbs', 'aria-label': 'Breadcrumb'}, h('a', {href: '/', 'data-link': ''}, 'Workspaces'), h('span', {'aria-hidden': 'true'}, ' / '), crumbName),
    h('div', {class: 'page-head'},
      h('div', {class: 'title'}, h('h1', {id: 'ws-title'}, titleName, ' ', stateSlot), idLine),
      actions),
    reason, goneSlot);

  function renderHead() {
    const deadline = TRANSITIONAL.has(w.state) ? w.state_deadline_time : null;
    titleName.textContent = w.name;
    crumbName.textContent = w.name;
    idLine.textContent = w.id;
    replace(stateSlot, badge(deleted ? 'deleted' : w.state, {id: 'ws-state'}));
    reason.className = `ws-reason ws-reason-${deleted ? 'deleted' : w.state}`;
    replace(reason,
      deleted ? 'This workspace has been deleted.' : (w.state_reason || 'No reason reported.'),
      w.error_code ? [' ', h('code', {class: 'err-code'}, w.error_code)] : null,
      deadline && !deleted ? h('span', {class: 'muted'}, ' · fails if not done ', when(deadline)) : null);
    replace(goneSlot, deleted ? h('div', {class: 'banner banner-warn', role: 'alert'}, 'This workspace has been deleted. ',
      h('a', {href: '/', 'data-link': ''}, 'Back to workspaces')) : null);
    for (const key of ['start', 'stop', 'restart', 'delete']) {
      setButton(key, !deleted && allowed(key, w.state), deleted ? 'The workspace is deleted' : why(key, w.state));
    }
  }

  function renderOverview() {
    const gen = `${w.observed_generation || 0} of ${w.generation || 0}`;
    const rows = [
      ['Provisioner', w.provisioner], ['Owner', w.owner || '—'], ['Desired state', w.desired_state || '—'],
      ['Observed generation', gen], ['Created', when(w.create_time)], ['Updated', when(w.update_time)],
    ];
    replace(overview, rows.map(([k, v]) => h('div', {class: 'fact'}, h('dt', {}, k), h('dd', {}, v))));
  }

  const svcRows = {};
  for (const s of SERVICES) {
    const key = `svc-${s.name}`;
    const cells = {state: h('td', {'data-label': 'State'}), endpoint: h('td', {'data-label': 'Endpoint', class: 'cell-wrap'}),
      restart: h('td', {'data-label': 'Last restart'})};
    svcRows[s.name] = cells;
    cells.row = h('tr', {'data-service': s.name},
      h('th', {scope: 'row', 'data-label': 'Service'}, h('div', {}, s.label), h('div', {class: 'muted small'}, s.hint)),
      cells.state, cells.endpoint, cells.restart,
      h('td', {class: 'cell-action'}, openButton(s), ' ', button(key, 'Restart',
        () => run(key, `Restart of ${s.name}`, () => api.restartService(id, s.name)), {aria: `Restart ${s.name}`})));
  }
  services.append(h('table', {class: 'table svc-table'},
    h('caption', {class: 'sr-only'}, 'Services'),
    h('thead', {}, h('tr', {}, ['Service', 'State', 'Endpoint and image', 'Last restart', ''].map(c => h('th', {scope: 'col'}, c === '' ? h('span', {class: 'sr-only'}, 'Actions') : c)))),
    h('tbody', {}, SERVICES.map(s => svcRows[s.name].row))));

  function renderServices() {
    for (const s of SERVICES) {
      const st = (w.services || {})[s.name] || {};
      const cells = svcRows[s.name];
      const state = st.enabled ? (st.state || 'pending') : 'disabled';
      replace(cells.state, badge(state, {'data-service-state': s.name}), st.message ? h('div', {class: 'muted small'}, st.message) : null);
      replace(cells.endpoint, endpoint(st.endpoint), st.image ? h('div', {class: 'mono muted small'}, st.image) : null);
      replace(cells.restart, when(st.last_restart_time));
      const title = deleted ? 'The workspace is deleted'
        : !st.enabled ? `${s.label} is not enabled in this workspace` : why('restart_service', w.state);
      setButton(`svc-${s.name}`, !deleted && st.enabled && allowed('restart_service', w.state), title);
      const up = w.state === 'running' && st.state === 'running';
      const openTitle = deleted ? 'The workspace is deleted' : !st.enabled ? `${s.label} is not enabled in this workspace`
        : up ? `Open ${s.label} in a new tab` : `${s.label} is not running`;
      setButton(`open-${s.name}`, !deleted && st.enabled && up, openTitle);
      if (buttons[s.name]) setButton(s.name, !deleted && st.enabled && up && !pending.has(`open-${s.name}`), openTitle);
    }
  }

  function render() {
    if (!w) return;
    renderHead();
    renderOverview();
    renderServices();
    if (editor) editor.update(deleted ? {...w, state: 'deleting'} : w);
  }

  function update(next) {
    if (w && Number(w.revision) > Number(next.revision)) return;
    const first = !w;
    const changed = !w || w.revision !== next.revision;
    w = next;
    if (first) mount();
    else if (changed && timeline) timeline.refresh();
    render();
  }

  function mount() {
    editor = firewallEditor(w);
    replace(fwSlot, editor.el);
    timeline = timelineCard(id);
    document.title = `${w.name} · Aileron`;
    main.replaceChildren(head, alerts,
      h('section', {class: 'card', 'aria-label': 'Overview'}, overview),
      h('section', {class: 'card', 'aria-labelledby': 'services-title'},
        h('div', {class: 'card-head'}, h('h2', {id: 'services-title'}, 'Services'),
          h('span', {class: 'muted small'}, 'Restarting one service leaves the others running.')),
        services),
      timeline.el, fwSlot, dialog.el);
  }

  function notFound(err) {
    if (w) {
      deleted = true;
      render();
      return;
    }
    main.replaceChildren(h('div', {class: 'empty card'},
      h('h1', {}, 'Workspace not found'), banner(err),
      h('a', {href: '/', 'data-link': '', class: 'btn'}, 'Back to workspaces')));
  }

  function deleteDialog() {
    const input = h('input', {id: 'delete-confirm-name', type: 'text', autocomplete: 'off', spellcheck: 'false', autocapitalize: 'off'});
    const confirm = h('button', {type: 'submit', class: 'btn btn-danger', id: 'delete-confirm', disabled: true}, 'Delete workspace');
    const err = h('div');
    const name = h('strong');
    const form = h('form', {method: 'dialog'},
      h('h2', {id: 'delete-title'}, 'Delete workspace?'),
      h('p', {}, 'This removes ', name, ' and every resource it owns, including its data volume. It cannot be undone.'),
      h('div', {class: 'field'}, h('label', {for: 'delete-confirm-name'}, 'Type the workspace name to confirm'), input),
      err,
      h('div', {class: 'form-actions'},
        h('button', {type: 'button', class: 'btn', id: 'delete-cancel', onclick: () => el.close()}, 'Cancel'), confirm));
    const el = h('dialog', {class: 'dialog', id: 'delete-dialog', 'aria-labelledby': 'delete-title'}, form);
    input.addEventListener('input', () => { confirm.disabled = input.value !== w.name; });
    form.addEventListener('submit', async ev => {
      ev.preventDefault();
      if (input.value !== w.name) return;
      confirm.disabled = true;
      try {
        await api.remove(id);
        el.close();
        toast(`Deleting ${w.name}`);
        navigate('/');
      } catch (e) {
        replace(err, banner(e));
        confirm.disabled = false;
      }
    });
    return {
      el,
      open() {
        name.textContent = w.name;
        input.value = '';
        confirm.disabled = true;
        err.replaceChildren();
        el.showModal();
        input.focus();
      },
    };
  }

  const stop = watch({
    id,
    onEvent: ev => {
      if (ev.type === 'deleted') {
        if (!w && ev.workspace) {
          w = ev.workspace;
          mount();
        }
        deleted = true;
        render();
        return;
      }
      update(ev.workspace);
    },
    onStatus: (s, err) => {
      setConnection(s === 'gone' ? 'live' : s, err);
      if (s === 'gone') notFound(err);
    },
  });
  api.get(id).then(update, err => {
    if (err.status === 404) notFound(err);
    else if (!w) main.replaceChildren(banner(err, {title: 'Could not load the workspace.'}));
  });
  return () => { stop(); if (timeline) timeline.stop(); if (dialog.el.open) dialog.el.close(); };
}
