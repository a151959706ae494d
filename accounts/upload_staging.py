"""Files uploaded for a dry run, kept so the merchant can apply the previewed import without uploading again.

A staged file lives under VAR_DIR/<folder>/<merchant id>/<random token>; the browser session that uploaded it
holds the token, so only that session can apply it, and only into the same merchant. Files older than a day
are swept on the next upload, and a session keeps only its latest few previews."""

from __future__ import annotations

import re
import secrets
import time
from pathlib import Path

from django.conf import settings

_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{32,64}$")


class UploadStaging:
    def __init__(
        self, *, session_key: str, folder: str, max_age_s: int = 24 * 3600, max_per_session: int = 5
    ):
        self.session_key = session_key
        self.folder = folder
        self.max_age_s = max_age_s
        self.max_per_session = max_per_session

    def _dir(self, merchant_id: int) -> Path:
        return Path(settings.VAR_DIR) / self.folder / str(merchant_id)

    def stage(self, request, import_id: int, data: bytes, **meta) -> None:
        """Keeps ``data`` for the import ``import_id`` of the request's merchant, with ``meta`` (JSON values)."""
        folder = self._dir(request.merchant.id)
        folder.mkdir(parents=True, exist_ok=True)
        cutoff = time.time() - self.max_age_s
        for stale in folder.iterdir():
            if stale.is_file() and stale.stat().st_mtime < cutoff:
                stale.unlink(missing_ok=True)
        token = secrets.token_urlsafe(32)
        (folder / token).write_bytes(data)
        staged = dict(request.session.get(self.session_key) or {})
        staged[str(import_id)] = {**meta, "token": token}
        for old_id in list(staged)[: -self.max_per_session]:
            (folder / staged.pop(old_id)["token"]).unlink(missing_ok=True)
        request.session[self.session_key] = staged

    def entry(self, request, import_id: int) -> dict:
        """The ``meta`` stored with the staged file ({} if none)."""
        return dict((request.session.get(self.session_key) or {}).get(str(import_id)) or {})

    def path(self, request, *, import_id: int, merchant_id: int) -> Path | None:
        """The staged file of this session for the import, if it is still there."""
        token = self.entry(request, import_id).get("token", "")
        if not _TOKEN_RE.match(token):
            return None
        # The folder is the import's own merchant's, so a token can never reach another tenant's upload.
        path = self._dir(merchant_id) / token
        return path if path.is_file() else None

    def unstage(self, request, import_id: int) -> None:
        staged = dict(request.session.get(self.session_key) or {})
        entry = staged.pop(str(import_id), None)
        if entry and _TOKEN_RE.match(entry.get("token", "")):
            (self._dir(request.merchant.id) / entry["token"]).unlink(missing_ok=True)
        request.session[self.session_key] = staged
