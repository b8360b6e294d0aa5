// Watching a job change live: Server-Sent Events from the local API, or the
// Firebase JS SDK's onSnapshot on Firestore (production, or the emulator), as the
// server's /v1/config says.

const TERMINAL = new Set(["succeeded", "failed"]);

let firestorePromise = null;

/** The Firestore client of this page (loaded on first use). */
export function firestore(config, user) {
  if (!firestorePromise) firestorePromise = openFirestore(config, user);
  return firestorePromise;
}

async function openFirestore(config, user) {
  const sdk = await import("/ui/vendor/firebase.js");
  const options = { projectId: config.firebase.projectId };
  if (config.firebase.apiKey) options.apiKey = config.firebase.apiKey;
  if (config.firebase.authDomain) options.authDomain = config.firebase.authDomain;
  const app = sdk.initializeApp(options, "tributary");
  const db = sdk.getFirestore(app);
  if (config.firebase.emulatorHost) {
    const [host, port] = config.firebase.emulatorHost.split(":");
    // No Auth emulator: the Firestore emulator accepts an unsigned token naming the
    // user, and the security rules of deploy/ then apply to that user.
    sdk.connectFirestoreEmulator(db, host, Number(port), {
      mockUserToken: { sub: user, user_id: user },
    });
  }
  return { sdk, app, db };
}

/** Firestore values as the API would send them (timestamps as ISO strings). */
function plain(value) {
  if (value && typeof value.toDate === "function") return value.toDate().toISOString();
  if (Array.isArray(value)) return value.map(plain);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  }
  return value;
}

/**
 * Call `onJob(document)` on every change of job `jobId` until it ends, and
 * `onProblem(code, message)` if watching fails. Answers a function that stops watching.
 */
export function watchJob(api, jobId, onJob, onProblem) {
  const config = api.config;
  if (config.realtime === "firestore") {
    let stop = () => {};
    let stopped = false;
    firestore(config, api.user)
      .then(({ sdk, db }) => {
        if (stopped) return;
        stop = sdk.onSnapshot(
          sdk.doc(db, "jobs", jobId),
          (snapshot) => {
            if (!snapshot.exists()) return; // an upload's job appears a moment later
            const job = plain(snapshot.data());
            onJob(job);
            if (TERMINAL.has(job.state)) stop();
          },
          (err) => onProblem(err.code === "permission-denied" ? "forbidden" : "unavailable", String(err)),
        );
      })
      .catch((err) => onProblem("unavailable", String(err)));
    return () => {
      stopped = true;
      stop();
    };
  }
  const source = new EventSource(api.eventsUrl(jobId));
  source.addEventListener("job", (e) => {
    const job = JSON.parse(e.data);
    onJob(job);
    if (TERMINAL.has(job.state)) source.close();
  });
  source.addEventListener("end", () => source.close());
  source.addEventListener("error", (e) => {
    if (e instanceof MessageEvent && e.data) {
      // The server's own "error" event: the job is not (or no longer) ours.
      const problem = JSON.parse(e.data);
      source.close();
      onProblem(problem.code, problem.message);
    }
    // Otherwise a dropped connection: EventSource reconnects by itself.
  });
  return () => source.close();
}
