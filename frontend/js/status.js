// A job's progress and problems, as the person waiting sees them.
import { clear, el, show } from "./dom.js";
import { watchJob } from "./watch.js";

const STEPS = [
  { key: "queued", label: "Queued" },
  { key: "preprocess", label: "Preprocess", state: "preprocessing" },
  { key: "inference", label: "Inference", state: "inference" },
  { key: "lookup", label: "Lookup", state: "lookup" },
];
const ORDER = ["queued", "preprocessing", "inference", "lookup", "succeeded"];

/** Draw the job's stages: done ones with their time, the running one, those to come. */
export function renderStages(list, job) {
  const stages = job.stages || {};
  const reached = job.state === "failed" ? -1 : ORDER.indexOf(job.state);
  // A repeated query is answered from the results cache: no stage runs.
  const cached = Boolean(job.result && job.result.cache && job.result.cache.hit);
  clear(list);
  for (const step of STEPS) {
    const timing = stages[step.key];
    let status = "waiting";
    let detail = "";
    if (step.key === "queued") {
      status = "done";
    } else if (job.state === "failed" && job.error && job.error.stage === step.key) {
      status = "failed";
      detail = "failed";
    } else if (timing && typeof timing.ms === "number") {
      status = "done";
      detail = `${timing.ms.toFixed(0)} ms`;
    } else if (job.state === step.state) {
      status = "running";
      detail = "running…";
    } else if (reached > ORDER.indexOf(step.state)) {
      status = "done";
      detail = cached ? "cached" : "";
    }
    list.append(
      el("li", { class: `stage ${status}`, "data-stage": step.key, "data-status": status },
        el("span", { class: "stage-name" }, step.label),
        el("span", { class: "stage-detail" }, detail)),
    );
  }
  const final = job.state === "succeeded" || job.state === "failed";
  list.append(el("li", { class: `stage ${final ? job.state : "waiting"}`, "data-stage": "final" },
    el("span", { class: "stage-name" }, job.state === "failed" ? "Failed" : "Done"),
    el("span", { class: "stage-detail" }, totalTime(stages))));
  show(list);
}

function totalTime(stages) {
  const ms = Object.values(stages).reduce((sum, s) => sum + (typeof s.ms === "number" ? s.ms : 0), 0);
  return ms > 0 ? `${ms.toFixed(0)} ms in all` : "";
}

/** The human message of an error code (from the server's list), with the specific detail. */
export function showError(box, config, code, detail) {
  const messages = config.errors || {};
  const headline = messages[code] || "Something went wrong. Please try again.";
  clear(box);
  box.append(el("strong", {}, headline));
  if (detail && detail !== headline && !detail.trim().startsWith("{")) {
    box.append(el("span", { class: "detail" }, detail));
  }
  box.dataset.code = code;
  show(box);
}

// Watch a job: its stages live, its result once it succeeds, its error if it fails.
// Returns the function that stops watching.
export function followJob(api, ui, jobId, renderResult) {
  return watchJob(
    api,
    jobId,
    (job) => {
      renderStages(ui.stages, job);
      if (job.state === "succeeded") renderResult(api, ui, job);
      if (job.state === "failed") {
        const error = job.error || {};
        showError(ui.error, api.config, error.code || "internal_error", error.message);
      }
    },
    (code, message) => showError(ui.error, api.config, code, message),
  );
}
