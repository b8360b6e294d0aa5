// The HTTP API as the page uses it. Every request names the caller: the X-Dev-User
// header in development mode, a Firebase ID token in production.

export class ApiError extends Error {
  constructor(code, message, status) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

async function errorOf(response) {
  try {
    const body = await response.json();
    if (body && body.error && typeof body.error.code === "string") {
      return new ApiError(body.error.code, String(body.error.message || ""), response.status);
    }
  } catch {
    // Not JSON: a proxy's page or a dropped connection; fall through.
  }
  return new ApiError("internal_error", `HTTP ${response.status}`, response.status);
}

export class Api {
  /** `idToken` is an async function answering a Firebase ID token (production only). */
  constructor(config, idToken = null) {
    this.config = config;
    this.user = config.auth.user || "local";
    this.idToken = idToken;
  }

  async headers(extra = {}) {
    if (this.config.auth.mode === "dev") return { "X-Dev-User": this.user, ...extra };
    return { Authorization: `Bearer ${await this.idToken()}`, ...extra };
  }

  async request(method, path, { body, headers = {} } = {}) {
    let response;
    try {
      response = await fetch(path, { method, body, headers: await this.headers(headers) });
    } catch (err) {
      throw new ApiError("unavailable", String(err), 0);
    }
    if (!response.ok) throw await errorOf(response);
    return response;
  }

  async json(method, path, payload) {
    const options = payload === undefined ? {} : {
      body: JSON.stringify(payload),
      headers: { "Content-Type": "application/json" },
    };
    return (await this.request(method, path, options)).json();
  }

  warmup(app) {
    return this.json("POST", `/v1/warmup?app=${encodeURIComponent(app)}`);
  }

  submitQuery(app, text) {
    return this.json("POST", "/v1/jobs", { app, text });
  }

  listJobs(limit = 20) {
    return this.json("GET", `/v1/jobs?limit=${limit}`);
  }

  getJob(jobId) {
    return this.json("GET", `/v1/jobs/${encodeURIComponent(jobId)}`);
  }

  /** Upload a file as a job; `onProgress(sent, total)`. Large files go in resumable chunks. */
  async uploadFile(app, file, onProgress) {
    if (file.size > this.config.limits.max_upload_bytes) {
      throw new ApiError("too_large", `${file.size} bytes`, 413);
    }
    if (file.size > this.config.limits.chunk_bytes) return this.uploadResumable(app, file, onProgress);
    const form = new FormData();
    form.append("app", app);
    form.append("file", file, file.name || "recording.webm");
    const headers = await this.headers();
    // XMLHttpRequest, not fetch: only it reports upload progress.
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", "/v1/jobs");
      for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
      xhr.upload.addEventListener("progress", (e) => onProgress(e.loaded, e.total || file.size));
      xhr.addEventListener("load", () => {
        let body = null;
        try {
          body = JSON.parse(xhr.responseText);
        } catch {
          body = null;
        }
        if (xhr.status === 202 && body) {
          onProgress(file.size, file.size);
          resolve(body);
        } else if (body && body.error) {
          reject(new ApiError(body.error.code, String(body.error.message || ""), xhr.status));
        } else {
          reject(new ApiError("internal_error", `HTTP ${xhr.status}`, xhr.status));
        }
      });
      xhr.addEventListener("error", () => reject(new ApiError("unavailable", "network error", 0)));
      xhr.send(form);
    });
  }

  async uploadResumable(app, file, onProgress) {
    const session = await this.json("POST", "/v1/uploads", {
      app,
      filename: file.name || "recording.webm",
      content_type: file.type || "application/octet-stream",
      size: file.size,
    });
    let received = session.received;
    while (received < file.size) {
      const end = Math.min(received + session.chunk_bytes, file.size) - 1;
      const response = await this.request("PUT", session.url, {
        body: file.slice(received, end + 1),
        headers: { "Content-Range": `bytes ${received}-${end}/${file.size}` },
      });
      received = end + 1;
      onProgress(received, file.size);
      if (response.status === 202) return response.json();
    }
    throw new ApiError("upload_conflict", "the upload ended without a job", 409);
  }

  /** A same-page URL for one of a job's result files (fetched with the caller's credentials). */
  async fileUrl(jobId, name) {
    const path = `/v1/jobs/${encodeURIComponent(jobId)}/files/${encodeURIComponent(name)}`;
    const blob = await (await this.request("GET", path)).blob();
    return URL.createObjectURL(blob);
  }

  eventsUrl(jobId) {
    const path = `/v1/jobs/${encodeURIComponent(jobId)}/events`;
    // EventSource cannot send headers: development mode names the caller in the URL.
    return `${path}?dev_user=${encodeURIComponent(this.user)}`;
  }
}

/** The last part of a blob name: the file name the files route serves. */
export function fileName(ref) {
  return String(ref.name).split("/").pop();
}
