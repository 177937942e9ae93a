// Firewall settings: the two groups' fields (shared by the create form and the
// editor) and the editor on the workspace page.
import {h, replace, parseDomains, when} from './dom.js';
import {api, ApiError} from './api.js';
import {badge, allowed} from './rules.js';
import {banner, clearErrors, showError} from './form.js';
import {toast} from './notify.js';

/** GROUPS are the two firewall groups, with exactly the API's setting prefixes. */
export const GROUPS = [
  {prefix: 'workspace', title: 'Workspace firewall', hint: 'Egress of the runtime, terminal and canvas.'},
  {prefix: 'browser', title: 'Browser firewall', hint: 'Egress of the browser (Chrome) service.'},
];

const MODES = [
  ['allowlist', 'Allowlist — only the allowed domains'],
  ['deny', 'Deny — no external domain'],
  ['unrestricted', 'Unrestricted — any public destination'],
];

const setting = (g, s) => `${g}_firewall_${s}`;

/** groupFieldset renders one group's three settings; idp keeps ids unique per form. */
export function groupFieldset(g, idp, extra = null) {
  const id = s => `${idp}-${setting(g.prefix, s)}`;
  const hint = s => `${id(s)}-hint`;
  return h('fieldset', {class: 'group', 'data-group': g.prefix},
    h('legend', {}, g.title),
    h('p', {class: 'hint'}, g.hint),
    h('div', {class: 'field field-check'},
      h('input', {type: 'checkbox', id: id('network_access_enabled'), name: setting(g.prefix, 'network_access_enabled'),
        checked: true, 'aria-describedby': hint('network_access_enabled')}),
      h('label', {for: id('network_access_enabled')}, 'Network access'),
      h('p', {class: 'hint', id: hint('network_access_enabled')}, 'When off, nothing leaves — not even DNS.')),
    h('div', {class: 'field'},
      h('label', {for: id('domain_access_mode')}, 'Domain access mode'),
      h('select', {id: id('domain_access_mode'), name: setting(g.prefix, 'domain_access_mode')},
        MODES.map(([v, label]) => h('option', {value: v}, label)))),
    h('div', {class: 'field'},
      h('label', {for: id('allowed_domains')}, 'Allowed domains'),
      h('textarea', {id: id('allowed_domains'), name: setting(g.prefix, 'allowed_domains'), rows: 4,
        spellcheck: 'false', autocapitalize: 'off', placeholder: 'example.com\n*.example.org',
        'aria-describedby': hint('allowed_domains')}),
      h('p', {class: 'hint', id: hint('allowed_domains')},
        'One per line, in addition to the system defaults. A leading *. matches subdomains.')),
    extra);
}

/** readSettings reads the six settings from a form, named as in the API. */
export function readSettings(form) {
  const out = {};
  for (const g of GROUPS) {
    out[setting(g.prefix, 'network_access_enabled')] = form.elements[setting(g.prefix, 'network_access_enabled')].checked;
    out[setting(g.prefix, 'domain_access_mode')] = form.elements[setting(g.prefix, 'domain_access_mode')].value;
    out[setting(g.prefix, 'allowed_domains')] = parseDomains(form.elements[setting(g.prefix, 'allowed_domains')].value);
  }
  return out;
}

function fillSettings(form, fw) {
  for (const g of GROUPS) {
    form.elements[setting(g.prefix, 'network_access_enabled')].checked = !!fw[setting(g.prefix, 'network_access_enabled')];
    form.elements[setting(g.prefix, 'domain_access_mode')].value = fw[setting(g.prefix, 'domain_access_mode')] || 'allowlist';
    form.elements[setting(g.prefix, 'allowed_domains')].value = (fw[setting(g.prefix, 'allowed_domains')] || []).join('\n');
  }
}

// fromWorkspace is the Firewall resource as a workspace record carries it.
function fromWorkspace(w) {
  const fw = {id: w.id, revision: (w.firewall_status || {}).revision || '0'};
  for (const g of GROUPS) {
    for (const s of ['network_access_enabled', 'domain_access_mode', 'allowed_domains']) {
      fw[setting(g.prefix, s)] = w[setting(g.prefix, s)];
    }
  }
  return fw;
}

function effectiveList(w, g) {
  const st = w.firewall_status || {};
  const enabled = w[setting(g.prefix, 'network_access_enabled')];
  const mode = w[setting(g.prefix, 'domain_access_mode')];
  const list = st[`${g.prefix}_effective_allowed_domains`] || [];
  let note = '';
  if (!enabled) note = 'Network access is off: no egress at all.';
  else if (mode === 'deny') note = 'Mode deny: no external domain is reachable.';
  else if (mode === 'unrestricted') note = 'Mode unrestricted: any public destination; private and metadata addresses stay blocked.';
  return h('div', {class: 'effective', 'data-effective': g.prefix},
    h('h4', {}, `Effective allowed domains (${list.length})`),
    note ? h('p', {class: 'hint'}, note) : null,
    list.length
      ? h('ul', {class: 'chips', 'aria-label': `${g.title}: effective allowed domains`}, list.map(d => h('li', {class: 'chip'}, d)))
      : h('p', {class: 'muted'}, 'None reported yet.'));
}

/**
 * firewallEditor is the firewall card of a workspace page. update(w) is called
 * with every new version of the workspace from the watch.
 */
export function firewallEditor(initial) {
  const id = initial.id;
  let loaded = fromWorkspace(initial);
  let current = initial;
  let dirty = false;
  let busy = false;

  const statusEl = h('div', {class: 'fw-status', id: 'firewall-status'});
  const notice = h('div', {class: 'fw-notice', 'aria-live': 'polite'});
  const effective = {};
  const apply = h('button', {type: 'submit', class: 'btn btn-primary', id: 'firewall-apply'}, 'Apply firewall');
  const discard = h('button', {type: 'button', class: 'btn', id: 'firewall-discard', onclick: () => reload(null)}, 'Discard changes');
  const form = h('form', {class: 'fw-form', id: 'firewall-form', 'aria-labelledby': 'firewall-title', novalidate: true},
    h('div', {class: 'form-banner'}),
    notice,
    h('div', {class: 'groups'}, GROUPS.map(g => {
      effective[g.prefix] = h('div');
      return groupFieldset(g, 'fw', effective[g.prefix]);
    })),
    h('div', {class: 'form-actions'}, discard, apply));

  form.addEventListener('input', () => { dirty = true; render(); });
  form.addEventListener('submit', async ev => {
    ev.preventDefault();
    if (busy) return;
    clearErrors(form);
    busy = true;
    render();
    try {
      const fw = await api.updateFirewall(id, {revision: loaded.revision, ...readSettings(form)});
      loaded = fw;
      dirty = false;
      fillSettings(form, fw);
      toast(`Firewall update accepted (revision ${fw.revision})`);
    } catch (err) {
      if (err instanceof ApiError && err.code === 'FIREWALL_REVISION_CONFLICT') {
        await reload(err);
      } else {
        showError(form, err);
      }
    } finally {
      busy = false;
      render();
    }
  });

  // reload replaces the form with the server's settings; after a conflict it
  // tells the user why their edit was not applied.
  async function reload(conflict) {
    clearErrors(form);
    try {
      loaded = await api.firewall(id);
    } catch (err) {
      replace(form.querySelector('.form-banner'), banner(err));
      return;
    }
    dirty = false;
    fillSettings(form, loaded);
    if (conflict) {
      replace(form.querySelector('.form-banner'), h('div', {class: 'banner banner-warn', role: 'alert', id: 'firewall-conflict'},
        h('code', {class: 'err-code'}, conflict.code), ': ', conflict.message,
        h('br'), `Someone else changed the firewall. The editor now shows revision ${loaded.revision}; review it and apply your change again.`));
    }
    render();
  }

  function render() {
    const st = current.firewall_status || {};
    const rev = st.revision || '0';
    const observed = st.observed_revision || '0';
    replace(statusEl,
      h('span', {class: 'fw-phase'}, badge(st.phase || 'unavailable', {id: 'firewall-phase'})),
      h('span', {class: 'muted'}, `Settings revision ${rev}` + (observed !== '0' ? ` · enforced revision ${observed}` : ' · not enforced yet')),
      st.message ? h('span', {class: 'fw-message'}, st.message) : null,
      st.error_code ? h('code', {class: 'err-code'}, st.error_code) : null,
      st.update_time ? h('span', {class: 'muted'}, 'updated ', when(st.update_time)) : null);
    for (const g of GROUPS) replace(effective[g.prefix], effectiveList(current, g));
    const stale = String(rev) !== String(loaded.revision);
    replace(notice, stale && dirty ? h('div', {class: 'banner banner-warn', role: 'status'},
      `The firewall changed elsewhere (now revision ${rev}); applying your edits will be refused. `,
      h('button', {type: 'button', class: 'btn btn-small', onclick: () => reload(null)}, 'Load the current settings')) : null);
    const ok = allowed('update_firewall', current.state);
    apply.disabled = busy || !ok;
    apply.title = ok ? '' : `The firewall cannot be changed while ${current.state}`;
    discard.disabled = busy || !dirty;
  }

  fillSettings(form, loaded);
  render();
  return {
    el: h('section', {class: 'card', 'aria-labelledby': 'firewall-title'},
      h('div', {class: 'card-head'}, h('h2', {id: 'firewall-title'}, 'Firewall'), statusEl),
      form),
    update(w) {
      current = w;
      if (!dirty && String((w.firewall_status || {}).revision) !== String(loaded.revision)) {
        loaded = fromWorkspace(w);
        fillSettings(form, loaded);
      }
      render();
    },
  };
}
