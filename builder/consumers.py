"""The project websocket: sends the project's state, then the live frames of its generations.

Frames come from each generation's Redis Stream (generation.streaming), never from the channel layer,
so nothing is lost when a tab closes: a client reconnects with the last seq it saw per generation and
gets every later frame once.
"""

import asyncio
import logging

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.http import Http404
from django.shortcuts import get_object_or_404

from builder import selectors, services
from feedback.services import InvalidFeedback, record_verdict
from generation.router import NoModelAvailable
from generation.runs import request_cancel
from generation.streaming import StreamTail
from sandbox.models import Build

log = logging.getLogger(__name__)

# A generation is followed until its build's final frame (or until it fails); then the tail stops.
IDLE_TAIL_LIMIT_S = 900
UNKNOWN_MESSAGE = "Kiln did not understand that message."
ALREADY_FINISHED = "That generation has already finished."


class ProjectConsumer(AsyncJsonWebsocketConsumer):
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
        await self.send_json(await database_sync_to_async(selectors.project_state)(self.project, self.user))

    async def disconnect(self, code):
        for task in self.tails.values():
            task.cancel()

    async def receive_json(self, content, **kwargs):
        handler = {
            "prompt": self.on_prompt,
            "regenerate": self.on_regenerate,
            "subscribe": self.on_subscribe,
            "feedback": self.on_feedback,
            "cancel": self.on_cancel,
        }.get(content.get("type"))
        if handler is None:
            await self.send_json({"type": "error", "message": UNKNOWN_MESSAGE})
            return
        try:
            await handler(content)
        except (services.InvalidRequest, InvalidFeedback, NoModelAvailable) as exc:
            await self.send_json({"type": "error", "message": str(exc)})
        except (Http404, ValueError, TypeError, KeyError):
            await self.send_json({"type": "error", "message": UNKNOWN_MESSAGE})

    async def on_prompt(self, content):
        generations = await database_sync_to_async(services.start_turn)(
            project=self.project, prompt=str(content.get("text", "")), compare=bool(content.get("compare"))
        )
        for generation in generations:
            await self._announce_and_follow(generation, select=generation.candidate == 1)

    async def on_regenerate(self, content):
        generation = await database_sync_to_async(self._regenerate)(int(content["turn"]))
        await self._announce_and_follow(generation)

    def _regenerate(self, turn_id):
        return services.regenerate(turn=get_object_or_404(self.project.turns, pk=turn_id))

    async def on_subscribe(self, content):
        generation = await database_sync_to_async(selectors.generation_for)(self.user, int(content["generation"]))
        if generation.turn.project_id != self.project.id:
            raise Http404
        self._follow(generation.id, generation.stream_key, int(content.get("after", 0)))

    async def on_cancel(self, content):
        def cancel():
            generation = selectors.generation_for(self.user, int(content["generation"]))
            if not request_cancel(generation):
                raise services.InvalidRequest(ALREADY_FINISHED)

        await database_sync_to_async(cancel)()

    async def on_feedback(self, content):
        def record():
            generation = selectors.generation_for(self.user, int(content["generation"]))
            record_verdict(
                user=self.user,
                generation=generation,
                verdict=str(content.get("verdict", "")),
                reason=str(content.get("reason", "")),
            )
            return selectors.generation_state(generation, self.user)

        state = await database_sync_to_async(record)()
        await self.send_json({"type": "generation", "generation": state})

    async def _announce_and_follow(self, generation, *, select: bool = True, state: dict | None = None):
        state = state or selectors.new_generation_state(generation)
        await self.send_json({"type": "generation", "generation": state, "select": select})
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
                frames = await tail.next_frames(block_ms=5000)
                idle_s = 0.0 if frames else idle_s + 5
                for frame in frames:
                    if frame.get("type") == "build" and frame.get("status") == Build.Status.READY:
                        frame["preview_url"] = await self._preview_url(frame["build"])
                    await self.send_json({**frame, "type": "frame", "kind": frame["type"], "generation": generation_id})
                    if frame["type"] == "repair":  # the build failed; a repair generation starts
                        await self._announce_repair(frame["repair"])
                    if frame["type"] == "done" or (frame["type"] == "build" and frame.get("final")):
                        # The whole files of the new version (the stream carried edits as diffs), and
                        # at the end the build's smoke results and screenshot.
                        await self._send_generation_state(generation_id)
                    if _is_last(frame):
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

        await self.send_json({"type": "generation", "generation": await database_sync_to_async(state)(), "select": False})

    @database_sync_to_async
    def _preview_url(self, build_id: int) -> str | None:
        build = Build.objects.filter(pk=build_id, app_version__project=self.project).first()
        return selectors.build_state(build, self.user)["preview_url"] if build else None


def _is_last(frame: dict) -> bool:
    return frame.get("type") in ("failed", "cancelled") or bool(frame.get("final"))
