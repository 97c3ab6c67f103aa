"""The bridge to LlamaIndex (optional extra: ``pip install 'agent-brain-mcp[llamaindex]'``).

- ``AgentBrainRetriever``: a LlamaIndex retriever over the service (hybrid, vector or keyword
  ranking), usable in a ``RetrieverQueryEngine``;
- ``add_documents`` / ``remove_documents``: LlamaIndex ``Document``s from any reader, indexed into
  the same index under a virtual root ``llamaindex://<name>`` that the MCP tools search;
- ``AgentBrain.open()``: the configured index on a thread of its own, for synchronous code;
- ``chroma_collection()`` and ``AgentBrainEmbedding``: our Chroma collection and our model, for
  LlamaIndex's own ``ChromaVectorStore`` / ``VectorStoreIndex.from_vector_store``.

Nothing in the server imports this package: llama_index stays off the MCP start-up path.
"""

from agent_brain_mcp.llamaindex.documents import DOCUMENT_SCHEME, add_documents, remove_documents, virtual_root
from agent_brain_mcp.llamaindex.embedding import AgentBrainEmbedding
from agent_brain_mcp.llamaindex.facade import AgentBrain, chroma_collection
from agent_brain_mcp.llamaindex.retriever import AgentBrainRetriever, to_nodes

__all__ = [
    "DOCUMENT_SCHEME",
    "AgentBrain",
    "AgentBrainEmbedding",
    "AgentBrainRetriever",
    "add_documents",
    "chroma_collection",
    "remove_documents",
    "to_nodes",
    "virtual_root",
]
