"""The studio: a local web app to see a performance, edit it note by note and hear it again.

``StudioSession`` (``midi_ddsp.studio.session``) is the model: a score, its render, the edits,
undo and the session folder. ``create_app`` (``midi_ddsp.studio.server``) serves it as a
Starlette app with a static page (``static/``: vanilla JavaScript and canvas, nothing fetched
from outside). ``midi_ddsp_studio`` (``midi_ddsp.cli.studio``) runs it with uvicorn.
Starlette is imported only by ``server``.
"""
from midi_ddsp.studio.session import MAX_UPLOAD_BYTES, StudioSession, parse_instrument, safe_name

__all__ = ["StudioSession", "MAX_UPLOAD_BYTES", "create_app", "parse_instrument", "safe_name"]


def create_app(session: StudioSession):
    """The web app serving ``session`` (``midi_ddsp.studio.server.create_app``)."""
    from midi_ddsp.studio.server import create_app as _create_app

    return _create_app(session)
