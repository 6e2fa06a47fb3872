"""The `replay` command; the only place argv and the environment are read."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from replay import __version__
from replay.domain.errors import ReplayError
from replay.domain.programme import parse_programme
from replay.jobs.context import Context, Lanes
from replay.jobs.pipeline import JobSummary, ProcessRequest, process, publish, unpublish
from replay.jobs.sqlite_queue import SQLiteQueue
from replay.jobs.tasks import QUEUES, ingest_recording, whisper_for
from replay.settings import Settings, load_settings
from replay.speech.transcriber import Transcription
from replay.storage.factory import object_store_for
from replay.storage.local import LocalDirectoryStore
from replay.store.db import Store

log = logging.getLogger("replay")

DESCRIPTION = """\
replay turns a room's recording of an event into published replays: one per programme
session, each with HLS streaming, an MP4 download, a French transcript, French and
English subtitles, and pages for the audience.
"""


class TerminalProgress:
    """Progress per stage on stderr: one updating line on a terminal, milestones otherwise."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.live = stream.isatty()
        self.milestones: dict[tuple[str, str], int] = {}

    def report(self, stage: str, label: str, fraction: float, eta: float | None) -> None:
        percent = int(fraction * 100)
        line = f"{stage:<14} {label[:40]:<40} {percent:3d}\u00a0%"
        if eta is not None:
            line += f"  reste {_eta(eta)}"
        if self.live:
            self.stream.write(f"\r\x1b[2K{line}")
        elif percent // 25 > self.milestones.get((stage, label), -1):
            self.milestones[(stage, label)] = percent // 25
            self.stream.write(line + "\n")
        self.stream.flush()

    def finished(self, stage: str, label: str, seconds: float, skipped: bool) -> None:
        status = "déjà fait" if skipped else f"terminé en {seconds:.1f}\u00a0s"
        prefix = "\r\x1b[2K" if self.live else ""
        self.stream.write(f"{prefix}{stage:<14} {label[:40]:<40} {status}\n")
        self.stream.flush()


def _eta(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}\u00a0min {secs:02d}\u00a0s" if minutes else f"{secs}\u00a0s"


def _started_at(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 date and time, e.g. 2026-03-03T09:28:00+01:00") from exc
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} has no time zone offset; write e.g. 2026-03-03T09:28:00+01:00")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="replay", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"replay {__version__}")
    parser.add_argument("--config", type=Path, help="a TOML settings file (see config/replay.toml)")
    parser.add_argument("--data-dir", type=Path,
                        help="where state, originals and the site live (default ./replay-data, "
                             "or REPLAY_DATA_DIR)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every command run")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_process(commands)
    _add_demo(commands)
    _add_publish(commands)
    _add_unpublish(commands)
    _add_serve(commands)
    _add_ingest(commands)
    _add_user(commands)
    return parser


def _add_process(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sub = commands.add_parser(
        "process", help="process one room's recording into published replays",
        description="Import the programme, ingest the recording, cut it into one replay per "
                    "session of the room, transcode, transcribe, subtitle and publish to "
                    "DATA_DIR/site/. Running it again redoes only what changed.")
    _add_recording_arguments(sub)
    sub.add_argument("--review", action="store_true",
                     help="stop before publishing, so editors can review the captions")
    sub.add_argument("--json", action="store_true", help="print a JSON summary on stdout")


def _add_recording_arguments(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("recording", type=Path, help="the room's recording (video or audio file)")
    sub.add_argument("--schedule", type=Path, required=True,
                     help="the programme: schedule.json (c3voc/pretalx), frab schedule.xml or "
                          "iCal .ics")
    sub.add_argument("--room", required=True, help="the programme's room this recording is from")
    sub.add_argument("--started-at", type=_started_at,
                     help="wall-clock start of the recording with its offset, e.g. "
                          "2026-03-03T09:28:00+01:00 (default: the file's creation_time)")


def _add_demo(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sub = commands.add_parser(
        "demo", help="generate a sample event (French speech, test video) and process it",
        description="Generate a 3.5-minute recording of a room with two sessions in French, a "
                    "late start and a silent break, with its programme, then run `replay "
                    "process` on it.")
    sub.add_argument("--out", type=Path, default=Path("replay-sample"),
                     help="where to write the sample recording and programme")
    sub.add_argument("--json", action="store_true", help="print a JSON summary on stdout")


TO_HELP = ("where to publish: s3://BUCKET/PREFIX (endpoint and region from the settings "
           "s3_endpoint_url and s3_region, credentials from AWS_ACCESS_KEY_ID and "
           "AWS_SECRET_ACCESS_KEY or AWS_PROFILE) or a directory (default: DATA_DIR/site)")


def _add_publish(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sub = commands.add_parser(
        "publish", help="publish an event's processed sessions and its index",
        description="Upload the processed sessions of an event (media, then playlists, then "
                    "pages, the event index last) to a directory or an S3 bucket. Only "
                    "objects whose content changed are uploaded. Sessions taken down with "
                    "`replay unpublish` stay down unless named with --session.")
    sub.add_argument("event", help="the event's slug")
    sub.add_argument("--to", metavar="TARGET", help=TO_HELP)
    sub.add_argument("--session", action="append", default=[], metavar="GUID_OR_SLUG",
                     help="publish this session again after `replay unpublish` (repeatable)")


def _add_unpublish(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sub = commands.add_parser(
        "unpublish", help="take a session down and update the event index",
        description="Publish the event index without the session, then delete the session's "
                    "objects. `replay publish EVENT --session GUID` puts it back.")
    sub.add_argument("event", help="the event's slug")
    sub.add_argument("session", metavar="GUID_OR_SLUG", help="the session's guid or slug")
    sub.add_argument("--to", metavar="TARGET", help=TO_HELP)


def _add_serve(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sub = commands.add_parser(
        "serve", help="run the service: HTTP API, pages, published site and workers",
        description="Serve the health and metrics endpoints and the published site (under "
                    "/site/) and run the pipeline's jobs, on the data directory's SQLite "
                    "state. SIGTERM or Ctrl-C stops it gracefully: no new job is taken and "
                    "running ones finish or are handed back.")
    sub.add_argument("--host", help="address to listen on (default: the setting host)")
    sub.add_argument("--port", type=int, help="port to listen on (default: the setting port)")
    sub.add_argument("--workers", default=",".join(QUEUES), metavar="QUEUES",
                     help="comma-separated queues to run jobs from (default: "
                          f"{','.join(QUEUES)}; empty: serve only)")


def _add_ingest(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sub = commands.add_parser(
        "ingest", help="add a room's recording for a running `replay serve` to process",
        description="Import the programme, check and ingest the recording (copied and "
                    "checksummed into the data directory), and queue its processing. A "
                    "`replay serve` on the same data directory does the rest.")
    _add_recording_arguments(sub)
    sub.set_defaults(review=False)


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from aiohttp import web

    from replay.web.app import create_app

    settings = dataclasses.replace(settings, host=args.host or settings.host,
                                   port=settings.port if args.port is None else args.port)
    queues = [name.strip() for name in args.workers.split(",") if name.strip()]
    unknown = sorted(set(queues) - set(QUEUES))
    if unknown:
        raise ReplayError(f"unknown queue(s) {', '.join(unknown)}; give some of "
                          f"{','.join(QUEUES)}")
    logging.getLogger("replay").setLevel(logging.DEBUG if args.verbose else logging.INFO)
    print(f"replay serve: http://{settings.host}:{settings.port}/site/ ; data in "
          f"{settings.data_dir}", file=sys.stderr, flush=True)
    web.run_app(create_app(settings, worker_queues=queues), host=settings.host,
                port=settings.port, print=None, access_log=None)
    return 0


async def _run_ingest(settings: Settings, request: ProcessRequest) -> tuple[int, int]:
    store = Store.open(settings.database_path)
    queue = SQLiteQueue.open(settings.database_path)
    try:
        ctx = Context(settings=settings, store=store,
                      objects=LocalDirectoryStore(settings.site_dir),
                      transcriber=_NoTranscriber(), lanes=Lanes.for_threads(1),
                      progress=TerminalProgress(sys.stderr))
        recording, job = await ingest_recording(ctx, queue, request)
        return recording.id, job
    finally:
        await queue.close()
        store.close()


def _ingest(args: argparse.Namespace, settings: Settings) -> int:
    recording, job = asyncio.run(_run_ingest(settings, _request(args)))
    print(f"Enregistrement {recording} ajouté ; analyse en file (job {job}). "
          "`replay serve` le traite.")
    return 0


class _NoTranscriber:
    """Publishing never transcribes; the context still needs a transcriber."""

    def transcribe_and_translate(self, audio: np.ndarray, *, language: str,
                                 hotwords: str | None = None,
                                 on_progress: Any = None) -> Transcription:
        raise RuntimeError("publishing does not transcribe")


async def _run_publishing(settings: Settings, args: argparse.Namespace) -> str:
    objects = object_store_for(args.to, settings)
    if not settings.database_path.is_file():
        raise ReplayError(f"no replay data in {settings.data_dir}: process a recording first "
                          "(replay process), or pass --data-dir")
    store = Store.open(settings.database_path)
    try:
        event = store.load_event(args.event)
        if event is None:
            known = ", ".join(store.event_slugs()) or "none yet"
            raise ReplayError(f"unknown event {args.event!r}; known events: {known}")
        ctx = Context(settings=settings, store=store, objects=objects,
                      transcriber=_NoTranscriber(), lanes=Lanes.for_threads(1),
                      progress=TerminalProgress(sys.stderr))
        index = f"{(args.to or str(settings.site_dir)).rstrip('/')}/{event.slug}/index.html"
        if args.command == "publish":
            await publish(ctx, event, republish=args.session)
            return f"Publié\u00a0: {index}"
        slugs = await unpublish(ctx, event, args.session)
        return f"Retiré\u00a0: {', '.join(slugs)}\u00a0; index mis à jour\u00a0: {index}"
    finally:
        store.close()
        close = getattr(objects, "close", None)
        if close is not None:
            close()


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(args.config, data_dir=args.data_dir)


async def _run_process(settings: Settings, request: ProcessRequest) -> JobSummary:
    store = Store.open(settings.database_path)
    ctx = Context(settings=settings, store=store,
                  objects=LocalDirectoryStore(settings.site_dir),
                  transcriber=whisper_for(settings),
                  lanes=Lanes.for_threads(settings.cpu_threads),
                  progress=TerminalProgress(sys.stderr))
    try:
        return await process(ctx, request)
    finally:
        store.close()


def _request(args: argparse.Namespace) -> ProcessRequest:
    try:
        programme = args.schedule.read_bytes()
    except OSError as exc:
        raise ReplayError(f"cannot read the programme {args.schedule}: {exc.strerror}") from exc
    if not args.recording.is_file():
        raise ReplayError(f"{args.recording} does not exist or is not a file")
    event = parse_programme(programme, filename=args.schedule.name)
    return ProcessRequest(args.recording, event, args.room, args.started_at, args.review)


def _report(summary: JobSummary, settings: Settings, as_json: bool) -> None:
    if as_json:
        print(summary.as_json())
        return
    for result in summary.sessions:
        print(f"«\u00a0{result.title}\u00a0»\u00a0: {result.start:.1f}–{result.end:.1f}\u00a0s")
    if summary.site:
        index = (settings.site_dir / summary.site / "index.html").resolve()
        print(f"Publié\u00a0: {index}")
    else:
        print("Traitement terminé\u00a0; rien n’est publié (--review).")


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from replay.sample import build_sample

    print(f"Génération de l'évènement d'exemple dans {args.out} ...", file=sys.stderr)
    truth = build_sample(args.out)
    request = ProcessRequest(truth.recording, parse_programme(truth.schedule.read_bytes()),
                             truth.room, truth.started_at)
    summary = asyncio.run(_run_process(settings, request))
    _report(summary, settings, args.json)
    return 0


def _add_user(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sub = commands.add_parser(
        "user", help="manage accounts (organisers, editors) and API tokens",
        description="Create accounts for the browser login and API tokens for scripts. The "
                    "password is asked twice on the terminal, or read from the environment "
                    "variable REPLAY_NEW_PASSWORD (for scripts); it is never an argument.")
    actions = sub.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="create an account",
                             description="Create an account. Organisers may do everything on "
                                         "their events; editors correct subtitles.")
    add.add_argument("email", help="the address the user signs in with")
    add.add_argument("--name", required=True, help="the name shown in the pages")
    add.add_argument("--role", required=True, choices=["organiser", "editor"])
    add.add_argument("--event", action="append", default=[], metavar="SLUG",
                     help="limit the account to this event (repeatable; default: every event)")
    token = actions.add_parser("token", help="print a new API token for the account, once",
                               description="Print a new API token; send it as "
                                           "`Authorization: Bearer TOKEN`. Only its hash "
                                           "is kept: it cannot be shown again.")
    token.add_argument("email", help="the account's address")
    token.add_argument("--label", required=True, help="what the token is for, e.g. a script")


def _user(args: argparse.Namespace, settings: Settings) -> int:
    from replay.store.users import Users

    store = Store.open(settings.database_path)
    try:
        users = Users(store.db)
        if args.user_command == "add":
            user = users.add(args.email, args.name, args.role, _new_password(),
                             event_slugs=args.event)
            print(f"Compte créé\u00a0: {user.email} ({user.role})")
            return 0
        found = users.by_email(args.email)
        if found is None:
            raise ReplayError(f"aucun compte pour l’adresse {args.email} (replay user add)")
        print(users.create_token(found.id, args.label))
        print("Conservez ce jeton\u00a0: il ne sera plus affiché.", file=sys.stderr)
        return 0
    finally:
        store.close()


def _new_password() -> str:
    import getpass
    import os

    from replay.domain.passwords import PasswordError, check_new_password

    given = os.environ.get("REPLAY_NEW_PASSWORD")
    if given is not None:
        return given
    first = getpass.getpass("Mot de passe (12\u00a0caractères au moins)\u00a0: ")
    check_new_password(first)
    if getpass.getpass("Le même, une seconde fois\u00a0: ") != first:
        raise PasswordError("Les deux saisies du mot de passe diffèrent.")
    return first


SERVICE_COMMANDS: dict[str, Callable[[argparse.Namespace, Settings], int]] = {
    "serve": _serve, "ingest": _ingest}
SERVICE_COMMANDS["user"] = _user


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    started = time.monotonic()
    try:
        settings = _settings(args)
        if args.command == "demo":
            return _demo(args, settings)
        if args.command in SERVICE_COMMANDS:
            return SERVICE_COMMANDS[args.command](args, settings)
        if args.command in {"publish", "unpublish"}:
            print(asyncio.run(_run_publishing(settings, args)))
            return 0
        summary = asyncio.run(_run_process(settings, _request(args)))
    except ReplayError as exc:
        print(f"replay: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("replay: interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    _report(summary, settings, args.json)
    log.info("done in %.1f s", time.monotonic() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
