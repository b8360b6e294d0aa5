// The web client: ask the server how to talk to it, then wire the three tabs.
import { Api } from "./api.js";
import { setupCough } from "./cough.js";
import { byId, setText, show } from "./dom.js";
import { setupHistory } from "./history.js";
import { setupText2Brain } from "./text2brain.js";
import { firestore } from "./watch.js";

async function signIn(config) {
  // Production: an anonymous Firebase user; its ID token authenticates API calls and
  // Firestore reads alike.
  const { sdk, app } = await firestore(config, null);
  const auth = sdk.getAuth(app);
  if (!auth.currentUser) await sdk.signInAnonymously(auth);
  return { uid: auth.currentUser.uid, idToken: () => auth.currentUser.getIdToken() };
}

function selectTab(name) {
  for (const tab of document.querySelectorAll("[data-tab]")) {
    tab.setAttribute("aria-selected", String(tab.dataset.tab === name));
  }
  for (const panel of document.querySelectorAll("[data-panel]")) {
    show(panel, panel.dataset.panel === name);
  }
}

async function start() {
  const notice = byId("notice");
  let config;
  try {
    const response = await fetch("/v1/config");
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    config = await response.json();
  } catch {
    setText(notice, "The service cannot be reached. Reload the page to try again.");
    show(notice);
    return;
  }
  let api;
  if (config.auth.mode === "firebase") {
    const user = await signIn(config);
    api = new Api({ ...config, auth: { ...config.auth, user: user.uid } }, user.idToken);
  } else {
    api = new Api(config);
  }
  const cough = setupCough(api);
  const text2brain = setupText2Brain(api);
  const history = setupHistory(api, (job) => {
    const app = job.app === "cough" ? cough : text2brain;
    selectTab(job.app === "cough" ? "cough" : "text2brain");
    app.showJob(job);
  });
  for (const tab of document.querySelectorAll("[data-tab]")) {
    tab.addEventListener("click", () => {
      selectTab(tab.dataset.tab);
      if (tab.dataset.tab === "history") history.refresh();
    });
  }
  document.body.dataset.realtime = config.realtime;
  document.body.dataset.ready = "true";
  // Load the models while the person reads the page.
  text2brain.warm();
  api.warmup("cough").catch(() => {});
}

start();
