"""The MCP boundary: what the SDK lets through that an agent should never see, or never miss.

- Tool arguments: a value the SDK's pydantic validation rejects comes back as one plain sentence per
  argument, derived from the tool's input schema (so every argument of every tool gets it);
  ``true`` is refused where the schema wants a number (pydantic would take it as 1); strings must
  be valid Unicode.
- Tool results and errors: configured secrets are masked (``redaction``).
- stdio: a line that is not JSON, or holds a lone surrogate, is answered with a JSON-RPC error and
  logged; the SDK's reader drops such lines silently and the client would wait forever.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.stdio import stdio_server
from mcp.shared.message import SessionMessage
from mcp.types import CallToolResult, TextContent
from pydantic import ValidationError

from agent_brain_mcp.indexing.fsread import is_unicode
from agent_brain_mcp.redaction import redact, redact_tree

log = logging.getLogger(__name__)

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
INVALID_PARAMS = -32602
_SHOWN_VALUE_CHARS = 60


class GuardedServer(MCPServer):
    """``MCPServer`` whose tool calls get plain argument errors and masked secrets."""

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Context | None = None) -> Any:
        tool = self._tool_manager.get_tool(name)
        schema: dict[str, Any] = tool.parameters if tool is not None else {}
        problem = check_arguments(arguments, schema)
        if problem is not None:
            raise ToolError(problem)
        try:
            result = await super().call_tool(name, arguments, context)
        except ToolError as exc:
            cause = exc.__cause__
            if isinstance(cause, ValidationError):
                raise ToolError(describe_validation_error(cause, arguments, schema)) from cause
            raise type(exc)(redact(str(exc))) from cause
        return _redact_result(result)


def _redact_result(result: Any) -> Any:
    if not isinstance(result, CallToolResult):
        return result
    content = [
        TextContent(type="text", text=redact(c.text)) if isinstance(c, TextContent) else c for c in result.content
    ]
    return result.model_copy(update={"content": content, "structured_content": redact_tree(result.structured_content)})


# -- arguments --------------------------------------------------------------------------------------
def check_arguments(arguments: dict[str, Any], schema: dict[str, Any]) -> str | None:
    """What pydantic would let through wrongly: booleans for numbers, strings that are not Unicode."""
    props: dict[str, Any] = schema.get("properties", {})
    for name, value in arguments.items():
        prop = props.get(name)
        if prop is None:
            continue
        if isinstance(value, bool) and _accepts_number(prop) and "boolean" not in _types(prop):
            return f"{name} must be {_expected(prop, value)}, got {json.dumps(value)}"
        if not _all_unicode(value):
            return f"{name} is not valid Unicode text (it holds a lone surrogate such as \\udcff)"
    return None


def describe_validation_error(exc: ValidationError, arguments: dict[str, Any], schema: dict[str, Any]) -> str:
    """One sentence per rejected argument, e.g. "top_k must be between 1 and 200, got 0"."""
    props: dict[str, Any] = schema.get("properties", {})
    sentences: dict[str, str] = {}
    for err in exc.errors():
        name = str(err["loc"][0]) if err["loc"] else "arguments"
        if name in sentences:
            continue
        if err["type"] == "missing":
            sentences[name] = f"{name} is required"
        elif name in props and name in arguments:
            sentences[name] = f"{name} must be {_expected(props[name], arguments[name])}, got {_shown(arguments[name])}"
        else:
            sentences[name] = f"{name}: {err['msg']}"
    return "; ".join(sentences.values()) + "."


def _types(prop: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    for option in [prop, *prop.get("anyOf", []), *prop.get("oneOf", [])]:
        kind = option.get("type")
        if isinstance(kind, str):
            found.add(kind)
        elif isinstance(kind, list):
            found.update(k for k in kind if isinstance(k, str))
    return found


def _accepts_number(prop: dict[str, Any]) -> bool:
    return bool(_types(prop) & {"integer", "number"})


def _main_option(prop: dict[str, Any]) -> dict[str, Any]:
    """The schema without its ``null`` alternative (``int | None`` -> the int part)."""
    options = [o for o in prop.get("anyOf", []) if o.get("type") != "null"]
    return options[0] if len(options) == 1 else prop


def _expected(prop: dict[str, Any], value: Any) -> str:
    """What the schema wants, phrased for a person; just the range when the kind is already right."""
    option = _main_option(prop)
    kind = option.get("type")
    if "enum" in option:
        return "one of " + ", ".join(json.dumps(v) for v in option["enum"])
    if kind in ("integer", "number"):
        noun = "an integer" if kind == "integer" else "a number"
        right_kind = isinstance(value, int | float) and not isinstance(value, bool)
        if kind == "integer" and isinstance(value, float) and not value.is_integer():
            right_kind = False
        low, high = option.get("minimum"), option.get("maximum")
        if low is not None and high is not None:
            bounds = f"between {_num(low)} and {_num(high)}"
        elif low is not None:
            bounds = f"at least {_num(low)}"
        elif high is not None:
            bounds = f"at most {_num(high)}"
        else:
            return noun
        return bounds if right_kind else f"{noun} {bounds}"
    if kind == "string":
        limit = option.get("maxLength")
        return f"a string of at most {limit} characters" if limit is not None else "a string"
    if kind == "boolean":
        return "true or false"
    if kind == "array":
        items = option.get("items", {})
        item_kind = items.get("type")
        return f"a list of {item_kind}s" if isinstance(item_kind, str) else "a list"
    if kind == "object":
        return "an object"
    return "a valid value"


def _num(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _shown(value: Any) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    if len(text) > _SHOWN_VALUE_CHARS:
        return f"{text[:_SHOWN_VALUE_CHARS]}... ({len(text)} characters)"
    return text


def _all_unicode(value: Any) -> bool:
    if isinstance(value, str):
        return is_unicode(value)
    if isinstance(value, list):
        return all(_all_unicode(v) for v in value)
    if isinstance(value, dict):
        return all(_all_unicode(k) and _all_unicode(v) for k, v in value.items())
    return True


# -- stdio ------------------------------------------------------------------------------------------
def error_reply(exc: Exception) -> dict[str, Any] | None:
    """The JSON-RPC error for a line the SDK could not read (None for a notification: no reply)."""
    line = _raw_input(exc)
    try:
        message = json.loads(line) if isinstance(line, str) else line
    except ValueError:
        return _error(None, PARSE_ERROR, "Parse error: the line is not valid JSON")
    if not isinstance(message, dict):
        return _error(None, INVALID_REQUEST, "Invalid request: expected a JSON-RPC object")
    if "result" in message or "error" in message:
        return None  # a reply of the client's own: never answered
    request_id = message.get("id")
    if not isinstance(request_id, str | int) or isinstance(request_id, bool):
        return None if "method" in message else _error(None, INVALID_REQUEST, "Invalid request: no usable id")
    if isinstance(line, str) and not _all_unicode(message):
        return _error(
            request_id,
            INVALID_PARAMS,
            "Invalid params: a string holds a lone surrogate (such as \\udcff), which is not valid Unicode",
        )
    return _error(request_id, INVALID_REQUEST, "Invalid request: not a valid JSON-RPC message")


def _raw_input(exc: Exception) -> Any:
    """The line (or the parsed object) the SDK's validation failed on."""
    if isinstance(exc, ValidationError):
        errors = exc.errors()
        if errors:
            return errors[0].get("input")
    return None


def _describe(exc: Exception) -> str:
    """ "Invalid JSON: lone leading surrogate in hex escape at line 1 column 100", not pydantic's banner."""
    if isinstance(exc, ValidationError) and exc.errors():
        return str(exc.errors()[0]["msg"])
    return f"{type(exc).__name__}: {exc}"


def _error(request_id: str | int | None, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}


@asynccontextmanager
async def guarded_stdio() -> AsyncIterator[tuple[Any, Any]]:
    """The SDK's stdio transport, with unreadable lines answered and logged instead of dropped."""
    from mcp.types import jsonrpc_message_adapter

    async with stdio_server() as (read_stream, write_stream):
        send, receive = anyio.create_memory_object_stream[SessionMessage | Exception](0)

        async def pump() -> None:
            async with send:
                async for item in read_stream:
                    if not isinstance(item, Exception):
                        await send.send(item)
                        continue
                    reply = error_reply(item)
                    log.warning(
                        "unreadable message on stdin (%s)%s",
                        redact(_describe(item)),
                        f": answered with JSON-RPC error {reply['error']['code']}" if reply else "",
                    )
                    if reply is not None:
                        message = jsonrpc_message_adapter.validate_python(reply)
                        await write_stream.send(SessionMessage(message))

        async with anyio.create_task_group() as tg:
            tg.start_soon(pump)
            yield receive, write_stream
            tg.cancel_scope.cancel()


async def serve_stdio(server: MCPServer) -> None:
    """``server.run()`` for stdio, through ``guarded_stdio``."""
    lowlevel = server._lowlevel_server  # the SDK's own run_stdio_async does exactly this
    async with guarded_stdio() as (read_stream, write_stream):
        await lowlevel.run(read_stream, write_stream, lowlevel.create_initialization_options())
