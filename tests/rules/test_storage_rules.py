"""deploy/storage.rules: compiled by the emulator's rules compiler (syntax and names).

No Cloud Storage rules emulator runs here (the Firebase Storage emulator fetches
its rules runtime at start-up), so the storage rules are checked by the rules
language compiler the Firestore emulator embeds: a syntax error is refused and
an unknown method or variable is reported as an issue. Their behaviour (who may
upload what) is not evaluated by these tests.
"""

from __future__ import annotations

from tests.rules.conftest import RULES, FirestoreRest
from tributary.emulators import Emulator

SOURCE = (RULES / "storage.rules").read_text()


def _compile(emulator: Emulator, source: str) -> tuple[int, list]:
    # A project of its own: loading storage rules replaces that project's rules.
    reply = FirestoreRest(emulator, "storage-rules-check").load_rules("storage.rules", source)
    return reply.status, (reply.body or {}).get("issues", []) if isinstance(
        reply.body, dict
    ) else []


def test_the_storage_rules_compile_without_issues(firestore_emulator: Emulator) -> None:
    status, issues = _compile(firestore_emulator, SOURCE)
    assert status == 200 and issues == []


def test_the_compiler_does_catch_mistakes(firestore_emulator: Emulator) -> None:
    status, _ = _compile(
        firestore_emulator, SOURCE.replace("allow create: if", "allow create: if (", 1)
    )
    assert status == 400
    status, issues = _compile(firestore_emulator, SOURCE.replace(".matches(", ".matchez(", 1))
    assert status == 200 and issues


def test_the_storage_rules_say_what_the_design_says() -> None:
    assert "match /uploads/{uid}/{app}/{fileName}" in SOURCE
    assert "request.auth.uid == uid" in SOURCE
    assert "request.resource.size <= 10 * 1024 * 1024" in SOURCE
    assert "request.resource.contentType.matches('audio/.+')" in SOURCE
    assert "allow update, delete: if false;" in SOURCE
