"""Every failure the server expects, as named exceptions whose messages say what to do next.

Tool handlers turn these into MCP ``isError`` results; anything else is a bug and is logged
with its traceback (to stderr) before the agent gets a short, honest message.
"""

from __future__ import annotations


class AgentBrainError(Exception):
    """Base class: the message is shown to the agent as it is, with configured secrets masked."""

    def __str__(self) -> str:
        from agent_brain_mcp.redaction import redact

        return redact(super().__str__())


class ConfigError(AgentBrainError):
    """The YAML config is invalid; the message names the key and what is allowed."""


class InvalidInputError(AgentBrainError):
    """A tool argument is unusable (empty query, missing path, bad glob)."""


class NotIndexedError(AgentBrainError):
    """A search ran before anything was indexed."""


class IndexMismatchError(AgentBrainError):
    """The index was written by another embedding model or dimension than the config names."""


class EmbeddingError(AgentBrainError):
    """The embedding provider failed (model files missing, server unreachable, bad reply)."""


class BackendUnavailableError(AgentBrainError):
    """The store cannot be reached or opened (database down, folder not writable)."""


class UnknownBackendError(AgentBrainError):
    """The config names a backend that is not registered."""


class UnknownProviderError(AgentBrainError):
    """The config names an embedding provider that does not exist."""


class IndexBusyError(AgentBrainError):
    """Another indexing run holds the index."""


class StorageError(AgentBrainError):
    """The index folder ran out of space or quota, or became read-only, during a write."""
