// The SLS HTTP API, as the SDKs call it: every request signed with SLS signature version 4
// (SLS4-HMAC-SHA256 over a canonical request, WebCrypto HMAC-SHA256) with the key the user
// entered, kept in sessionStorage only. In the dev mode of `logport up --insecure-no-auth`
// requests go unsigned. The project travels in the x-log-project header (signed).

const SESSION_KEY = 'logport.console.session';
const REGION = 'local';
const encoder = new TextEncoder();

/** The signed-in session: {keyId, secret, dev, project}. */
export function loadSession() {
  try {
    return JSON.parse(sessionStorage.getItem(SESSION_KEY) || 'null');
  } catch {
    return null;
  }
}

export function saveSession(session) {
  if (session) sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
  else sessionStorage.removeItem(SESSION_KEY);
}

/** An error answer of the API (or of the network), with the server's errorCode and errorMessage. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const hex = (buffer) => Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, '0')).join('');

async function sha256Hex(bytes) {
  return hex(await crypto.subtle.digest('SHA-256', bytes));
}

async function hmac(key, text) {
  const imported = await crypto.subtle.importKey('raw', key, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return new Uint8Array(await crypto.subtle.sign('HMAC', imported, encoder.encode(text)));
}

/** RFC 3986: unreserved characters stay, everything else is percent-encoded (UTF-8). */
export function rfc3986(text) {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}

/** `YYYYMMDDTHHMMSSZ` for a Date. */
export function v4Time(date) {
  return date.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

/**
 * The canonical request of signature v4 (the server's `v4_canonical_request`): method, decoded
 * path, sorted query with RFC 3986 values (a bare key when empty), sorted `name:value` headers,
 * their names joined by `;`, the body's SHA-256.
 */
export function canonicalRequest(method, path, params, headers, payloadHash) {
  const query = Object.keys(params)
    .sort()
    .map((key) => (params[key] === '' ? key : `${key}=${rfc3986(params[key])}`))
    .join('&');
  const names = Object.keys(headers).sort();
  const lines = names.map((name) => `${name}:${String(headers[name]).trim()}\n`).join('');
  return `${method}\n${path}\n${query}\n${lines}\n${names.join(';')}\n${payloadHash}`;
}

/**
 * Signs a request: returns the headers to send (Host is set by the browser, but signed). `path`
 * is unencoded; `params` are decoded values.
 */
export async function signV4(session, method, path, params, headers, body, { now = new Date(), region = REGION, host = location.host } = {}) {
  const time = v4Time(now);
  const day = time.slice(0, 8);
  const payloadHash = await sha256Hex(body);
  const signed = { ...headers, 'x-log-date': time, 'x-log-content-sha256': payloadHash, host };
  const canonical = canonicalRequest(method, path, params, signed, payloadHash);
  const scope = `${day}/${region}/sls/aliyun_v4_request`;
  const toSign = `SLS4-HMAC-SHA256\n${time}\n${scope}\n${await sha256Hex(encoder.encode(canonical))}`;
  let key = encoder.encode('aliyun_v4' + session.secret);
  for (const part of [day, region, 'sls', 'aliyun_v4_request']) key = await hmac(key, part);
  const signature = hex(await hmac(key, toSign));
  delete signed.host;
  signed.authorization = `SLS4-HMAC-SHA256 Credential=${session.keyId}/${scope},Signature=${signature}`;
  return signed;
}

/**
 * One API call. `path` is unencoded (`/logstores/web`); `params` a flat object; `body` a JSON
 * value or undefined; `project` false for calls without a project (ListProjects).
 * Resolves to {data, headers}: data is the parsed JSON answer (null for an empty one).
 */
export async function request(session, method, path, { params = {}, body, project } = {}) {
  const clean = Object.fromEntries(
    Object.entries(params)
      .filter(([, value]) => value !== undefined && value !== null)
      .map(([key, value]) => [key, String(value)]),
  );
  const bytes = body === undefined ? new Uint8Array() : encoder.encode(JSON.stringify(body));
  let headers = { 'x-log-apiversion': '0.6.0', 'x-log-signaturemethod': 'hmac-sha256' };
  const projectName = project === false ? null : project || session.project;
  if (projectName) headers['x-log-project'] = projectName;
  if (bytes.length) headers['content-type'] = 'application/json';
  if (!session.dev) {
    if (!globalThis.crypto || !crypto.subtle) {
      throw new ApiError(0, 'InsecureContext', 'this page cannot sign requests: browsers offer WebCrypto on https or localhost/127.0.0.1 only');
    }
    headers = await signV4(session, method, path, clean, headers, bytes);
  }
  const encodedPath = path.split('/').map(encodeURIComponent).join('/');
  const query = Object.keys(clean).map((key) => `${rfc3986(key)}=${rfc3986(clean[key])}`).join('&');
  let response;
  try {
    response = await fetch(encodedPath + (query ? '?' + query : ''), {
      method,
      headers: { ...headers, accept: 'application/json' },
      body: bytes.length ? bytes : undefined,
      cache: 'no-store',
      credentials: 'omit',
    });
  } catch (error) {
    throw new ApiError(0, 'NetworkError', `cannot reach the server: ${error.message}`);
  }
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      if (response.ok) throw new ApiError(response.status, 'BadResponse', `the answer is not JSON: ${text.slice(0, 200)}`);
    }
  }
  if (!response.ok) {
    const code = (data && data.errorCode) || `HTTP${response.status}`;
    const message = (data && data.errorMessage) || text.slice(0, 500) || response.statusText;
    throw new ApiError(response.status, code, message);
  }
  return { data, headers: response.headers };
}

/** Whether the server runs without signature checks (`logport up --insecure-no-auth`). */
export async function probeDevMode() {
  try {
    await request({ dev: true }, 'GET', '/', { project: false, params: { size: 1 } });
    return true;
  } catch {
    return false;
  }
}

/** The shard position in a Logport cursor (base64 of the decimal position), or null. */
export function cursorPosition(cursor) {
  try {
    const text = atob(cursor);
    return /^\d+$/.test(text) ? Number(text) : null;
  } catch {
    return null;
  }
}
