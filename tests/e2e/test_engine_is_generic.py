"""No Python module under engine/ names a vendor: vendor knowledge lives in mappings/ and fixtures/ only."""

from __future__ import annotations

import re

from tests.helpers.paths import ENGINE
from unimeter.spec import available_integrations, load_integration

ENGINE_DIR = ENGINE


def _vendor_words() -> set[str]:
    words = set()
    for name in available_integrations():
        spec = load_integration(name)
        # A parenthesised part of a label describes the integration ("OpenAI API (organization usage and costs)"):
        # its words are not the vendor's name.
        label = re.sub(r"\([^)]*\)", " ", spec.label)
        words.update(part for part in re.split(r"[^A-Za-z0-9]+", f"{spec.name} {label}") if len(part) > 2)
    return words - {"Cloud", "cloud", "API", "api"}  # generic words inside labels such as "Confluent Cloud"


def test_no_engine_module_names_a_vendor() -> None:
    # "cursor" is also the generic pagination term, so only the capitalised vendor spelling counts for it.
    generic = {"cursor"}
    offenders = []
    for path in sorted(ENGINE_DIR.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        for word in _vendor_words():
            flags = 0 if word.lower() in generic else re.IGNORECASE
            pattern = rf"\b{re.escape(word)}\b" if word.lower() not in generic else r"\bCursor\b(?!Paginator)"
            for match in re.finditer(pattern, text, flags):
                line = text.count("\n", 0, match.start()) + 1
                offenders.append(f"{path.name}:{line}: {match.group(0)}")
    assert offenders == []
