// The cough app: record or pick a recording, upload it with a progress bar, watch
// the stages, and show the label, the confidence against the threshold and the
// spectrogram.
import { fileName } from "./api.js";
import { byId, setText, show } from "./dom.js";
import { followJob, showError } from "./status.js";

const LABELS = { dry: "Dry cough", wet: "Wet cough", normal: "Normal (not confident)" };
const MAX_RECORD_MS = 10000;

export function setupCough(api) {
  const ui = {
    record: byId("record"),
    recordStatus: byId("record-status"),
    file: byId("cough-file"),
    upload: byId("cough-upload"),
    progress: byId("cough-progress"),
    progressText: byId("cough-progress-text"),
    stages: byId("cough-stages"),
    error: byId("cough-error"),
    result: byId("cough-result"),
  };
  let stopWatching = () => {};

  async function submit(file) {
    stopWatching();
    show(ui.error, false);
    show(ui.result, false);
    show(ui.stages, false);
    show(ui.upload);
    ui.progress.value = 0;
    setText(ui.progressText, "Uploading…");
    let created;
    try {
      created = await api.uploadFile("cough", file, (sent, total) => {
        ui.progress.value = total ? Math.round((100 * sent) / total) : 0;
        setText(ui.progressText, `Uploading… ${ui.progress.value}%`);
      });
    } catch (err) {
      show(ui.upload, false);
      showError(ui.error, api.config, err.code, err.message);
      return;
    }
    ui.progress.value = 100;
    setText(ui.progressText, "Uploaded");
    stopWatching = follow(api, ui, created.job_id);
  }

  ui.file.addEventListener("change", () => {
    const file = ui.file.files && ui.file.files[0];
    if (file) submit(file);
    ui.file.value = "";
  });
  setupRecorder(ui, submit);
  return {
    showJob: (job) => {
      stopWatching();
      for (const part of [ui.upload, ui.error, ui.result]) show(part, false);
      stopWatching = follow(api, ui, job.job_id);
    },
  };
}

function follow(api, ui, jobId) {
  return followJob(api, ui, jobId, renderResult);
}

async function renderResult(api, ui, job) {
  const result = job.result || {};
  const label = byId("cough-label");
  setText(label, LABELS[result.label] || String(result.label));
  label.dataset.label = String(result.label);
  const confidence = Number(result.confidence) || 0;
  const threshold = Number(result.threshold) || 0;
  byId("cough-confidence-bar").style.width = `${(confidence * 100).toFixed(1)}%`;
  byId("cough-confidence-bar").classList.toggle("below", confidence < threshold);
  byId("cough-threshold-mark").style.left = `${(threshold * 100).toFixed(1)}%`;
  setText(
    byId("cough-confidence-text"),
    `Confidence ${(confidence * 100).toFixed(0)}% — the threshold for a label is ${(threshold * 100).toFixed(0)}%`,
  );
  show(ui.result);
  const picture = byId("cough-spectrogram");
  show(picture, false);
  if (result.spectrogram) {
    try {
      picture.src = await api.fileUrl(job.job_id, fileName(result.spectrogram));
      show(picture);
    } catch (err) {
      showError(ui.error, api.config, err.code, err.message);
    }
  }
}

function setupRecorder(ui, submit) {
  let recorder = null;
  let timer = null;
  if (!navigator.mediaDevices || typeof MediaRecorder === "undefined") {
    ui.record.disabled = true;
    ui.record.title = "This browser cannot record; choose a file instead.";
    return;
  }
  ui.record.addEventListener("click", async () => {
    if (recorder && recorder.state === "recording") {
      recorder.stop();
      return;
    }
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch {
      setText(ui.recordStatus, "The microphone is not available; choose a file instead.");
      show(ui.recordStatus);
      return;
    }
    const type = MediaRecorder.isTypeSupported("audio/webm;codecs=opus") ? "audio/webm;codecs=opus" : "";
    recorder = new MediaRecorder(stream, type ? { mimeType: type } : {});
    const chunks = [];
    recorder.addEventListener("dataavailable", (e) => chunks.push(e.data));
    recorder.addEventListener("stop", () => {
      clearTimeout(timer);
      stream.getTracks().forEach((track) => track.stop());
      setText(ui.record, "● Record");
      ui.record.classList.remove("recording");
      setText(ui.recordStatus, "");
      show(ui.recordStatus, false);
      const mime = (recorder.mimeType || "audio/webm").split(";")[0];
      submit(new File(chunks, "recording.webm", { type: mime }));
    });
    recorder.start();
    setText(ui.record, "■ Stop");
    ui.record.classList.add("recording");
    setText(ui.recordStatus, "Recording… cough now, then press Stop.");
    show(ui.recordStatus);
    timer = setTimeout(() => recorder.state === "recording" && recorder.stop(), MAX_RECORD_MS);
  });
}
