// The parts of the Firebase JS SDK the page uses, bundled into vendor/firebase.js
// (`npm run build`; scripts/bootstrap.sh does it). Loaded only in Firestore mode.
export { initializeApp } from "firebase/app";
export { getAuth, signInAnonymously } from "firebase/auth";
export { connectFirestoreEmulator, doc, getFirestore, onSnapshot } from "firebase/firestore";
