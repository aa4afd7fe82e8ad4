"""Load a YAML config: environment substitution, duplicate-key checks, and errors that point at lines."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from clearwatch.config.models import Config
from clearwatch.errors import ConfigError

_ENV = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
Loc = tuple[str | int, ...]


def _dotted(loc: Loc) -> str:
    return ".".join(str(p) for p in loc) or "(top level)"


class _Tree:
    """Plain Python data from a YAML node tree, remembering the line of every key."""

    def __init__(self, problems: list[str]):
        self.lines: dict[Loc, int] = {}
        self.problems = problems

    def build(self, node: yaml.Node, loc: Loc = ()) -> Any:
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    self.problems.append(f"line {key_node.start_mark.line + 1}: {_dotted(loc)}: keys must be text")
                    continue
                key = key_node.value
                here = (*loc, key)
                if key in out:
                    self.problems.append(
                        f"line {key_node.start_mark.line + 1}: {_dotted(here)}: duplicate key "
                        f"(first on line {self.lines[here]})"
                    )
                    continue
                self.lines[here] = key_node.start_mark.line + 1
                out[key] = self.build(value_node, here)
            return out
        if isinstance(node, yaml.SequenceNode):
            items = []
            for i, child in enumerate(node.value):
                self.lines[(*loc, i)] = child.start_mark.line + 1
                items.append(self.build(child, (*loc, i)))
            return items
        value = yaml.SafeLoader(" ").construct_object(node)
        if isinstance(value, str):
            value = self._substitute(value, loc)
        return value

    def _substitute(self, text: str, loc: Loc) -> str:
        def repl(m: re.Match[str]) -> str:
            if m.group(0) == "$$":
                return "$"
            name = m.group(1)
            if name not in os.environ:
                self.problems.append(
                    f"{self.where(loc)}{_dotted(loc)}: environment variable {name} is not set"
                )
                return ""
            return os.environ[name]

        return _ENV.sub(repl, text)

    def where(self, loc: Loc) -> str:
        for n in range(len(loc), 0, -1):
            if loc[:n] in self.lines:
                return f"line {self.lines[loc[:n]]}: "
        return ""


def _message(err: ErrorDetails) -> str:
    msg: str = err["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix) :]
    if err["type"] == "extra_forbidden":
        msg = "unknown key"
    elif err["type"] == "missing":
        msg = "required key is missing"
    return msg


def _clean_loc(loc: Loc) -> Loc:
    # pydantic appends validator names such as 'function-after[...]' for annotated types
    return tuple(p for p in loc if not (isinstance(p, str) and "[" in p and p.endswith("]")))


def _line_of(problem: str) -> int:
    m = re.match(r"line (\d+)", problem)
    return int(m.group(1)) if m else 0


def parse_config(text: str, source: str = "<config>", base_dir: Path | None = None) -> Config:
    """Validate config text; raise ConfigError listing every problem with its path (and line)."""
    problems: list[str] = []
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(source, [f"{where}invalid YAML: {problem}"]) from None
    tree = _Tree(problems)
    data = {} if node is None else tree.build(node)
    if not isinstance(data, dict):
        raise ConfigError(source, ["the top level must be a mapping of sections (cameras:, storage:, ...)"])
    try:
        config = Config.model_validate(data, context={"base_dir": base_dir})
    except ValidationError as exc:
        for err in exc.errors(include_input=False, include_url=False):
            loc = _clean_loc(err["loc"])
            problems.append(f"{tree.where(loc)}{_dotted(loc)}: {_message(err)}")
        raise ConfigError(source, sorted(problems, key=_line_of)) from None
    if problems:
        raise ConfigError(source, problems)
    return config


def load_config(path: str | os.PathLike[str]) -> Config:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(p), ["file not found"]) from None
    except IsADirectoryError:
        raise ConfigError(str(p), ["is a directory, not a config file"]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(str(p), [f"not UTF-8 text (byte {exc.start})"]) from None
    except OSError as exc:
        raise ConfigError(str(p), [f"cannot read: {exc.strerror}"]) from None
    return parse_config(text, source=str(p), base_dir=p.parent.absolute())


def default_config(data_dir: Path | None = None) -> Config:
    """The config used when none is given: no cameras, data under ./clearwatch-data."""
    return Config(data_dir=(data_dir or Path("clearwatch-data")).absolute())
