// Showing API errors: next to the field they name, or in a banner.
import {h, replace} from './dom.js';
import {ApiError} from './api.js';

/** errorText is the verbatim "CODE: message" of an error. */
export function errorText(err) {
  return err instanceof ApiError ? err.toString() : `ERROR: ${err && err.message ? err.message : err}`;
}

/** banner renders an error (or a notice) as an alert box. */
export function banner(err, {tone = 'bad', title = ''} = {}) {
  const code = err instanceof ApiError ? err.code : '';
  return h('div', {class: `banner banner-${tone}`, role: tone === 'bad' ? 'alert' : 'status'},
    title ? h('strong', {}, title, ' ') : null,
    code ? h('code', {class: 'err-code'}, code) : null,
    code ? ': ' : null,
    err instanceof ApiError ? err.message : String(err && err.message ? err.message : err),
    err instanceof ApiError && err.requestId ? h('span', {class: 'muted req-id'}, ` (request ${err.requestId})`) : null);
}

/** clearErrors removes every field error and the form's banner. */
export function clearErrors(form) {
  for (const el of form.querySelectorAll('.field-error')) el.remove();
  for (const el of form.querySelectorAll('[aria-invalid]')) {
    el.removeAttribute('aria-invalid');
    const ids = (el.getAttribute('aria-describedby') || '').split(' ').filter(i => !i.endsWith('-error'));
    if (ids.length) el.setAttribute('aria-describedby', ids.join(' '));
    else el.removeAttribute('aria-describedby');
  }
  const slot = form.querySelector('.form-banner');
  if (slot) slot.replaceChildren();
}

/**
 * showError puts an API error next to the control its field names (list
 * fields like "workspace_firewall_allowed_domains[1]" map to their control),
 * or in the form's banner when no control matches. Returns the control.
 */
export function showError(form, err) {
  const field = err instanceof ApiError ? err.field.replace(/\[\d+\]$/, '') : '';
  const control = field ? form.querySelector(`[name="${CSS.escape(field)}"]`) : null;
  if (!control) {
    const slot = form.querySelector('.form-banner');
    if (slot) replace(slot, banner(err));
    return null;
  }
  const id = `${control.id}-error`;
  const msg = h('p', {class: 'field-error', id, role: 'alert'},
    h('code', {class: 'err-code'}, err.code), ': ', err.message);
  const wrap = control.closest('.field') || control.parentElement;
  wrap.append(msg);
  control.setAttribute('aria-invalid', 'true');
  const ids = (control.getAttribute('aria-describedby') || '').split(' ').filter(Boolean);
  control.setAttribute('aria-describedby', [...ids, id].join(' '));
  control.focus();
  return control;
}
