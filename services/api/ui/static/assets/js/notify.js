// Transient confirmations ("Restart requested"), announced to screen readers.
import {h} from './dom.js';

/** toast shows a short message in the corner for a few seconds. */
export function toast(message, tone = 'ok') {
  const box = document.getElementById('toasts');
  if (!box) return;
  const el = h('div', {class: `toast toast-${tone}`}, message);
  box.append(el);
  setTimeout(() => el.classList.add('toast-out'), 4000);
  setTimeout(() => el.remove(), 4400);
}
