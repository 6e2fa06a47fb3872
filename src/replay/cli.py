"""The `replay` command; the only place argv and the environment are read.

What people read (help, progress, results, errors) is French; ``--json`` gives scripts a
stable shape instead.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import json
import logging
import re
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Final, NoReturn, TextIO

from replay import __version__
from replay.domain.errors import ReplayError
from replay.jobs.context import Context, Lanes, WorkContext
from replay.jobs.factory import describe_backend, open_queue
from replay.jobs.pipeline import JobSummary, ProcessRequest, process, publish, unpublish
from replay.jobs.runner import run_worker
from replay.jobs.scratch import data_dir_in_use
from replay.jobs.tasks import QUEUES, ingest_recording, whisper_for
from replay.locale import N_, _, describe, format_seconds, ngettext
from replay.services.admission import EXAMPLE, ROOM, STARTED_AT, parse_started_at
from replay.services.errors import Refused, ServiceError
from replay.services.programmes import read_programme
from replay.services.publication import publication_warnings
from replay.settings import Settings, load_settings, s3_example
from replay.storage.factory import describe as describe_target
from replay.storage.factory import object_store_for
from replay.store.factory import open_store
from replay.store.ports import InPlace
from replay.store.users import User, Users

log = logging.getLogger("replay")

NBSP = "\u00a0"
DESCRIPTION = N_("replay turns a room's recording into published replays: one per session of "
                 "the programme, each with its video streamed in HLS and in MP4, its "
                 "transcript, its French and English subtitles, and its pages for the public.")

#: What people read of each pipeline stage's progress (the stage ids are the code's); the
#: names and every sentence below come from the French catalogue (`replay.locale`).
STAGE_NAMES = {
    "ingest": N_("copy"), "audio": N_("audio"), "speech map": N_("speech"),
    "speech_map": N_("speech"), "transcode": N_("video"), "media": N_("video"),
    "transcribe fr": N_("transcription"), "translate en": N_("translation"),
    "speech": N_("subtitles"), "publish": N_("publication"),
}

#: argparse's own messages (the patterns are argparse's English wording), in French.
ARGPARSE_MESSAGES = (
    (r"the following arguments are required: (.*)", N_("missing required arguments: {0}")),
    (r"unrecognized arguments: (.*)", N_("unknown arguments: {0}")),
    (r"argument (\S+): invalid choice: (.*?) \(choose from (.*)\)",
     N_("argument {0}: invalid choice {1} (possible: {2})")),
    (r"argument (\S+): expected one argument", N_("argument {0}: a value is expected")),
    (r"argument (\S+): invalid (\w+) value: (.*)", N_("argument {0}: invalid value {2}")),
    (r"argument (\S+): (.*)", N_("argument {0}: {1}")),
)


def french_argparse_message(message: str) -> str:
    for pattern, french in ARGPARSE_MESSAGES:
        match = re.fullmatch(pattern, message)
        if match:
            return typography(_(french).format(*match.groups()))
    return message


def typography(text: str) -> str:
    """No-break spaces before « : ; ? ! » and inside « » (help texts are typed plainly)."""
    text = re.sub(r" ([:;?!»])", NBSP + r"\1", text)
    return text.replace("« ", "«" + NBSP)


class FrenchHelp(argparse.HelpFormatter):
    def add_usage(self, usage: str | None, actions: Any, groups: Any,
                  prefix: str | None = None) -> None:
        super().add_usage(usage, actions, groups,
                          _("usage: ") if prefix is None else prefix)

    def _expand_help(self, action: argparse.Action) -> str:
        return typography(super()._expand_help(action))

    def _format_text(self, text: str) -> str:
        return typography(super()._format_text(text))


class Parser(argparse.ArgumentParser):
    """argparse in French: usage, section titles, -h and errors."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", FrenchHelp)
        kwargs["add_help"] = False
        super().__init__(*args, **kwargs)
        # argparse adds the colon
        self._positionals.title = _("positional arguments") + NBSP
        self._optionals.title = _("options") + NBSP
        self.add_argument("-h", "--help", action="help", default=argparse.SUPPRESS,
                          help=_("show this help and exit"))

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        error = _("replay: error: {message}").format(message=french_argparse_message(message))
        self.exit(2, f"{error}\n")


class TerminalProgress:
    """Progress per stage on stderr: one updating line on a terminal, milestones otherwise."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.live = stream.isatty()
        self.milestones: dict[tuple[str, str], int] = {}

    def report(self, stage: str, label: str, fraction: float, eta: float | None) -> None:
        percent = int(fraction * 100)
        line = f"{_stage(stage):<14} {label[:40]:<40} {percent:3d}\u00a0%"
        if eta is not None:
            line += "  " + _("{eta} left").format(eta=_eta(eta))
        if self.live:
            self.stream.write(f"\r\x1b[2K{line}")
        elif percent // 25 > self.milestones.get((stage, label), -1):
            self.milestones[(stage, label)] = percent // 25
            self.stream.write(line + "\n")
        self.stream.flush()

    def finished(self, stage: str, label: str, seconds: float, skipped: bool) -> None:
        status = (_("already done") if skipped
                  else _("done in {seconds}").format(seconds=format_seconds(seconds)))
        prefix = "\r\x1b[2K" if self.live else ""
        name = _stage(stage)
        self.stream.write(f"{prefix}{name:<14} {label[:40]:<40} {status}\n")
        self.stream.flush()


def _stage(stage: str) -> str:
    return _(STAGE_NAMES[stage]) if stage in STAGE_NAMES else stage


def _eta(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}\u00a0min {secs:02d}\u00a0s" if minutes else f"{secs}\u00a0s"


def _started_at(text: str) -> datetime | None:
    """``--started-at``, read by the service's parser (blank: not given); its refusal
    becomes the error argparse reports."""
    try:
        return parse_started_at(text)
    except Refused as refusal:
        raise argparse.ArgumentTypeError(refusal.message) from refusal


Commands = argparse._SubParsersAction  # type of `add_subparsers()`' result


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="replay", description=_(DESCRIPTION))
    parser.add_argument("--version", action="version", version=f"replay {__version__}",
                        help=_("show the version and exit"))
    parser.add_argument("--config", type=Path, metavar=_("FILE"),
                        help=_("a TOML settings file (see config/replay.toml)"))
    parser.add_argument("--data-dir", type=Path, metavar=_("FOLDER"),
                        help=_("where the state, the originals and the site live (by default "
                               "./replay-data, or REPLAY_DATA_DIR)"))
    parser.add_argument("-v", "--verbose", action="store_true",
                        help=_("log each command run"))
    commands = parser.add_subparsers(dest="command", required=True, metavar=_("COMMAND"),
                                     title=_("commands") + NBSP, parser_class=Parser)
    _add_process(commands)
    _add_demo(commands)
    _add_publish(commands)
    _add_unpublish(commands)
    _add_serve(commands)
    _add_worker(commands)
    _add_ingest(commands)
    _add_user(commands)
    _add_live(commands)
    return parser


JSON_HELP = N_("write the result as JSON on the standard output (for scripts)")


def _add_process(commands: Commands[Parser]) -> None:
    sub = commands.add_parser(
        "process", help=_("process a room's recording up to the published replays"),
        description=_("Import the programme, receive the recording, cut it into one replay "
                      "per session of the room, encode, transcribe, subtitle and publish in "
                      "DATA_DIR/site/. Run again, the command only redoes what changed. "
                      "Running it is the decision to publish, except with --review."))
    _add_recording_arguments(sub)
    sub.add_argument("--review", action="store_true",
                     help=_("stop before publishing, so that the subtitles are reviewed"))
    sub.add_argument("--json", action="store_true", help=_(JSON_HELP))


def _add_recording_arguments(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("recording", type=Path, metavar=_("RECORDING"),
                     help=_("the room's recording (a video or audio file)"))
    sub.add_argument("--schedule", type=Path, required=True, metavar=_("SCHEDULE"),
                     help=_("the programme: schedule.json (c3voc/pretalx), schedule.xml (frab) "
                            "or iCal .ics"))
    sub.add_argument("--room", required=True, metavar=_("ROOM"),
                     help=_("the programme's room this recording comes from"))
    sub.add_argument("--started-at", type=_started_at, metavar=_("START"),
                     help=_("start of the recording by the clock, with its time zone, for "
                            "example {example} (by default: the file's creation_time)"
                            ).format(example=EXAMPLE))


def _add_demo(commands: Commands[Parser]) -> None:
    sub = commands.add_parser(
        "demo", help=_("create a sample event (French speech, test video) and process it"),
        description=_("Create the 3 min 30 recording of a room with two sessions in French, "
                      "a late start and a silent break, with its programme, then run {command} "
                      "on it.").format(command="`replay process`"))
    sub.add_argument("--out", type=Path, default=Path("replay-sample"), metavar=_("FOLDER"),
                     help=_("where to write the sample recording and programme"))
    sub.add_argument("--json", action="store_true", help=_(JSON_HELP))
    sub.add_argument("--live", action="store_true",
                     help=_("put a room live instead: a generated broadcaster sends a test "
                            "pattern and French speech for two minutes over RTMP, with a "
                            "programme set on the current time; shows the live page's address"))


TO_HELP = N_("where to publish: {s3} (endpoint and region: settings s3_endpoint_url and "
             "s3_region; credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or "
             "AWS_PROFILE) or a folder (by default: DATA_DIR/site)")
EVENT_HELP = N_("the event's identifier (slug)")


def _add_publish(commands: Commands[Parser]) -> None:
    sub = commands.add_parser(
        "publish", help=_("publish an event's processed sessions and its index"),
        description=_("Send an event's processed sessions (media, then playlists, then pages, "
                      "the index last) to a folder or an S3 bucket. Only the objects that "
                      "changed are sent. Running it is the decision to publish every "
                      "processed session; those withdrawn with {unpublish} stay withdrawn, "
                      "unless --session names them.").format(unpublish="`replay unpublish`"))
    sub.add_argument("event", metavar=_("EVENT"), help=_(EVENT_HELP))
    sub.add_argument("--to", metavar=_("TARGET"), help=_(TO_HELP).format(s3=s3_example()))
    sub.add_argument("--session", action="append", default=[], metavar=_("GUID_OR_SLUG"),
                     help=_("publish this session again after a {unpublish} (repeatable)"
                            ).format(unpublish="`replay unpublish`"))
    sub.add_argument("--json", action="store_true", help=_(JSON_HELP))


def _add_unpublish(commands: Commands[Parser]) -> None:
    sub = commands.add_parser(
        "unpublish", help=_("withdraw a session from the site and update the index"),
        description=_("Publish the event's index without the session, then delete its "
                      "objects. {command} puts it back online.").format(
                          command="`replay publish EVENEMENT --session GUID`"))
    sub.add_argument("event", metavar=_("EVENT"), help=_(EVENT_HELP))
    sub.add_argument("session", metavar=_("GUID_OR_SLUG"), help=_("the session's guid or slug"))
    sub.add_argument("--to", metavar=_("TARGET"), help=_(TO_HELP).format(s3=s3_example()))
    sub.add_argument("--json", action="store_true", help=_(JSON_HELP))


BACKENDS_NOTE = N_("The setting database_url (REPLAY_DATABASE_URL) chooses where the state "
                   "(events, recordings, subtitles, accounts) and the jobs go: the SQLite file "
                   "of the data folder by default, or PostgreSQL ({postgresql}, the jobs by "
                   "procrastinate). The setting object_store_url (REPLAY_OBJECT_STORE_URL) "
                   "chooses where the published sites go (a local folder, or an S3 bucket). "
                   "The files (originals, work) stay in the data folder: the API and the "
                   "workers must share it (one machine, or a shared volume).")


def _backends_note() -> str:
    return _(BACKENDS_NOTE).format(postgresql="postgresql://…")


def _add_serve(commands: Commands[Parser]) -> None:
    sub = commands.add_parser(
        "serve", help=_("run the service: HTTP API, pages, published site and processing"),
        description=_("Serve the health and metrics endpoints, the pages and the published "
                      "site (under /site/), and run the processing jobs and the live. SIGTERM "
                      "or Ctrl-C stops it cleanly: no new job is taken and those running "
                      "finish or are given back. With --no-workers, only the API and the "
                      "pages: {workers} run the jobs.").format(workers="`replay worker`")
        + " " + _backends_note())
    sub.add_argument("--host", metavar=_("ADDRESS"),
                     help=_("address to listen on (by default: the setting host)"))
    sub.add_argument("--port", type=int,
                     help=_("port to listen on (by default: the setting port)"))
    sub.add_argument("--workers", default=",".join(QUEUES), metavar=_("QUEUES"),
                     help=_("queues of jobs to run, separated by commas (by default: {queues}; "
                            "empty: serve only)").format(queues=",".join(QUEUES)))
    sub.add_argument("--no-workers", action="store_true",
                     help=_("serve the API and the pages only, without jobs or live ({workers} "
                            "take them)").format(workers="`replay worker`"))


WORKER_QUEUES = (*QUEUES, "live")


def _concurrency(text: str) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(_("“{text}” is not a whole number").format(
            text=text)) from exc
    if value < 1:
        raise argparse.ArgumentTypeError(_("at least 1 job at a time is needed, not {value}"
                                           ).format(value=value))
    return value


def _add_worker(commands: Commands[Parser]) -> None:
    sub = commands.add_parser(
        "worker", help=_("run the jobs of a queue (media, speech, publish) or the live"),
        description=_("Run the jobs of a queue, to spread the processing over several "
                      "processes or machines beside a {serve}. media: analysis and encoding; "
                      "speech: transcription and translation (Whisper, on GPU with "
                      "{cuda}); publish: publication; live: the reception of the live (RTMP "
                      "and SRT) and its HTTP endpoints, on the setting port's port. SIGTERM or "
                      "Ctrl-C stops it cleanly.").format(
                          serve="`replay serve --no-workers`",
                          cuda='whisper_device = "cuda"')
        + " " + _backends_note())
    sub.add_argument("--queue", required=True, choices=WORKER_QUEUES, metavar=_("QUEUE"),
                     help=_("the queue to run: {queues}").format(
                         queues=", ".join(WORKER_QUEUES)))
    sub.add_argument("--concurrency", type=_concurrency, default=1, metavar="N",
                     help=_("jobs run at the same time by this process (by default: 1)"))
    sub.add_argument("--health-file", type=Path, metavar=_("FILE"),
                     help=_("touch this file each time the queue answers (a container's "
                            "health probe: it must be recent)"))


def _add_ingest(commands: Commands[Parser]) -> None:
    sub = commands.add_parser(
        "ingest", help=_("hand a room's recording over to a running {serve}").format(
            serve="`replay serve`"),
        description=_("Import the programme, check and receive the recording (copied and "
                      "checked in the data folder), then queue its processing. A {serve} on "
                      "the same data folder does the rest; the event's publication rule "
                      "applies.").format(serve="`replay serve`"))
    _add_recording_arguments(sub)
    sub.add_argument("--json", action="store_true", help=_(JSON_HELP))
    sub.set_defaults(review=False)


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from aiohttp import web

    from replay.web.app import create_app

    settings = dataclasses.replace(settings, host=args.host or settings.host,
                                   port=settings.port if args.port is None else args.port)
    queues = ([] if args.no_workers
              else [name.strip() for name in args.workers.split(",") if name.strip()])
    unknown = sorted(set(queues) - set(QUEUES))
    if unknown:
        raise ReplayError(_("unknown job queue(s): {unknown}; choose among {queues}").format(
            unknown=", ".join(unknown), queues=",".join(QUEUES)))
    logging.getLogger("replay").setLevel(logging.DEBUG if args.verbose else logging.INFO)
    print(f"replay serve{NBSP}: http://{settings.host}:{settings.port}/ {NBSP}; "
          f"{describe_backend(settings)}", file=sys.stderr, flush=True)
    app = create_app(settings, worker_queues=queues, run_workers=not args.no_workers)
    app.on_startup.append(_freeze_startup_objects)
    web.run_app(app, host=settings.host,
                port=settings.port, print=None, access_log=None)
    return 0


async def _freeze_startup_objects(app: object) -> None:
    """What start-up created (modules, templates, the app's resources) lives as long as the
    server: out of the collector's sight, a full collection under load no longer scans it
    (tens of milliseconds of the event loop each time)."""
    gc.freeze()


def _worker(args: argparse.Namespace, settings: Settings) -> int:
    logging.getLogger("replay").setLevel(logging.DEBUG if args.verbose else logging.INFO)
    if args.queue == "live":
        from aiohttp import web

        from replay.web.app import create_app

        if not settings.live_enabled:
            raise ReplayError(_("the live is disabled (setting live_enabled): enable it to run "
                                "{command}").format(command="`replay worker --queue live`"))
        print(f"replay worker live{NBSP}: http://{settings.host}:{settings.port}/ {NBSP}; "
              f"{describe_backend(settings)}", file=sys.stderr, flush=True)
        web.run_app(create_app(settings, worker_queues=()), host=settings.host,
                    port=settings.port, print=None, access_log=None)
        return 0
    print(ngettext("replay worker {queue}: {n} job at a time; {backend}",
                   "replay worker {queue}: {n} jobs at a time; {backend}",
                   args.concurrency).format(queue=args.queue, n=args.concurrency,
                                            backend=describe_backend(settings)),
          file=sys.stderr, flush=True)
    asyncio.run(run_worker(settings, args.queue, concurrency=args.concurrency,
                           health_file=args.health_file))
    return 0


async def _run_ingest(settings: Settings, request: ProcessRequest) -> tuple[int, int]:
    store = open_store(settings)
    queue = await open_queue(settings)
    try:
        ctx = WorkContext(settings=settings, db=InPlace(store),
                          objects=object_store_for(None, settings),
                          progress=TerminalProgress(sys.stderr))
        recording, job = await ingest_recording(ctx, queue, request)
        return recording.id, job
    finally:
        await queue.close()
        store.close()


def _ingest(args: argparse.Namespace, settings: Settings) -> int:
    recording, job = asyncio.run(_run_ingest(settings, _request(args)))
    if args.json:
        _print_json({"recording": recording, "job": job})
    else:
        print(_("Recording {recording} added; analysis queued (job {job}). {serve} (or {worker}) "
                "processes it.").format(recording=recording, job=job, serve="`replay serve`",
                                        worker="`replay worker --queue media`"))
    return 0


def _print_json(data: object) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2))


async def _run_publishing(settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    objects = object_store_for(args.to, settings)
    if not settings.uses_postgresql and not settings.database_path.is_file():
        raise ReplayError(_("no replay data in {folder}: process a recording first (replay "
                            "process), or give --data-dir").format(folder=settings.data_dir))
    store = open_store(settings)
    try:
        event = store.load_event(args.event)
        if event is None:
            known = ", ".join(store.event_slugs()) or _("none yet")
            raise ReplayError(_("unknown event “{slug}”; known events: {known}").format(
                slug=args.event, known=known))
        ctx = WorkContext(settings=settings, db=InPlace(store), objects=objects,
                          progress=TerminalProgress(sys.stderr))
        index = f"{describe_target(args.to, settings).rstrip('/')}/{event.slug}/index.html"
        if args.command == "publish":  # the organiser's command is the decision to publish
            every = [cut.guid for r in store.recordings_of(event.slug)
                     for cut in store.load_cuts(r.id)]
            await publish(ctx, event, decided=every, republish=args.session)
            return {"event": event.slug, "index": index,
                    "warnings": publication_warnings(settings)}
        slugs = await unpublish(ctx, event, args.session)
        return {"event": event.slug, "index": index, "withdrawn": slugs}
    finally:
        store.close()
        close = getattr(objects, "close", None)
        if close is not None:
            close()


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(args.config, data_dir=args.data_dir)


async def _run_process(settings: Settings, request: ProcessRequest) -> JobSummary:
    store = open_store(settings)
    ctx = Context(settings=settings, db=InPlace(store),
                  objects=object_store_for(None, settings),
                  transcriber=whisper_for(settings),
                  lanes=Lanes.for_threads(settings.cpu_threads),
                  progress=TerminalProgress(sys.stderr), alone=True)
    try:
        return await process(ctx, request)
    finally:
        store.close()


def _request(args: argparse.Namespace) -> ProcessRequest:
    try:
        programme = args.schedule.read_bytes()
    except OSError as exc:
        raise ReplayError(_("programme {path} unreadable: {reason}").format(
            path=args.schedule, reason=exc.strerror)) from exc
    if not args.recording.is_file():
        raise ReplayError(_("{path} does not exist or is not a file").format(path=args.recording))
    event = read_programme(programme, args.schedule.name)
    return ProcessRequest(args.recording, event, args.room, args.started_at, args.review)


def _published_text(args: argparse.Namespace, result: dict[str, Any]) -> str:
    if args.command == "publish":
        return "\n".join([_("Published: {where}").format(where=result["index"]),
                          *(_("Warning: {warning}").format(warning=warning)
                            for warning in result["warnings"])])
    return _("Withdrawn: {sessions}; index updated: {where}").format(
        sessions=", ".join(result["withdrawn"]), where=result["index"])


def _report(summary: JobSummary, settings: Settings, as_json: bool) -> None:
    if as_json:
        print(summary.as_json())
        return
    for result in summary.sessions:
        print(_("“{title}”: {start}–{end} s").format(title=result.title,
                                                     start=f"{result.start:.1f}",
                                                     end=f"{result.end:.1f}"))
    if summary.site and settings.object_store_url:
        print(_("Published: {where}").format(
            where=f"{settings.object_store_url.rstrip('/')}/{summary.site}/index.html"))
    elif summary.site:
        index = (settings.site_dir / summary.site / "index.html").resolve()
        print(_("Published: {where}").format(where=index))
    else:
        print(_("Processing finished; nothing is published (--review)."))
    if summary.site:
        for warning in publication_warnings(settings):
            print(_("Warning: {warning}").format(warning=warning))


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from replay.sample import build_sample

    if args.live:
        from replay.live.demo import run_demo

        logging.getLogger("replay").setLevel(logging.DEBUG if args.verbose else logging.INFO)
        return asyncio.run(run_demo(settings, args.out))

    print(_("Creating the sample event in {folder}…").format(folder=args.out), file=sys.stderr)
    truth = build_sample(args.out)
    request = ProcessRequest(truth.recording, read_programme(truth.schedule.read_bytes()),
                             truth.room, truth.started_at)
    summary = asyncio.run(_run_process(settings, request))
    _report(summary, settings, args.json)
    return 0


def _add_user(commands: Commands[Parser]) -> None:
    sub = commands.add_parser(
        "user", help=_("manage the accounts (organisers, editors) and the API tokens"),
        description=_("Create the login accounts and the scripts' API tokens. The password is "
                      "asked twice in the terminal, or read from the environment variable "
                      "REPLAY_NEW_PASSWORD (for scripts); never as an argument."))
    actions = sub.add_subparsers(dest="user_command", required=True, metavar=_("ACTION"),
                                 title=_("actions") + NBSP, parser_class=Parser)
    add = actions.add_parser("add", help=_("create an account"),
                             description=_("Create an account. Organisers do everything on "
                                           "their events; editors correct the subtitles."))
    add.add_argument("email", metavar=_("ADDRESS"), help=_("the login address"))
    add.add_argument("--name", required=True, metavar=_("NAME"),
                     help=_("the name shown in the pages"))
    add.add_argument("--role", required=True, choices=["organiser", "editor"],
                     help=_("organiser or editor"))
    add.add_argument("--event", action="append", default=[], metavar="SLUG",
                     help=_("limit the account to this event (repeatable; by default: all)"))
    add.add_argument("--json", action="store_true", help=_(JSON_HELP))
    token = actions.add_parser("token", help=_("show a new API token, once"),
                               description=_("Show a new API token, to send as {header}. Only "
                                             "its digest is kept: it cannot be shown again."
                                             ).format(header="`Authorization: Bearer " +
                                                      _("TOKEN") + "`"))
    token.add_argument("email", metavar=_("ADDRESS"), help=_("the account's address"))
    token.add_argument("--label", required=True, metavar=_("LABEL"),
                       help=_("what the token is for, for example a script"))
    token.add_argument("--days", type=float, metavar=_("DAYS"),
                       help=_("number of days the token is valid (by default: the setting "
                              "token_days)"))
    token.add_argument("--json", action="store_true", help=_(JSON_HELP))
    tokens = actions.add_parser("tokens", help=_("list an account's API tokens"),
                                description=_("List the account's tokens: number, label, dates "
                                              "and state (active, revoked, expired)."))
    tokens.add_argument("email", metavar=_("ADDRESS"), help=_("the account's address"))
    revoke = actions.add_parser("revoke", help=_("revoke an API token for good"),
                                description=_("Revoke a token by its number (see {tokens}): "
                                              "the scripts that use it are refused at once."
                                              ).format(tokens="`replay user tokens`"))
    revoke.add_argument("token_id", type=int, metavar=_("NUMBER"), help=_("the token's number"))
    disable = actions.add_parser("disable", help=_("deactivate an account (or reactivate it)"),
                                 description=_("A deactivated account can no longer log in, its "
                                               "open sessions end and its tokens stop working."))
    disable.add_argument("email", metavar=_("ADDRESS"), help=_("the account's address"))
    disable.add_argument("--undo", action="store_true", help=_("reactivate the account"))


def _user(args: argparse.Namespace, settings: Settings) -> int:
    from replay.web.auth import users_for

    store = open_store(settings)
    try:
        users = users_for(store.db, settings)
        if args.user_command == "add":
            user = users.add(args.email, args.name, args.role, _new_password(),
                             event_slugs=args.event)
            if args.json:
                _print_json({"email": user.email, "role": str(user.role), "id": user.id})
            else:
                print(_("Account created: {email} ({role})").format(email=user.email,
                                                                    role=user.role))
            return 0
        USER_ACTIONS[args.user_command](users, args)
        return 0
    finally:
        store.close()


def _account(users: Users, email: str) -> User:
    from replay.store.users import AccountError

    found = next((u for u in users.all() if u.email.casefold() == email.strip().casefold()),
                 None)
    if found is None:
        raise AccountError(_("No account for the address {email}: check it, or create it "
                             "(replay user add).").format(email=email))
    return found


def _user_token(users: Users, args: argparse.Namespace) -> None:
    found = _account(users, args.email)
    seconds = None if args.days is None else args.days * 86400.0
    token = users.create_token(found.id, args.label, seconds=seconds)
    if args.json:
        _print_json({"email": found.email, "label": args.label, "token": token})
    else:
        print(token)
    print(_("Keep this token: it will not be shown again."), file=sys.stderr)


def _user_tokens(users: Users, args: argparse.Namespace) -> None:
    found = _account(users, args.email)
    listed = users.tokens_of(found.id)
    if not listed:
        print(_("No token for {email}.").format(email=found.email))
    now = time.time()
    for token in listed:
        print(_("No. {number}\t“{label}”\tcreated on {created}\texpires on {expires}\t{state}"
                ).format(number=token.id, label=token.label, created=_day(token.created_at),
                         expires=_day(token.expires_at), state=_(token.state(now))))


def _day(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp).astimezone().strftime("%d/%m/%Y %H:%M")


def _user_revoke(users: Users, args: argparse.Namespace) -> None:
    from replay.store.users import AccountError

    token = users.token(args.token_id)
    if token is None:
        raise AccountError(_("No token No. {number}: see the list (replay user tokens "
                             "ADDRESS).").format(number=args.token_id))
    if not users.revoke_token(token.id):
        print(_("Token No. {number} was already revoked.").format(number=token.id))
        return
    print(_("Token No. {number} (“{label}”) revoked.").format(number=token.id,
                                                              label=token.label))


def _user_disable(users: Users, args: argparse.Namespace) -> None:
    found = _account(users, args.email)
    users.set_disabled(found.id, not args.undo)
    if args.undo:
        print(_("Account reactivated: {email}").format(email=found.email))
    else:
        print(_("Account deactivated: {email}; its sessions are closed and its tokens refused."
                ).format(email=found.email))


USER_ACTIONS: dict[str, Callable[[Users, argparse.Namespace], None]] = {
    "token": _user_token, "tokens": _user_tokens, "revoke": _user_revoke,
    "disable": _user_disable}


def _new_password() -> str:
    import getpass
    import os

    from replay.domain.passwords import PasswordError, check_new_password

    given = os.environ.get("REPLAY_NEW_PASSWORD")
    if given is not None:
        return given
    first = getpass.getpass(_("Password (12 characters at least): "))
    check_new_password(first)
    if getpass.getpass(_("The same, a second time: ")) != first:
        raise PasswordError(_("The two entries of the password differ."))
    return first


def _add_live(commands: Commands[Parser]) -> None:
    sub = commands.add_parser(
        "live", help=_("the live's streaming keys: list, regenerate, revoke"),
        description=_("Each room of an event gets an RTMP URL with its stream key and an SRT "
                      "URL with its passphrase, for OBS, vMix or a hardware encoder. A running "
                      "{serve} takes the changes into account within a few seconds.").format(
                          serve="`replay serve`"))
    actions = sub.add_subparsers(dest="live_command", required=True, metavar=_("ACTION"),
                                 title=_("actions") + NBSP, parser_class=Parser)
    keys = actions.add_parser("keys", help=_("show the URLs and keys of each room (creating "
                                             "those missing)"))
    keys.add_argument("event", metavar=_("EVENT"), help=_(EVENT_HELP))
    for name, what in (("regenerate", _("replace a room's key and passphrase (the old ones "
                                        "stop working)")),
                       ("revoke", _("revoke a room's key: no encoder can stream there any "
                                    "more"))):
        action = actions.add_parser(name, help=what, description=what)
        action.add_argument("event", metavar=_("EVENT"), help=_(EVENT_HELP))
        action.add_argument("room", metavar=_("ROOM"), help=_("the room's name in the programme"))


def _live(args: argparse.Namespace, settings: Settings) -> int:
    from replay.live.cli import live_command

    print(live_command(settings, args.live_command, args.event, getattr(args, "room", None)))
    return 0


SERVICE_COMMANDS: dict[str, Callable[[argparse.Namespace, Settings], int]] = {
    "serve": _serve, "ingest": _ingest, "worker": _worker}
SERVICE_COMMANDS["user"] = _user
SERVICE_COMMANDS["live"] = _live


#: The option that says what a service refusal's field is about.
_OPTIONS: Final = {STARTED_AT: "--started-at", ROOM: "--room"}


def _with_option(error: ReplayError) -> str:
    """The error's message; a service refusal about a field names the option to use."""
    option = _OPTIONS.get(error.field or "") if isinstance(error, ServiceError) else None
    message = describe(error)
    return f"{message} (option {option})" if option else message


#: The commands that write the data directory whatever happens (a failed `publish` or
#: `user` command creates nothing there).
WRITES_DATA = frozenset({"serve", "worker", "process", "ingest", "demo"})


def _works_on_jobs(args: argparse.Namespace) -> bool:
    """A `replay worker` of a job queue: it may sweep its data directory's scratch."""
    return bool(args.command == "worker" and args.queue != "live")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    started = time.monotonic()
    try:
        settings = _settings(args)
        with data_dir_in_use(settings.data_dir, sweep=_works_on_jobs(args),
                             create=args.command in WRITES_DATA):
            if args.command == "demo":
                return _demo(args, settings)
            if args.command in SERVICE_COMMANDS:
                return SERVICE_COMMANDS[args.command](args, settings)
            if args.command in {"publish", "unpublish"}:
                result = asyncio.run(_run_publishing(settings, args))
                if args.json:
                    _print_json(result)
                else:
                    print(_published_text(args, result))
                return 0
            summary = asyncio.run(_run_process(settings, _request(args)))
    except ReplayError as exc:
        print(_("replay: error: {message}").format(message=_with_option(exc)), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(_("replay: interrupted; run the same command again to resume"), file=sys.stderr)
        return 130
    _report(summary, settings, args.json)
    log.info("done in %.1f s", time.monotonic() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
