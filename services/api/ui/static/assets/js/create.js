// The create form: name, provisioner, canvas and both firewall groups.
import {h} from './dom.js';
import {api} from './api.js';
import {GROUPS, groupFieldset, readSettings} from './firewall.js';
import {clearErrors, showError} from './form.js';
import {toast} from './notify.js';

/** createView renders the create form into main; navigate opens a path. */
export function createView(main, {navigate}) {
  const submit = h('button', {type: 'submit', class: 'btn btn-primary', id: 'create-submit'}, 'Create workspace');
  const form = h('form', {id: 'create-form', class: 'card form', novalidate: true, 'aria-labelledby': 'create-title'},
    h('div', {class: 'form-banner'}),
    h('fieldset', {class: 'group'},
      h('legend', {}, 'General'),
      h('div', {class: 'field'},
        h('label', {for: 'c-name'}, 'Name'),
        h('input', {id: 'c-name', name: 'name', type: 'text', required: true, maxlength: 63, autocomplete: 'off',
          spellcheck: 'false', autocapitalize: 'off', 'aria-describedby': 'c-name-hint'}),
        h('p', {class: 'hint', id: 'c-name-hint'}, '1–63 lowercase letters, digits and hyphens, e.g. data-pipeline.')),
      h('div', {class: 'field'},
        h('span', {class: 'label', id: 'c-provisioner-label'}, 'Provisioner'),
        h('div', {class: 'segmented', role: 'radiogroup', 'aria-labelledby': 'c-provisioner-label'},
          ['docker', 'kubernetes'].map((p, i) => h('label', {class: 'seg'},
            h('input', {type: 'radio', name: 'provisioner', id: `c-provisioner-${p}`, value: p, checked: i === 0}),
            h('span', {}, p === 'docker' ? 'Docker' : 'Kubernetes'))))),
      h('div', {class: 'field field-check'},
        h('input', {type: 'checkbox', id: 'c-canvas', name: 'canvas_enabled', 'aria-describedby': 'c-canvas-hint'}),
        h('label', {for: 'c-canvas'}, 'Canvas service'),
        h('p', {class: 'hint', id: 'c-canvas-hint'}, 'Runs the optional canvas next to the runtime, terminal and browser.'))),
    h('div', {class: 'groups'}, GROUPS.map(g => groupFieldset(g, 'c'))),
    h('div', {class: 'form-actions'},
      h('a', {href: '/', class: 'btn', 'data-link': ''}, 'Cancel'),
      submit));

  form.addEventListener('submit', async ev => {
    ev.preventDefault();
    clearErrors(form);
    const body = {
      name: form.elements.name.value.trim(),
      provisioner: form.elements.provisioner.value,
      canvas_enabled: form.elements.canvas_enabled.checked,
      ...readSettings(form),
    };
    submit.disabled = true;
    submit.textContent = 'Creating…';
    try {
      const w = await api.create(body);
      toast(`Workspace ${w.name} created`);
      navigate(`/workspaces/${encodeURIComponent(w.id)}`);
    } catch (err) {
      showError(form, err);
    } finally {
      submit.disabled = false;
      submit.textContent = 'Create workspace';
    }
  });

  main.replaceChildren(
    h('nav', {class: 'crumbs', 'aria-label': 'Breadcrumb'}, h('a', {href: '/', 'data-link': ''}, 'Workspaces'), h('span', {'aria-hidden': 'true'}, ' / '), 'New'),
    h('div', {class: 'page-head'}, h('h1', {id: 'create-title'}, 'New workspace')),
    form);
  form.elements.name.focus();
  return () => {};
}
