"""The studio's web app (Starlette): a static page and a JSON API over one ``StudioSession``.

Every API answer is JSON; a failure is ``{"error": "<one line>"}`` with a 4xx/5xx status and the
server keeps serving. Parts are addressed by their index (score order), never by a name that
could reach the file system. Routes::

    GET  /                       the page (static/index.html, app.js, style.css; nothing external)
    GET  /api/state              parts, instruments, expressions, undo, saved sessions
    POST /api/open?filename=F    the score file as the request body (or multipart field "file")
    GET  /api/parts/{i}/table    NoteTable of part i as {"columns", "rows"}
    POST /api/parts/{i}/edit     {"rows": [..], "column": "vibrato", "value": 0.9 | "values": [..]}
    POST /api/parts/{i}/instrument  {"instrument": "flute" | "violin:0.5+flute:0.5" | {..}}
    POST /api/undo, POST /api/render, POST /api/save {"name"?}, POST /api/reopen {"name"}
    GET  /api/audio/mix.wav, /api/audio/stem/{i}.wav   (?download=1: float32 attachment)
    GET  /api/parts/{i}/table.csv, /api/parts/{i}/params.npz, /api/parts/{i}/analysis.png
    GET  /api/download.zip       the render in the write_result layout
"""
from __future__ import annotations

import functools
import logging
import threading
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from midi_ddsp.casting import instrument_label
from midi_ddsp.errors import InputFileError, MidiDDSPError, ParameterError
from midi_ddsp.studio.session import StudioSession

__all__ = ["create_app", "STATIC_DIR"]

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
_FORM_OVERHEAD_BYTES = 64 * 1024   # multipart headers and boundaries beyond the file itself


class _TooLarge(MidiDDSPError):
    pass


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _api(handler):
    """Run a handler; turn any failure into ``{"error": one line}`` (the server keeps serving)."""
    @functools.wraps(handler)
    async def wrapped(request: Request) -> Response:
        try:
            return await handler(request)
        except _TooLarge as exc:
            return JSONResponse({"error": _one_line(exc)}, status_code=413)
        except MidiDDSPError as exc:
            return JSONResponse({"error": _one_line(exc)}, status_code=400)
        except Exception as exc:  # noqa: BLE001 - an unexpected failure must not stop the server
            logger.exception("studio request %s failed", request.url.path)
            return JSONResponse({"error": f"internal error: {type(exc).__name__}: "
                                          f"{_one_line(exc)}"}, status_code=500)
    return wrapped


def create_app(session: StudioSession) -> Starlette:
    """The Starlette app serving ``session`` (one user, one score at a time)."""
    lock = threading.Lock()

    async def locked(fn, *args, **kwargs) -> Any:
        def run():
            with lock:
                return fn(*args, **kwargs)
        return await run_in_threadpool(run)

    async def json_body(request: Request) -> dict:
        try:
            body = await request.json()
        except ValueError:
            raise ParameterError("expected a JSON object in the request body") from None
        if not isinstance(body, dict):
            raise ParameterError("expected a JSON object in the request body")
        return body

    def state_response(message: str = "") -> JSONResponse:
        state = session.state()
        state["message"] = message
        return JSONResponse(state)

    async def page(request: Request) -> Response:
        return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-store"})

    @_api
    async def get_state(request: Request) -> Response:
        return await locked(state_response)

    @_api
    async def open_score(request: Request) -> Response:
        limit = session.max_upload_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit + _FORM_OVERHEAD_BYTES:
            raise _TooLarge(f"upload too large ({int(declared) / 1e6:.1f} MB; the studio accepts "
                            f"scores up to {limit / 1e6:.0f} MB)")
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            if declared is None:  # the parser would spool an unbounded upload to a temp file
                raise ParameterError("a multipart upload needs a Content-Length header")
            form = await request.form(max_files=1, max_fields=4)
            upload = form.get("file")
            if upload is None or isinstance(upload, str):
                raise ParameterError("no file in the upload (expected a form field 'file')")
            filename = upload.filename or "score.mid"
            data = await upload.read(limit + 1)
        else:
            filename = request.query_params.get("filename", "score.mid")
            chunks, size = [], 0
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise _TooLarge(f"upload too large (over {limit / 1e6:.0f} MB; the studio "
                                    f"accepts scores up to {limit / 1e6:.0f} MB)")
                chunks.append(chunk)
            data = b"".join(chunks)
        if len(data) > limit:
            raise _TooLarge(f"upload too large (over {limit / 1e6:.0f} MB)")
        if not data:
            raise InputFileError(filename, "empty file")

        def run():
            session.open_score(data=data, filename=filename)
            return state_response(f"loaded {session.source_name}: {len(session.part_names)} "
                                  f"part(s), {session.result.duration_s:.1f} s")
        return await locked(run)

    @_api
    async def part_table(request: Request) -> Response:
        index = request.path_params["index"]
        return JSONResponse(await locked(session.table_json, index))

    @_api
    async def part_edit(request: Request) -> Response:
        index = request.path_params["index"]
        body = await json_body(request)

        def run():
            session.edit(index, rows=body.get("rows") or [], column=str(body.get("column")),
                         value=body.get("value"), values=body.get("values"))
            rows = body.get("rows") or []
            return state_response(f"edited {body.get('column')} of {len(rows)} note(s) of "
                                  f"{session.part_name(index)}; render to hear it")
        return await locked(run)

    @_api
    async def part_instrument(request: Request) -> Response:
        index = request.path_params["index"]
        body = await json_body(request)

        def run():
            session.set_instrument(index, body.get("instrument"))
            name = session.part_name(index)
            return state_response(f"{name}: {instrument_label(session.instruments[name])}; "
                                  "render to hear it")
        return await locked(run)

    @_api
    async def undo(request: Request) -> Response:
        def run():
            return state_response("undone" if session.undo() else "nothing to undo")
        return await locked(run)

    @_api
    async def render(request: Request) -> Response:
        def run():
            parts = session.render()
            return state_response(f"rendered {', '.join(parts)}" if parts else
                                  "nothing changed since the last render")
        return await locked(run)

    @_api
    async def save(request: Request) -> Response:
        body = await json_body(request) if await request.body() else {}

        def run():
            folder = session.save(body.get("name") or None)
            return state_response(f"saved session {folder.name}")
        return await locked(run)

    @_api
    async def reopen(request: Request) -> Response:
        body = await json_body(request)

        def run():
            session.reopen(str(body.get("name", "")))
            return state_response(f"reopened session {session.folder.name}")
        return await locked(run)

    def download_headers(request: Request, filename: str) -> dict:
        headers = {"Cache-Control": "no-store"}
        if request.query_params.get("download"):
            headers["Content-Disposition"] = f'attachment; filename="{filename}"'
        return headers

    @_api
    async def mix_wav(request: Request) -> Response:
        download = bool(request.query_params.get("download"))
        data = await locked(session.wav_bytes, None, subtype="FLOAT" if download else "PCM_16")
        name = f"{session.folder.name}_mix.wav"
        return Response(data, media_type="audio/wav", headers=download_headers(request, name))

    @_api
    async def stem_wav(request: Request) -> Response:
        index = request.path_params["index"]
        download = bool(request.query_params.get("download"))
        data = await locked(session.wav_bytes, index, subtype="FLOAT" if download else "PCM_16")
        name = f"{await locked(session.file_stem, index)}.wav"
        return Response(data, media_type="audio/wav", headers=download_headers(request, name))

    @_api
    async def table_csv(request: Request) -> Response:
        index = request.path_params["index"]
        data = await locked(session.csv_bytes, index)
        name = f"{await locked(session.file_stem, index)}.csv"
        return Response(data, media_type="text/csv", headers=download_headers(request, name))

    @_api
    async def params_npz(request: Request) -> Response:
        index = request.path_params["index"]
        data = await locked(session.npz_bytes, index)
        name = f"{await locked(session.file_stem, index)}.npz"
        return Response(data, media_type="application/octet-stream",
                        headers=download_headers(request, name))

    @_api
    async def analysis(request: Request) -> Response:
        index = request.path_params["index"]

        return Response(await locked(session.analysis_png, index), media_type="image/png",
                        headers={"Cache-Control": "no-store"})

    @_api
    async def download_zip(request: Request) -> Response:
        data = await locked(session.zip_bytes)
        name = f"{session.folder.name}.zip"
        return Response(data, media_type="application/zip",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})

    @_api
    async def not_found(request: Request) -> Response:
        return JSONResponse({"error": f"no such endpoint: {request.method} {request.url.path}"},
                            status_code=404)

    routes = [
        Route("/", page),
        Route("/api/state", get_state),
        Route("/api/open", open_score, methods=["POST"]),
        Route("/api/parts/{index:int}/table", part_table),
        Route("/api/parts/{index:int}/edit", part_edit, methods=["POST"]),
        Route("/api/parts/{index:int}/instrument", part_instrument, methods=["POST"]),
        Route("/api/parts/{index:int}/table.csv", table_csv),
        Route("/api/parts/{index:int}/params.npz", params_npz),
        Route("/api/parts/{index:int}/analysis.png", analysis),
        Route("/api/undo", undo, methods=["POST"]),
        Route("/api/render", render, methods=["POST"]),
        Route("/api/save", save, methods=["POST"]),
        Route("/api/reopen", reopen, methods=["POST"]),
        Route("/api/audio/mix.wav", mix_wav),
        Route("/api/audio/stem/{index:int}.wav", stem_wav),
        Route("/api/download.zip", download_zip),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
        Route("/api/{rest:path}", not_found, methods=["GET", "POST"]),
    ]
    return Starlette(routes=routes)
