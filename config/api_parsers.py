"""The API's JSON parser: DRF's, with a nesting limit. Python's json module recurses once per level, so a body
nested thousands deep would raise RecursionError (a 500) and a merely deep one costs stack and time in every
serializer that walks it; no field of this API needs more than a few levels."""

from rest_framework.parsers import JSONParser

from config.api_errors import TooDeep

MAX_JSON_DEPTH = 32


def json_depth_exceeds(value, limit: int) -> bool:
    """Whether `value` nests objects/arrays deeper than `limit` (the top-level object or array is level 1).
    Iterative, so checking a deep value cannot itself overflow the stack."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


class DepthLimitedJSONParser(JSONParser):
    max_depth = MAX_JSON_DEPTH

    def parse(self, stream, media_type=None, parser_context=None):
        message = f"The JSON body is nested deeper than {self.max_depth} levels."
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise TooDeep(message) from None
        if json_depth_exceeds(data, self.max_depth):
            raise TooDeep(message)
        return data
