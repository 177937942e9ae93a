// Client of the workspace REST API (grpc-gateway, proto field names).

/** ApiError is an error answered by the API: {code, message, field, status, request_id}. */
export class ApiError extends Error {
  constructor({code, message, field, status, request_id: requestId}) {
    super(message || '');
    this.name = 'ApiError';
    this.code = code || 'UNKNOWN';
    this.field = field || '';
    this.status = status || 0;
    this.requestId = requestId || '';
  }

  /** The verbatim "CODE: message" line users see. */
  toString() {
    return this.message ? `${this.code}: ${this.message}` : this.code;
  }
}

const TOKEN_KEY = 'aileron.token';

/** token is the bearer token the user gave for this tab ('' when none). */
export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || '';
}

/** setToken remembers a bearer token for this tab; '' forgets it. */
export function setToken(t) {
  if (t) sessionStorage.setItem(TOKEN_KEY, t);
  else sessionStorage.removeItem(TOKEN_KEY);
}

function headers(extra = {}) {
  const h = {Accept: 'application/json', ...extra};
  if (token()) h.Authorization = `Bearer ${token()}`;
  return h;
}

function errorFrom(resp, text) {
  let data = null;
  try { data = JSON.parse(text); } catch { /* not JSON */ }
  let err;
  if (data && typeof data.code === 'string') err = new ApiError(data);
  // A stream that fails before its first message answers a google.rpc.Status.
  else if (data && data.error) err = Object.assign(streamError(data.error), {status: resp.status});
  else err = new ApiError({code: `HTTP_${resp.status}`, message: text.trim() || resp.statusText, status: resp.status});
  if (resp.status === 401) window.dispatchEvent(new CustomEvent('aileron:unauthorized', {detail: err}));
  return err;
}

function networkError(e) {
  return new ApiError({code: 'NETWORK_ERROR', message: `cannot reach the API: ${e.message}`});
}

async function request(method, path, body) {
  const init = {method, headers: headers()};
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(path, init);
  } catch (e) {
    throw networkError(e);
  }
  const text = await resp.text();
  if (!resp.ok) throw errorFrom(resp, text);
  return text ? JSON.parse(text) : {};
}

const ws = id => `/api/v1/workspaces/${encodeURIComponent(id)}`;

/** listAll reads every page of workspaces. */
export async function listAll() {
  const out = [];
  let token = '';
  do {
    const q = new URLSearchParams({page_size: '100'});
    if (token) q.set('page_token', token);
    const page = await request('GET', `/api/v1/workspaces?${q}`);
    out.push(...(page.workspaces || []));
    token = page.next_page_token || '';
  } while (token);
  return out;
}

/** The REST calls the UI makes. */
export const api = {
  get: id => request('GET', ws(id)),
  create: body => request('POST', '/api/v1/workspaces', body),
  stop: id => request('POST', `${ws(id)}/stop`, {}),
  start: id => request('POST', `${ws(id)}/start`, {}),
  restart: id => request('POST', `${ws(id)}/restart`, {}),
  restartService: (id, service) => request('POST', `${ws(id)}/services/${encodeURIComponent(service)}/restart`, {}),
  open: (id, service) => request('POST', `${ws(id)}/services/${encodeURIComponent(service)}:open`, {}),
  remove: id => request('DELETE', ws(id)),
  firewall: id => request('GET', `${ws(id)}/firewall`),
  timeline: id => request('GET', `${ws(id)}/timeline`),
  updateFirewall: (id, body) => request('PUT', `${ws(id)}/firewall`, body),
};

const sleep = (ms, signal) => new Promise(resolve => {
  const t = setTimeout(resolve, ms);
  signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, {once: true});
});

// A stream error is a google.rpc.Status ({code, message, details}); details may
// carry an ErrorInfo whose reason is the stable code.
function streamError(err) {
  const info = (err.details || []).find(d => d && d.reason);
  return new ApiError({code: info ? info.reason : `RPC_${err.code}`, message: err.message,
    field: info && info.metadata ? info.metadata.field : ''});
}

/**
 * watch follows GET /api/v1/workspaces:watch (newline-delimited JSON) and
 * reconnects with backoff until stopped. onEvent gets {type, workspace};
 * onStatus gets 'connecting', 'live', 'reconnecting' (with the error) or
 * 'gone' (the watched workspace does not exist). Returns a stop function.
 */
export function watch({id = '', onEvent, onStatus = () => {}}) {
  const ctrl = new AbortController();
  const url = '/api/v1/workspaces:watch' + (id ? `?id=${encodeURIComponent(id)}` : '');
  let attempt = 0;

  async function once() {
    let resp;
    try {
      resp = await fetch(url, {signal: ctrl.signal, headers: headers()});
    } catch (e) {
      throw ctrl.signal.aborted ? e : networkError(e);
    }
    if (!resp.ok) throw errorFrom(resp, await resp.text());
    onStatus('live');
    const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = '';
    for (;;) {
      const {value, done} = await reader.read();
      if (done) return;
      buf += value;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (!line) continue;
        const msg = JSON.parse(line);
        if (msg.error) throw streamError(msg.error);
        if (typeof msg.code === 'string') throw new ApiError(msg);
        if (msg.result && msg.result.type === 'synced') continue;
        if (msg.result) {
          attempt = 0;
          onEvent(msg.result);
        }
      }
    }
  }

  (async () => {
    while (!ctrl.signal.aborted) {
      onStatus(attempt === 0 ? 'connecting' : 'reconnecting');
      try {
        await once();
      } catch (e) {
        if (ctrl.signal.aborted) return;
        if (e instanceof ApiError && e.status === 404) {
          onStatus('gone', e);
          return;
        }
        if (e instanceof ApiError && e.status === 401) {
          onStatus('unauthorized', e);
          return;
        }
        onStatus('reconnecting', e);
      }
      if (ctrl.signal.aborted) return;
      // Exponential backoff with jitter, capped at 15 s.
      const delay = Math.min(15000, 500 * 2 ** attempt) * (0.5 + Math.random() / 2);
      attempt += 1;
      await sleep(delay, ctrl.signal);
    }
  })();
  return () => ctrl.abort();
}
