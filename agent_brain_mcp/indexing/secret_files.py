"""Well-known secret files and folders: skipped by default, so that indexing a home folder or a
checkout with a `.env` does not make private keys and credentials searchable.

A file matching an ``include`` glob the user gave (in the call or the config) is indexed anyway,
and ``indexing.index_secrets: true`` turns the rule off.
"""

from __future__ import annotations

from collections.abc import Sequence

from pathspec import GitIgnoreSpec

from agent_brain_mcp.indexing.globs import GLOB_BACKEND, compile_globs

SECRET_REASON = "secret"  # noqa: S105 - the reason shown for a skipped file, not a password

SECRET_FOLDERS: tuple[str, ...] = (
    ".ssh/", ".gnupg/", ".aws/", ".azure/", ".kube/", ".docker/", ".password-store/", ".config/gcloud/",
)  # fmt: skip
SECRET_FILES: tuple[str, ...] = (
    # private keys and key stores
    "id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", "id_ecdsa_sk", "id_ed25519_sk",
    "*.pem", "*.key", "*.p12", "*.pfx", "*.jks", "*.keystore", "*.kdbx", "*.gpg",
    # credentials of tools and package registries
    ".netrc", "_netrc", ".git-credentials", ".npmrc", ".pypirc", ".pgpass", ".my.cnf", ".htpasswd",
    "credentials", "credentials.json", ".credentials.json", "kubeconfig", "secrets.toml",
    "*.tfstate", "*.tfstate.backup",
    # environment files
    ".env", ".env.*", ".envrc",
)  # fmt: skip


class SecretFilter:
    """Says whether a path (relative to the root, forward slashes) is a secret to skip."""

    def __init__(self, allow: Sequence[str] = (), *, enabled: bool = True) -> None:
        self._enabled = enabled
        self._rules = GitIgnoreSpec.from_lines([*SECRET_FOLDERS, *SECRET_FILES], backend=GLOB_BACKEND)
        self._allow = compile_globs(allow, "include")

    def skips_folder(self, rel_dir: str) -> bool:
        """A secret folder is not walked at all, unless include globs might pick files in it."""
        return self._enabled and self._allow is None and self._rules.match_file(rel_dir.rstrip("/") + "/")

    def skips_file(self, rel: str) -> bool:
        if not self._enabled or not self._rules.match_file(rel):
            return False
        return self._allow is None or not self._allow.match_file(rel)
