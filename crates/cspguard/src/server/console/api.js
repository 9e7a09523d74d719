// The console talks only to the authenticated /api/v1 API, with the session cookie (HttpOnly: scripts never see it).

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export async function api(method, path, body) {
  const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const r = await fetch(`/api/v1${path}`, init);
  if (r.status === 204) return null;
  const v = await r.json().catch(() => null);
  if (!r.ok) throw new ApiError(r.status, (v && v.error) || r.statusText);
  return v;
}

export const get = (path) => api('GET', path);
export const post = (path, body) => api('POST', path, body ?? {});
