// The admin API, with the signed-in admin's token. The token lives in sessionStorage: gone
// when the tab closes, never sent anywhere but this origin's API, and dropped when it
// expires or the server refuses it.
const KEY = "minibase.console.session";

export class SessionEnded extends Error {}

export function session() {
  const raw = sessionStorage.getItem(KEY);
  if (!raw) return null;
  const saved = JSON.parse(raw);
  if (Date.now() / 1000 >= saved.expires) {
    sessionStorage.removeItem(KEY);
    return null;
  }
  return saved;
}

export function signOut() {
  sessionStorage.removeItem(KEY);
}

/** Ends the admin token on the server too (every instance refuses it from now on), then
 * here; the page forgets it even when the server cannot be reached. */
export async function signOutEverywhere() {
  const current = session();
  try {
    if (current) await fetch("/api/admin/logout", { method: "POST", headers: { authorization: `Bearer ${current.token}` } });
  } finally {
    signOut();
  }
}

export async function signIn(email, password) {
  const answer = await fetch("/api/admin/login", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email, password }),
  });
  const body = await answer.json();
  if (!answer.ok) throw Object.assign(new Error(body.message), body);
  const claims = JSON.parse(atob(body.token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
  sessionStorage.setItem(KEY, JSON.stringify({ token: body.token, expires: claims.exp, email }));
  window.dispatchEvent(new Event("minibase:session"));
}

/** The API's JSON answer; throws the server's {code, message} on a refusal. `body` goes as
 * JSON, `form` (a FormData) as multipart; `blob` answers the body as a Blob. */
export async function api(method, path, { body, form, headers = {}, blob = false } = {}) {
  const current = session();
  if (!current) throw new SessionEnded();
  const answer = await fetch(path, {
    method,
    headers: {
      authorization: `Bearer ${current.token}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
      ...headers,
    },
    body: form ?? (body === undefined ? undefined : JSON.stringify(body)),
  });
  if (answer.status === 401) {
    signOut();
    throw new SessionEnded();
  }
  if (blob && answer.ok) return answer.blob();
  const text = await answer.text();
  const data = text ? JSON.parse(text) : undefined;
  if (!answer.ok) throw Object.assign(new Error(data?.message ?? answer.statusText), data ?? {});
  return data;
}

/** Uploads one file as multipart (the part the server reads files from by default: `file`). */
export async function upload(path, file) {
  const form = new FormData();
  form.append("file", file, file.name);
  return api("POST", path, { form });
}
