"""File uploads to the API: parsers that hand a raw body over as bytes (the import services decode and parse
it themselves), the size check every import makes before Django reads a body into memory, and ``upload_read``,
which every import endpoint uses to get the file's bytes from a raw body or a multipart form."""

from collections.abc import Callable
from dataclasses import dataclass, field

from rest_framework.parsers import BaseParser

from config.api_errors import PayloadTooLarge

# Room for the multipart boundaries and the other form fields around the file itself.
MULTIPART_OVERHEAD = 64 * 1024


class RawUploadParser(BaseParser):
    """Hands the body over as bytes."""

    def parse(self, stream, media_type=None, parser_context=None):
        return stream.read()


class CSVUploadParser(RawUploadParser):
    media_type = "text/csv"


class JSONUploadParser(RawUploadParser):
    media_type = "application/json"


class JSONLinesUploadParser(RawUploadParser):
    media_type = "application/x-ndjson"


class JSONLUploadParser(RawUploadParser):
    media_type = "application/jsonl"


def content_length(request) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def body_over_limit(request, limit: int) -> int | None:
    """The declared body size when it is over ``limit`` (plus the multipart overhead for a form upload),
    else None: refuse with 413 before anything reads the body."""
    size = content_length(request)
    allowance = MULTIPART_OVERHEAD if request.content_type.startswith("multipart/") else 0
    return size if size > limit + allowance else None


@dataclass
class Upload:
    data: bytes
    filename: str = ""  # the uploaded file's name; empty for a raw body
    form: dict = field(default_factory=dict)  # the multipart form's validated fields; empty for a raw body
    multipart: bool = False


def upload_read(request, limit: int, form_class, too_large: Callable[[int], str]) -> Upload:
    """The upload's bytes: the ``file`` field of a multipart form (validated with ``form_class``) or the raw
    body. Over ``limit`` (declared, or the file's own size) raises 413 with ``too_large(size)`` before the
    body is read; a bad form raises 400 with its field errors."""
    declared = body_over_limit(request, limit)
    if declared is not None:
        raise PayloadTooLarge(too_large(declared))
    if not request.content_type.startswith("multipart/"):
        return Upload(request.data if isinstance(request.data, bytes) else b"")
    form = form_class(data=request.data)
    form.is_valid(raise_exception=True)
    file = form.validated_data["file"]
    if file.size > limit:
        raise PayloadTooLarge(too_large(file.size))
    return Upload(file.read(), file.name or "", dict(form.validated_data), multipart=True)
