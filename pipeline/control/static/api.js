// The control-room API over fetch: bearer token, JSON in and out, errors carrying the API's own message.

export class ApiError extends Error {
  constructor(status, message, detail) {
    super(message);
    this.status = status;
    this.detail = detail;
  }
}

/** The API's `detail` as one line: a string as is, FastAPI's 422 list as "field: message; ...". */
export function describeDetail(detail) {
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail.map((d) => {
      const field = Array.isArray(d.loc) ? d.loc.filter((p) => p !== "body").join(".") : "";
      return field ? `${field}: ${d.msg}` : d.msg;
    }).join("; ");
  }
  return detail == null ? "" : JSON.stringify(detail);
}

export class Api {
  /** @param {string} token  @param {() => void} onUnauthorized called on any 401 */
  constructor(token, onUnauthorized = () => {}) {
    this.token = token;
    this.onUnauthorized = onUnauthorized;
  }

  /** A URL a browser fetches by itself (<img>, <video>, EventSource, links): the token goes in the query. */
  withToken(path) {
    const sep = path.includes("?") ? "&" : "?";
    return `${path}${sep}token=${encodeURIComponent(this.token)}`;
  }

  async request(method, path, body) {
    const headers = { Authorization: `Bearer ${this.token}`, Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (err) {
      throw new ApiError(0, err.message || String(err));
    }
    const text = await response.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch {
      data = text;
    }
    if (!response.ok) {
      if (response.status === 401) this.onUnauthorized();
      const detail = data && typeof data === "object" ? data.detail : data;
      throw new ApiError(response.status, describeDetail(detail) || response.statusText, detail);
    }
    return data;
  }

  get(path) { return this.request("GET", path); }
  post(path, body = {}) { return this.request("POST", path, body); }
  del(path) { return this.request("DELETE", path); }
}
