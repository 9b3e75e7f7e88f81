"""Read a YAML file into plain data while remembering where every key came from.

Errors about a mapping must say ``file:line:col`` and the key path; PyYAML's plain loader forgets positions, so we
compose the node tree and build the data ourselves, recording the position of each path.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import SpecError

KeyPath = tuple[str | int, ...]


@dataclass
class SourceDocument:
    """Plain data of a YAML file plus the (line, column) of every key path, both 1-based."""

    file: str
    data: Any
    positions: dict[KeyPath, tuple[int, int]] = field(default_factory=dict)
    text: str = ""

    def position(self, path: KeyPath) -> tuple[int, int] | None:
        """Position of ``path`` or of its nearest ancestor that has one."""
        for end in range(len(path), -1, -1):
            found = self.positions.get(tuple(path[:end]))
            if found:
                return found
        return None


def format_key_path(path: KeyPath) -> str:
    """``("operations", 0, "request", "body")`` -> ``operations[0].request.body``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


# libyaml's parser when PyYAML was built with it (the wheels are): the same nodes and marks, parsed in C, which is
# most of the time of loading every mapping at start-up.
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Builder:
    def __init__(self, loader: yaml.SafeLoader) -> None:
        self.loader = loader
        self.positions: dict[KeyPath, tuple[int, int]] = {}

    def build(self, node: yaml.Node, path: KeyPath) -> Any:
        self.positions.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
        if isinstance(node, yaml.MappingNode):
            self.loader.flatten_mapping(node)
            result: dict[str, Any] = {}
            for key_node, value_node in node.value:
                key = self.loader.construct_object(key_node, deep=True)
                key_text = str(key)
                if key_text in result:
                    mark = key_node.start_mark
                    raise yaml.MarkedYAMLError(problem=f"duplicate key {key_text!r}", problem_mark=mark)
                self.positions[(*path, key_text)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                result[key_text] = self.build(value_node, (*path, key_text))
            return result
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, index)) for index, item in enumerate(node.value)]
        return self.loader.construct_object(node, deep=True)


def load_yaml(path: Path | str, text: str | None = None) -> SourceDocument:
    """Load one YAML document; a YAML syntax error is raised as :class:`SpecError` with its line and column."""
    file = str(path)
    if text is None:
        text = Path(path).read_text(encoding="utf-8")
    loader = _LOADER(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return SourceDocument(file, None)
        builder = _Builder(loader)
        data = builder.build(node, ())
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        raise SpecError(
            f"invalid YAML: {error.problem or error.context}",
            file=file,
            line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None,
        ) from None
    finally:
        loader.dispose()
    return SourceDocument(file, data, builder.positions, text)
