// The lifecycle rules the UI mirrors from the orchestrator's transition table,
// so buttons for actions the state does not allow are disabled.
import {h} from './dom.js';

/** STATES lists every workspace state, in lifecycle order. */
export const STATES = ['creating', 'running', 'stopping', 'stopped', 'starting', 'restarting', 'deleting', 'failed'];

/** SERVICES lists the services of a workspace, in display order. */
export const SERVICES = [
  {name: 'runtime', label: 'Runtime', hint: 'The agent runtime'},
  {name: 'terminal', label: 'Terminal', hint: 'In-browser terminal'},
  {name: 'browser', label: 'Browser', hint: 'Headless Chrome'},
  {name: 'canvas', label: 'Canvas', hint: 'Optional canvas'},
];

const allowedFrom = {
  stop: ['running', 'failed'],
  start: ['stopped', 'failed'],
  restart: ['running'],
  restartService: ['running'],
  delete: STATES,
  firewall: ['creating', 'running', 'stopping', 'stopped', 'starting', 'restarting', 'failed'],
};

/** allowed reports whether an action is allowed from a state. */
export function allowed(action, state) {
  return (allowedFrom[action] || []).includes(state);
}

/** why explains a disabled action, for its tooltip. */
export function why(action, state) {
  const from = allowedFrom[action];
  return allowed(action, state) ? '' : `Not available while ${state}; allowed when ${from.join(' or ')}`;
}

const tone = {
  running: 'ok', applied: 'ok',
  failed: 'bad', error: 'bad', deleting: 'bad',
  stopped: 'off', disabled: 'off', unavailable: 'off', pending: 'off',
  degraded: 'warn',
};
const transitional = new Set(['creating', 'stopping', 'starting', 'restarting', 'deleting', 'applying', 'pulling', 'pending']);

/** badge renders a state (of a workspace, a service or the firewall) as a pill. */
export function badge(state, extra = {}) {
  const s = state || 'unknown';
  return h('span', {class: `badge badge-${tone[s] || (transitional.has(s) ? 'busy' : 'off')}`,
    'data-state': s, ...extra},
  transitional.has(s) ? h('span', {class: 'spinner', 'aria-hidden': 'true'}) : h('span', {class: 'dot', 'aria-hidden': 'true'}),
  s);
}
