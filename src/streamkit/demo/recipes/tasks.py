"""Long-running work: a progress stream, and the 202 + status-stream pattern.

``/process/long-task`` does the work *inside* the response: each step is
one item of a generator that :func:`streamkit.progress` drives, and progress
records go out as SSE (at most one per ``every`` seconds, plus a final one).
If the client leaves, the work stops with it.

Work that must survive the connection is a job: ``POST /jobs`` answers
``202 Accepted`` at once with ``Location: /jobs/{id}``, the work runs in a
background task of the app, and any number of clients follow it with
``GET /jobs/{id}/events`` (SSE, resumable with Last-Event-ID) or poll
``GET /jobs/{id}``. Closing the page does not stop the job.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any, Final, Literal

import anyio
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from streamkit import EventLog, ServerSentEvent, json_event, progress
from streamkit.demo._state import Demo
from streamkit.starlette import SSEResponse, last_event_id

#: Jobs remembered (the oldest finished ones are forgotten first).
MAX_JOBS: Final = 100


def work(steps: int, delay: float) -> Iterator[int]:
    """The work: ``steps`` blocking steps (a sync generator, so it runs on
    a thread and may block)."""
    for step in range(steps):
        time.sleep(delay)  # stands for a file processed, a batch inserted...
        yield step


@dataclass
class Job:
    id: str
    steps: int
    status: Literal["queued", "running", "done", "failed"] = "queued"
    done: int = 0
    result: dict[str, Any] | None = None
    created: float = field(default_factory=time.time)
    #: Every status change, for the events stream (and its resumption).
    log: EventLog = field(default_factory=lambda: EventLog(maxlen=1000))

    def snapshot(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status,
            "done": self.done,
            "total": self.steps,
            "result": self.result,
            "events_url": f"/jobs/{self.id}/events",
        }


class JobRequest(BaseModel):
    steps: int = Field(default=40, ge=1, le=1000)


async def run_job(job: Job, delay: float) -> None:
    job.status = "running"
    job.log.append(job.snapshot(), event="status")
    try:
        async for record in progress(work(job.steps, delay), total=job.steps, every=0.05):
            job.done = record.done
            if not record.final:
                job.log.append(record.to_dict(), event="progress")
        job.result = {"processed": job.done, "checksum": secrets.token_hex(4)}
        job.status = "done"
    except Exception as exc:
        job.status = "failed"
        job.result = {"error": type(exc).__name__}
        raise
    finally:
        with anyio.CancelScope(shield=True):
            job.log.append(job.snapshot(), event="status")
            job.log.close()  # followers end after this last event


def router(demo: Demo) -> APIRouter:
    api = APIRouter(tags=["tasks"])
    step_delay = demo.scaled(0.1, 0.004)
    jobs: OrderedDict[str, Job] = OrderedDict()

    @api.get("/process/long-task", response_class=SSEResponse)
    async def long_task(steps: Annotated[int, Query(ge=1, le=1000)] = 50) -> SSEResponse:
        """Do ``steps`` steps, streaming ``event: progress`` records
        (``done``, ``total``, ``fraction``, ``eta``...; ``final`` on the last)."""

        async def events() -> AsyncIterator[ServerSentEvent]:
            async for record in progress(work(steps, step_delay), total=steps, every=0.05):
                yield record.to_event()

        return SSEResponse(events())

    @api.post("/jobs", status_code=202)
    async def create_job(body: JobRequest | None = None) -> JSONResponse:
        """Start a job; 202 with ``Location: /jobs/{id}``."""
        if demo.task_group is None:
            raise HTTPException(503, "the app's lifespan is not running")
        job = Job(id=secrets.token_hex(8), steps=(body or JobRequest()).steps)
        jobs[job.id] = job
        while len(jobs) > MAX_JOBS:
            oldest = next(iter(jobs.values()))
            if oldest.status in ("queued", "running"):
                break
            jobs.popitem(last=False)
        # The app's task group, not the request's: the job outlives this
        # response, and the client that started it.
        demo.task_group.start_soon(run_job, job, step_delay)
        return JSONResponse(
            job.snapshot(), status_code=202, headers={"location": f"/jobs/{job.id}"}
        )

    def find(job_id: str) -> Job:
        job = jobs.get(job_id)
        if job is None:
            raise HTTPException(404, "no such job")
        return job

    @api.get("/jobs/{job_id}")
    async def job_status(job_id: str) -> dict[str, Any]:
        """The job's status now."""
        return find(job_id).snapshot()

    @api.get("/jobs/{job_id}/events", response_class=SSEResponse)
    async def job_events(job_id: str, request: Request) -> SSEResponse:
        """The job's status changes as SSE: ``event: status`` (a snapshot
        first), ``event: progress``; ends when the job has finished."""
        job = find(job_id)
        after = last_event_id(request)
        # Subscribed now, before the snapshot is sent: nothing falls between.
        updates = job.log.subscribe(after)

        async def events() -> AsyncIterator[ServerSentEvent]:
            if after is None:
                yield json_event(job.snapshot(), event="status")
            async for event in updates:
                yield event

        return SSEResponse(events())

    return api
