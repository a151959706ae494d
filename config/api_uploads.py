"""File uploads to the API: parsers that hand a raw body over as bytes (the import services decode and parse
it themselves), and the size check every import makes before Django reads a body into memory."""

from rest_framework.parsers import BaseParser

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
