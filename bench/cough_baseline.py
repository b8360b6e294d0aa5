"""What the original cough service did, per request, as the baseline to beat.

Per request: import TensorFlow, load the Keras model from disk, decode the file
with librosa, extract the classic 193 features (40 MFCC, 12 chroma, 128 mel,
7 spectral contrast, 6 tonnetz on the harmonic part), predict. The model has the
original's shape (193 inputs, two dense layers); its weights are seeded, not
trained: only what it costs matters here, not what it says.

``python bench/cough_baseline.py cold FILE`` classifies one file in a fresh
process and prints timings as JSON (used for the cold-start comparison).
"""

from __future__ import annotations

import sys as _sys
from pathlib import Path as _Path

_sys.path.insert(0, str(_Path(__file__).resolve().parents[1]))

import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MODEL_PATH = ROOT / ".tributary" / "bench" / "baseline_cough.keras"


def build_model(path: Path = MODEL_PATH) -> Path:
    """Save a Keras model of the original's shape (once)."""
    if path.is_file():
        return path
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input(shape=(193,)),
            keras.layers.Dense(256, activation="relu"),
            keras.layers.Dropout(0.3),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
    return path


def features_193(path: Path) -> np.ndarray:
    import librosa

    y, sr = librosa.load(path, sr=None, mono=True)
    stft = np.abs(librosa.stft(y))
    mfcc = np.mean(librosa.feature.mfcc(y=y, sr=sr, n_mfcc=40).T, axis=0)
    chroma = np.mean(librosa.feature.chroma_stft(S=stft, sr=sr).T, axis=0)
    mel = np.mean(librosa.feature.melspectrogram(y=y, sr=sr).T, axis=0)
    contrast = np.mean(librosa.feature.spectral_contrast(S=stft, sr=sr).T, axis=0)
    tonnetz = np.mean(librosa.feature.tonnetz(y=librosa.effects.harmonic(y), sr=sr).T, axis=0)
    return np.concatenate([mfcc, chroma, mel, contrast, tonnetz]).astype(np.float32)


def classify(path: Path, model_path: Path = MODEL_PATH) -> dict[str, object]:
    """One request, as the original handled it: load the model, decode, extract, predict."""
    import keras

    model = keras.models.load_model(model_path)
    vector = features_193(path)
    probabilities = model.predict(vector.reshape(1, -1), verbose=0)[0]
    confidence = float(probabilities.max())
    label = ("Dry Cough", "Wet Cough")[int(probabilities.argmax())]
    return {"type": label if confidence >= 0.8 else "Normal Cough", "percentage": confidence * 100}


def _cold(file: str) -> None:
    started = time.perf_counter()
    import tensorflow  # noqa: F401 - the original imported it at start-up

    imported = time.perf_counter()
    result = classify(Path(file))
    done = time.perf_counter()
    from bench.common import peak_rss_mib

    print(
        json.dumps(
            {
                "import_s": imported - started,
                "first_result_s": done - started,
                "result": result,
                "peak_rss_mib": peak_rss_mib(),
            }
        )
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["cold"]:
        _cold(sys.argv[2])
    elif sys.argv[1:2] == ["build"]:
        print(build_model())
    else:
        sys.exit(__doc__)
