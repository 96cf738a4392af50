"""JsonLogic conditions, evaluated on the server against the answers given so far."""

from __future__ import annotations

from typing import Any

from json_logic import jsonLogic


def holds(condition: Any, answers: dict[str, Any]) -> bool:
    """True if there is no condition or the JsonLogic condition is truthy for ``answers``."""
    if condition is None:
        return True
    if isinstance(condition, bool):
        return condition
    return bool(jsonLogic(condition, answers))


def variables(condition: Any) -> set[str]:
    """Names of the fields a JsonLogic condition reads (``{"var": "x"}``)."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for op, arg in node.items():
                if op == "var":
                    name = arg[0] if isinstance(arg, list) and arg else arg
                    if isinstance(name, str) and name:
                        found.add(name.split(".")[0])
                else:
                    walk(arg)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(condition)
    return found
