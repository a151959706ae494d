"""Waiting for a bot reply from the web process, and Server-Sent Events of it.

The reply is written by a `chat` worker into its Message row, so the web side only reads the row: every
~50 ms until it is complete or failed (or the wait ends). That keeps the web process free of models and of
any broker round trip, at the cost of one small indexed query per poll; a streaming reply's text grows in
the row as the worker flushes it (at most every ~100 ms), and each poll sends the new part as a `delta`."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

from django.conf import settings
from django.http import StreamingHttpResponse
from rest_framework import renderers

from chat.models import Message

POLL_SECONDS = 0.05
KEEPALIVE_SECONDS = 15.0
FINAL = (Message.Status.COMPLETE, Message.Status.FAILED)


def reply_wait_seconds() -> float:
    return float(getattr(settings, "CHAT_REPLY_WAIT_SECONDS", 60))


def reply_wait(message_id: int, *, timeout: float | None = None) -> Message:
    """The reply once complete or failed, or as it is when `timeout` seconds have passed."""
    deadline = time.monotonic() + (reply_wait_seconds() if timeout is None else timeout)
    while True:
        message = Message.objects.select_related("conversation").get(pk=message_id)
        if message.status in FINAL or time.monotonic() >= deadline:
            return message
        time.sleep(POLL_SECONDS)


def sse_event(event: str, data: dict) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False, default=str)}\n\n".encode()


def reply_events(
    message_id: int,
    *,
    final: Callable[[Message], dict],
    first: tuple[str, dict] | None = None,
    timeout: float | None = None,
    timeout_data: dict | None = None,
) -> Iterator[bytes]:
    """`first` (if any), then `delta` {"id", "text"} for each new part of the reply's text, then `done` with
    `final(message)` -- the client replaces what it showed with done's text, since the final check may
    rewrite a reply -- or `timeout` when the wait ends first. `replace` {"id", "text"} is sent if the
    stored text stops extending what was sent (it should not, but a client must never show stale text)."""
    if first is not None:
        yield sse_event(*first)
    deadline = time.monotonic() + (reply_wait_seconds() if timeout is None else timeout)
    sent, last_beat = "", time.monotonic()
    while True:
        message = Message.objects.select_related("conversation").get(pk=message_id)
        text = message.text or ""
        if message.status in FINAL:
            yield sse_event("done", final(message))
            return
        if text != sent:
            if text.startswith(sent):
                yield sse_event("delta", {"id": message_id, "text": text[len(sent) :]})
            else:
                yield sse_event("replace", {"id": message_id, "text": text})
            sent = text
        now = time.monotonic()
        if now >= deadline:
            yield sse_event("timeout", {"id": message_id, **(timeout_data or {})})
            return
        if now - last_beat >= KEEPALIVE_SECONDS:
            yield b": keep-alive\n\n"
            last_beat = now
        time.sleep(POLL_SECONDS)


def sse_response(events: Iterator[bytes]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(events, content_type="text/event-stream; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx would otherwise hold the events back
    return response


class EventStreamRenderer(renderers.BaseRenderer):
    """Lets `Accept: text/event-stream` through content negotiation; errors still render as JSON."""

    media_type = "text/event-stream"
    format = "sse"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, bytes):
            return data
        # Not a stream (an error, or a reply that was already complete): JSON, and labelled as JSON. DRF set the
        # negotiated text/event-stream header just before calling us.
        response = (renderer_context or {}).get("response")
        if response is not None:
            response["Content-Type"] = "application/json"
        return renderers.JSONRenderer().render(data)
