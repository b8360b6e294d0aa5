"""Child process of the Text2Brain benchmark: fresh process → first result, in-process stages.

``python bench/text2brain_child.py QUERY`` prints timings as JSON. Settings come from
the environment (TRIBUTARY_MODELS_DIR).
"""

from __future__ import annotations

import sys as _sys
import time

STARTED = time.perf_counter()

from pathlib import Path as _Path  # noqa: E402

_sys.path.insert(0, str(_Path(__file__).resolve().parents[1]))


def main(query: str) -> None:
    import json
    import logging

    from apps.text2brain.app import Text2BrainApp
    from bench.common import peak_rss_mib
    from schemas import BlobRef, TextInput
    from tributary.apps import StageContext
    from tributary.config import load_settings

    settings = load_settings()
    written: dict[str, int] = {}

    def write_blob(name: str, data: bytes, content_type: str) -> BlobRef:
        written[name] = len(data)
        return BlobRef(bucket="bench", name=name, generation=1)

    ctx = StageContext(
        job_id="bench",
        settings=settings,
        read_blob=lambda _ref, _limit: b"",
        log=logging.LoggerAdapter(logging.getLogger("bench"), {}),
        write_blob=write_blob,
    )
    app = Text2BrainApp(settings)
    result = app.lookup(app.infer(app.preprocess(TextInput(text=query), ctx), ctx), ctx)
    heavy = [
        m
        for m in ("torch", "transformers", "sentence_transformers", "tensorflow")
        if m in _sys.modules
    ]
    print(
        json.dumps(
            {
                "first_result_s": time.perf_counter() - STARTED,
                "articles": len(result["articles"]),
                "heavy_imports": heavy,
                "peak_rss_mib": peak_rss_mib(),
            }
        )
    )


if __name__ == "__main__":
    main(_sys.argv[1])
