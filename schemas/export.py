"""Export the JSON Schema files: ``python -m schemas.export`` (a test keeps them current)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pydantic import BaseModel

from schemas.models import SCHEMA_VERSION, JobDocument, StageMessage

OUT_DIR = Path(__file__).parent / "json"
MODELS: dict[str, type[BaseModel]] = {"job_document": JobDocument, "stage_message": StageMessage}


def rendered() -> dict[str, str]:
    """File name → the JSON Schema text it must hold."""
    out = {}
    for name, model in MODELS.items():
        schema = model.model_json_schema(mode="serialization")
        schema["$id"] = f"https://tributary.dev/schemas/{name}.v{SCHEMA_VERSION}.json"
        out[f"{name}.v{SCHEMA_VERSION}.json"] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    return out


def main() -> int:
    OUT_DIR.mkdir(exist_ok=True)
    for file_name, text in rendered().items():
        (OUT_DIR / file_name).write_text(text)
        print(f"wrote {OUT_DIR / file_name}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
