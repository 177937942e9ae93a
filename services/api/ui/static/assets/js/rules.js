// The lifecycle rules of the orchestrator's command table, generated into
// lifecycle.gen.js, so buttons for commands the state does not allow are
// disabled.
import {h} from './dom.js';
import {STATES, SERVICE_NAMES, ALLOWED_FROM, BUSY} from './lifecycle.gen.js';

export {STATES};

const serviceText = {
  runtime: {label: 'Runtime', hint: 'The agent runtime'},
  terminal: {label: 'Terminal', hint: 'In-browser terminal'},
  browser: {label: 'Browser', hint: 'Headless Chromium: live preview, DevTools'},
  canvas: {label: 'Canvas', hint: 'What the agent renders (optional)'},
};

/** SERVICES lists the services of a workspace, in display order. */
export const SERVICES = SERVICE_NAMES.map((name) => ({name, label: name, hint: '', ...serviceText[name]}));

/** allowed reports whether a command (stop, start, restart, restart_service, delete, update_firewall) is allowed from a state. */
export function allowed(command, state) {
  return (ALLOWED_FROM[command] || []).includes(state);
}

/** why explains a disabled command, for its tooltip. */
export function why(command, state) {
  const from = ALLOWED_FROM[command];
  return allowed(command, state) ? '' : `Not available while ${state}; allowed when ${from.join(' or ')}`;
}

const tone = {
  running: 'ok', applied: 'ok',
  failed: 'bad', error: 'bad', deleting: 'bad',
  stopped: 'off', disabled: 'off', unavailable: 'off', pending: 'off',
  degraded: 'warn',
};
const transitional = new Set(BUSY);

/** badge renders a state (of a workspace, a service or the firewall) as a pill. */
export function badge(state, extra = {}) {
  const s = state || 'unknown';
  return h('span', {class: `badge badge-${tone[s] || (transitional.has(s) ? 'busy' : 'off')}`,
    'data-state': s, ...extra},
  transitional.has(s) ? h('span', {class: 'spinner', 'aria-hidden': 'true'}) : h('span', {class: 'dot', 'aria-hidden': 'true'}),
  s);
}
