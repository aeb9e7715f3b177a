"""The project websocket: sends the project's state, then the live frames of its generations.

Frames come from each generation's Redis Stream (generation.streaming), never from the channel layer,
so nothing is lost when a tab closes: a client reconnects with the last seq it saw per generation and
gets every later frame once. Every message it sends is built by generation.frames.

Input is validated here, at the edge: a message that is not a JSON object of a known type with fields
of the right types gets an error message back on an open socket (and a log line); nothing else is
caught, so a real bug still surfaces in the log.
"""

import asyncio
import json
import logging

import orjson
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.http import Http404
from django.shortcuts import get_object_or_404

from builder import history, selectors, services
from feedback.services import InvalidFeedback, record_verdict
from generation import frames
from generation.router import NoModelAvailable
from generation.runs import request_cancel
from generation.streaming import StreamTail
from sandbox.models import Build

log = logging.getLogger(__name__)

# A generation is followed until its build's final frame (or until it fails); then the tail stops.
IDLE_TAIL_LIMIT_S = 900
UNKNOWN_MESSAGE = "Kiln did not understand that message."
NOT_JSON = "Kiln did not understand that message: it is not a JSON object."
BINARY_MESSAGE = "Kiln did not understand that message: binary frames are not used here."
BAD_FIELD = "Kiln did not understand that message: “{field}” is missing or not {kind}."
ALREADY_FINISHED = "That generation has already finished."


class BadMessage(ValueError):
    """A message from the browser that does not follow the socket's protocol (docs/frames.md)."""


def _reject_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def parse_message(text: str | None, binary: bytes | None) -> dict:
    """The browser's message as a dict with a string `type`, or BadMessage with what to tell it."""
    if binary is not None or text is None:
        raise BadMessage(BINARY_MESSAGE)
    try:
        content = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:  # RecursionError: arrays nested thousands deep
        raise BadMessage(NOT_JSON) from exc
    if not isinstance(content, dict) or not isinstance(content.get("type"), str):
        raise BadMessage(NOT_JSON if not isinstance(content, dict) else UNKNOWN_MESSAGE)
    return content


def field_id(content: dict, name: str) -> int:
    value = content.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise BadMessage(BAD_FIELD.format(field=name, kind="a whole number"))
    return value


def field_text(content: dict, name: str, *, default: str | None = None) -> str:
    value = content.get(name, default)
    if not isinstance(value, str):
        raise BadMessage(BAD_FIELD.format(field=name, kind="text"))
    return value


def field_ref(content: dict) -> str | None:
    ref = content.get("ref")
    return ref[:64] if isinstance(ref, str) else None


class ProjectConsumer(AsyncWebsocketConsumer):
    async def connect(self):
        self.user = self.scope["user"]
        self.tails: dict[int, asyncio.Task] = {}
        if not self.user.is_authenticated:
            await self.close(code=4401)
            return
        try:
            self.project = await database_sync_to_async(selectors.project_for)(
                self.user, self.scope["url_route"]["kwargs"]["project_id"]
            )
        except Http404:
            await self.close(code=4404)
            return
        await self.accept()
        state = await database_sync_to_async(selectors.project_state)(self.project, self.user)
        await self.send_json(frames.socket_state(state))

    async def disconnect(self, code):
        for task in self.tails.values():
            task.cancel()

    async def send_json(self, content: dict) -> None:
        # orjson: every streamed frame passes here, and it encodes ~10x faster than the json module.
        await self.send(text_data=orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS).decode())

    async def receive(self, text_data=None, bytes_data=None):
        content = {}
        try:
            content = parse_message(text_data, bytes_data)
            handler = {
                "prompt": self.on_prompt,
                "regenerate": self.on_regenerate,
                "subscribe": self.on_subscribe,
                "feedback": self.on_feedback,
                "cancel": self.on_cancel,
                "restore": self.on_restore,
                "undo": self.on_undo,
            }.get(content["type"])
            if handler is None:
                raise BadMessage(UNKNOWN_MESSAGE)
            await handler(content)
        except BadMessage as exc:
            log.info("project %s: a message Kiln did not understand from user %s: %s",
                     self.project.id, self.user.pk, (text_data or "<binary>")[:200])
            await self.send_json(frames.socket_error(str(exc), ref=field_ref(content)))
        except (services.InvalidRequest, InvalidFeedback, NoModelAvailable) as exc:
            await self.send_json(frames.socket_error(str(exc), ref=field_ref(content)))
        except Http404:
            await self.send_json(frames.socket_error(UNKNOWN_MESSAGE, ref=field_ref(content)))

    async def on_prompt(self, content):
        text = field_text(content, "text", default="")
        compare = content.get("compare", False)
        if not isinstance(compare, bool):
            raise BadMessage(BAD_FIELD.format(field="compare", kind="true or false"))
        generations = await database_sync_to_async(services.start_turn)(project=self.project, prompt=text,
                                                                         compare=compare)
        await self.send_json(frames.socket_prompt_accepted(
            ref=field_ref(content), turn_id=generations[0].turn_id,
            waiting=sum(g.status == "waiting" for g in generations)))
        for generation in generations:
            await self._announce_and_follow(generation, select=generation.candidate == 1)

    async def on_regenerate(self, content):
        turn_id = field_id(content, "turn")
        generation = await database_sync_to_async(self._regenerate)(turn_id)
        await self._announce_and_follow(generation)

    def _regenerate(self, turn_id):
        return services.regenerate(turn=get_object_or_404(self.project.turns, pk=turn_id))

    async def on_subscribe(self, content):
        generation_id, after = field_id(content, "generation"), field_id(content, "after") if "after" in content else 0
        generation = await database_sync_to_async(selectors.generation_for)(self.user, generation_id)
        if generation.turn.project_id != self.project.id:
            raise Http404
        self._follow(generation.id, generation.stream_key, after)

    async def on_cancel(self, content):
        generation_id = field_id(content, "generation")

        def cancel():
            generation = selectors.generation_for(self.user, generation_id)
            if not request_cancel(generation):
                raise services.InvalidRequest(ALREADY_FINISHED)

        await database_sync_to_async(cancel)()

    async def on_feedback(self, content):
        generation_id = field_id(content, "generation")
        verdict, reason = field_text(content, "verdict"), field_text(content, "reason", default="")

        def record():
            generation = selectors.generation_for(self.user, generation_id)
            record_verdict(user=self.user, generation=generation, verdict=verdict, reason=reason)
            return selectors.generation_state(generation, self.user)

        state = await database_sync_to_async(record)()
        await self.send_json(frames.socket_generation(state))

    async def on_restore(self, content):
        """Restore an earlier version of this project as a new, current version (builder.history)."""
        version_id = field_id(content, "version")

        def restore():
            version = history.version_for(self.user, self.project.id, version_id)
            return history.restore_version(user=self.user, project=self.project, version=version)

        await self._announce_restore(await database_sync_to_async(restore)())

    async def on_undo(self, content):
        """Undo: restore the version the current one was made from."""
        await self._announce_restore(
            await database_sync_to_async(history.undo)(user=self.user, project=self.project))

    async def _announce_restore(self, generation):
        # The restore is stored whole (its version listed): announce that state, then follow its build.
        state = await database_sync_to_async(selectors.generation_state)(generation, self.user)
        await self._announce_and_follow(generation, state=state)

    async def _announce_and_follow(self, generation, *, select: bool = True, state: dict | None = None):
        state = state or selectors.new_generation_state(generation)
        await self.send_json(frames.socket_generation(state, select=select))
        self._follow(generation.id, generation.stream_key, 0)

    def _follow(self, generation_id: int, stream_key: str, after_seq: int) -> None:
        previous = self.tails.pop(generation_id, None)
        if previous:
            previous.cancel()
        self.tails[generation_id] = asyncio.create_task(self._tail(generation_id, stream_key, after_seq))

    async def _tail(self, generation_id: int, stream_key: str, after_seq: int) -> None:
        tail = StreamTail(stream_key, after_seq)
        idle_s = 0.0
        try:
            while idle_s < IDLE_TAIL_LIMIT_S:
                batch = await tail.next_frames(block_ms=5000)
                idle_s = 0.0 if batch else idle_s + 5
                for frame in batch:
                    if frame.get("type") == "build" and frame.get("status") == Build.Status.READY:
                        frame["preview_url"] = await self._preview_url(frame["build"])
                    await self.send_json(frames.socket_frame(frame, generation_id=generation_id))
                    if frame["type"] == "repair":  # the build failed; a repair generation starts
                        await self._announce_repair(frame["repair"])
                    if frame["type"] == "done" or (frame["type"] == "build" and frame.get("final")):
                        # The new version's file list, and at the end the build's smoke results.
                        await self._send_generation_state(generation_id)
                    if frames.is_last(frame):
                        return
        finally:
            await tail.close()

    async def _announce_repair(self, generation_id: int) -> None:
        def load():
            generation = selectors.generation_for(self.user, generation_id)
            return generation, selectors.generation_state(generation, self.user)

        generation, state = await database_sync_to_async(load)()
        await self._announce_and_follow(generation, state=state)

    async def _send_generation_state(self, generation_id: int) -> None:
        def state():
            return selectors.generation_state(selectors.generation_for(self.user, generation_id), self.user)

        await self.send_json(frames.socket_generation(await database_sync_to_async(state)()))

    @database_sync_to_async
    def _preview_url(self, build_id: int) -> str | None:
        build = Build.objects.filter(pk=build_id, app_version__project=self.project).first()
        return selectors.build_state(build, self.user)["preview_url"] if build else None
