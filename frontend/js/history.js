// My recent jobs: what was asked, how it ended, and a way back to the result.
import { byId, clear, el } from "./dom.js";

function summary(job, messages) {
  const result = job.result || {};
  if (job.state === "failed") {
    const code = (job.error && job.error.code) || "internal_error";
    return messages[code] || "The job failed.";
  }
  if (job.app === "cough" && result.label) return `${result.label} (${Math.round((result.confidence || 0) * 100)}%)`;
  if (job.input && job.input.kind === "text") return `“${job.input.text}”`;
  return job.state;
}

export function setupHistory(api, open) {
  const list = byId("history");
  async function refresh() {
    clear(list);
    let jobs;
    try {
      ({ jobs } = await api.listJobs(20));
    } catch (err) {
      list.append(el("li", { class: "error" }, (api.config.errors || {})[err.code] || "Could not load your jobs."));
      return;
    }
    if (!jobs.length) list.append(el("li", { class: "hint" }, "No jobs yet."));
    for (const job of jobs) {
      const when = job.created_at ? new Date(job.created_at).toLocaleString() : "";
      const item = el("li", { class: "history-item", "data-job": job.job_id },
        el("span", { class: `badge state-${job.state}` }, job.state),
        el("span", { class: "history-app" }, job.app),
        el("span", { class: "history-summary" }, summary(job, api.config.errors || {})),
        el("span", { class: "history-when" }, when));
      const button = el("button", { type: "button", onclick: () => open(job) }, "Open");
      item.append(button);
      list.append(item);
    }
  }
  byId("history-refresh").addEventListener("click", refresh);
  return { refresh };
}
