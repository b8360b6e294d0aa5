// The Text2Brain app: ask in words, watch the job, see the predicted map as slices,
// download it, and read the five most related articles.
import { fileName } from "./api.js";
import { byId, clear, el, setText, show } from "./dom.js";
import { followJob, showError } from "./status.js";

const EXAMPLES = [
  "finger tapping motor cortex",
  "reading words aloud",
  "fear of faces amygdala",
  "working memory load",
  "pain in the hand",
];

export function setupText2Brain(api) {
  const ui = {
    form: byId("query-form"),
    text: byId("query-text"),
    examples: byId("examples"),
    status: byId("model-status"),
    stages: byId("t2b-stages"),
    error: byId("t2b-error"),
    result: byId("t2b-result"),
  };
  let stopWatching = () => {};

  for (const example of EXAMPLES) {
    ui.examples.append(el("button", {
      type: "button",
      class: "chip",
      onclick: () => {
        ui.text.value = example;
        ui.form.requestSubmit();
      },
    }, example));
  }

  ui.form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = ui.text.value.trim();
    if (!text) return;
    stopWatching();
    show(ui.error, false);
    show(ui.result, false);
    let created;
    try {
      created = await api.submitQuery("text2brain", text);
    } catch (err) {
      showError(ui.error, api.config, err.code, err.message);
      return;
    }
    stopWatching = follow(api, ui, created.job_id);
  });

  return {
    warm: () => warm(api, ui),
    showJob: (job) => {
      stopWatching();
      for (const part of [ui.error, ui.result]) show(part, false);
      if (job.input && job.input.kind === "text") ui.text.value = job.input.text;
      stopWatching = follow(api, ui, job.job_id);
    },
  };
}

async function warm(api, ui) {
  setText(ui.status, "Loading the model…");
  try {
    const answer = await api.warmup("text2brain");
    setText(ui.status, `Model ready (version ${answer.warmed.text2brain}).`);
    ui.status.dataset.ready = "true";
  } catch (err) {
    setText(ui.status, (api.config.errors || {})[err.code] || "The model could not be loaded.");
  }
}

function follow(api, ui, jobId) {
  return followJob(api, ui, jobId, renderResult);
}

async function renderResult(api, ui, job) {
  const result = job.result || {};
  const asked = byId("t2b-asked");
  if (result.cache && Number.isInteger(result.cache.asked)) {
    const n = result.cache.asked;
    setText(asked, `asked ${n} ${n === 1 ? "time" : "times"}`);
    show(asked);
  } else {
    show(asked, false);
  }
  const list = byId("t2b-articles");
  clear(list);
  for (const article of result.articles || []) {
    const r = Number(article.correlation) || 0;
    const authors = Array.isArray(article.authors) ? article.authors.join(", ") : String(article.authors || "");
    const bar = el("span", { class: "correlation-bar" });
    bar.style.width = `${Math.max(0, r) * 100}%`;
    list.append(el("li", { class: "article" },
      el("span", { class: "article-title" }, String(article.title || "")),
      el("span", { class: "article-meta" }, `${authors} · PMID ${article.pmid}`),
      el("span", { class: "correlation" }, bar,
        el("span", { class: "correlation-value" }, `r = ${r.toFixed(2)}`))));
  }
  show(ui.result);
  const preview = byId("t2b-preview");
  const download = byId("t2b-download");
  try {
    if (result.preview) {
      preview.src = await api.fileUrl(job.job_id, fileName(result.preview));
      show(preview);
    }
    if (result.map) {
      download.href = await api.fileUrl(job.job_id, fileName(result.map));
      download.setAttribute("download", fileName(result.map));
      show(download);
    }
  } catch (err) {
    showError(ui.error, api.config, err.code, err.message);
  }
}
