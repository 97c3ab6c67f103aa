"""The MCP boundary's pure logic: JSON-RPC replies to unreadable lines, and argument sentences
derived from any tool's input schema (so arguments added later get them too)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import mcp_types as types
import pytest
from pydantic import BaseModel, Field, ValidationError

from agent_brain_mcp.mcp_guard import check_arguments, describe_validation_error, error_reply


def _stdin_error(line: str) -> Exception:
    try:
        types.jsonrpc_message_adapter.validate_json(line, by_name=False)
    except ValidationError as exc:
        return exc
    raise AssertionError("the line was valid")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"query":"\\udcff"}}', (7, -32602)),
        ('{"jsonrpc":"2.0","id":"a","method":', (None, -32700)),
        ("[1, 2]", (None, -32600)),
        ('{"jsonrpc":"2.0","id":9}', (9, -32600)),
    ],
)
def test_an_unreadable_line_gets_the_json_rpc_error_its_fault_calls_for(line: str, expected: tuple[Any, int]) -> None:
    reply = error_reply(_stdin_error(line))
    assert reply is not None
    assert (reply["id"], reply["error"]["code"]) == expected


def test_an_unreadable_notification_or_client_reply_gets_no_answer() -> None:
    assert error_reply(_stdin_error('{"jsonrpc":"2.0","method":"x","params":{"a":"\\udcff"}}')) is None
    assert error_reply(_stdin_error('{"jsonrpc":"2.0","id":1,"result":"\\udcff"}')) is None


class _NewToolArguments(BaseModel):
    """Arguments of a tool added later (say, a grouping option): no per-argument code needed."""

    group_by: Literal["file", "chunk"] = "chunk"
    per_file: Annotated[int | None, Field(ge=1, le=20)] = None
    names: list[str] = []


SCHEMA = _NewToolArguments.model_json_schema()


@pytest.mark.parametrize(
    ("args", "sentence"),
    [
        ({"group_by": "folder"}, 'group_by must be one of "file", "chunk", got "folder".'),
        ({"per_file": 0}, "per_file must be between 1 and 20, got 0."),
        ({"per_file": 2.5}, "per_file must be an integer between 1 and 20, got 2.5."),
        ({"names": "a"}, 'names must be a list of strings, got "a".'),
        (
            {"per_file": 0, "group_by": "x"},
            'group_by must be one of "file", "chunk", got "x"; per_file must be between 1 and 20, got 0.',
        ),
    ],
)
def test_a_rejected_argument_of_any_tool_reads_as_one_sentence(args: dict[str, Any], sentence: str) -> None:
    with pytest.raises(ValidationError) as caught:
        _NewToolArguments.model_validate(args)
    assert describe_validation_error(caught.value, args, SCHEMA) == sentence


def test_booleans_are_refused_for_numbers_but_not_for_flags() -> None:
    assert check_arguments({"per_file": True}, SCHEMA) == "per_file must be an integer between 1 and 20, got true"
    flags = {"properties": {"force": {"type": "boolean"}}}
    assert check_arguments({"force": True}, flags) is None
