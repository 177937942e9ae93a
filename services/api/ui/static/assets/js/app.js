// Entry point: a small history-API router over three views.
import {h, refreshTimes} from './dom.js';
import {errorText, banner} from './form.js';
import {token, setToken} from './api.js';
import {listView} from './list.js';
import {createView} from './create.js';
import {workspaceView} from './workspace.js';

const main = document.getElementById('main');
const conn = document.getElementById('connection');
let cleanup = () => {};

const labels = {connecting: 'Connecting…', live: 'Live', reconnecting: 'Reconnecting…', unauthorized: 'Signed out'};

/** setConnection shows the state of the live update stream in the top bar. */
function setConnection(state, err) {
  conn.dataset.state = state;
  conn.title = err ? `Live updates interrupted: ${errorText(err)}` : (state === 'live' ? 'Receiving live updates' : '');
  conn.replaceChildren(h('span', {class: 'dot', 'aria-hidden': 'true'}), labels[state] || state);
}

function route() {
  cleanup();
  cleanup = () => {};
  const path = location.pathname;
  const ctx = {navigate, setConnection};
  document.title = 'Workspaces · Aileron';
  let m;
  if (path === '/' || path === '/workspaces' || path === '/workspaces/') {
    cleanup = listView(main, ctx);
  } else if (path === '/new') {
    document.title = 'New workspace · Aileron';
    cleanup = createView(main, ctx);
  } else if ((m = path.match(/^\/workspaces\/([^/]+)\/?$/))) {
    cleanup = workspaceView(main, {...ctx, id: decodeURIComponent(m[1])});
  } else {
    conn.replaceChildren();
    main.replaceChildren(h('div', {class: 'empty card'}, h('h1', {}, 'Page not found'),
      h('p', {class: 'muted'}, `Nothing lives at ${path}.`),
      h('a', {href: '/', 'data-link': '', class: 'btn'}, 'Back to workspaces')));
  }
  for (const a of document.querySelectorAll('.topbar nav a')) {
    a.toggleAttribute('aria-current', a.getAttribute('href') === '/' && !path.startsWith('/new'));
  }
}

/** navigate opens an in-app path without reloading the page. */
function navigate(path) {
  if (path !== location.pathname + location.search) history.pushState(null, '', path);
  route();
  main.focus({preventScroll: true});
  window.scrollTo(0, 0);
}

document.addEventListener('click', ev => {
  const a = ev.target.closest('a[data-link]');
  if (!a || ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
  ev.preventDefault();
  navigate(a.getAttribute('href'));
});
window.addEventListener('popstate', route);

// signIn asks for a bearer token when the API answers 401; the token lives in
// sessionStorage, so it is gone when the tab closes.
let signInOpen = false;
function signIn(err) {
  if (signInOpen) return;
  signInOpen = true;
  const input = h('input', {type: 'password', id: 'token-input', autocomplete: 'off', required: true});
  const dlg = h('dialog', {class: 'dialog', id: 'signin-dialog', 'aria-labelledby': 'signin-title'},
    h('form', {method: 'dialog'},
      h('h2', {id: 'signin-title'}, 'Sign in'),
      h('p', {}, 'The API needs a bearer token: an access token from your identity provider or an API token.'),
      err ? banner(err) : null,
      h('div', {class: 'field'}, h('label', {for: 'token-input'}, 'Bearer token'), input),
      h('div', {class: 'form-actions'}, h('button', {type: 'submit', class: 'btn btn-primary'}, 'Sign in'))));
  dlg.querySelector('form').addEventListener('submit', ev => {
    ev.preventDefault();
    if (!input.value.trim()) return;
    setToken(input.value.trim());
    location.reload();
  });
  document.body.append(dlg);
  dlg.showModal();
}
window.addEventListener('aileron:unauthorized', ev => signIn(ev.detail));
if (token()) {
  document.querySelector('.topbar').append(h('button', {type: 'button', class: 'btn btn-small', id: 'signout',
    onclick: () => { setToken(''); location.reload(); }}, 'Sign out'));
}
setInterval(() => refreshTimes(main), 15000);
route();
