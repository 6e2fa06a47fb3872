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
from replay.jobs.tasks import QUEUES, ingest_recording, whisper_for
from replay.locale import N_, _, format_seconds
from replay.services.admission import ROOM, STARTED_AT
from replay.services.errors import ServiceError
from replay.services.programmes import read_programme
from replay.services.publication import publication_warnings
from replay.settings import Settings, load_settings
from replay.storage.factory import describe as describe_target
from replay.storage.factory import object_store_for
from replay.store.factory import open_store
from replay.store.ports import InPlace
from replay.store.users import User, Users

log = logging.getLogger("replay")

NBSP = "\u00a0"
DESCRIPTION = """\
replay fait d’un enregistrement de salle des replays publiés : un par séance du programme,
chacun avec sa vidéo en streaming HLS et en MP4, sa transcription, ses sous-titres français
et anglais, et ses pages pour le public.
"""

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


def _started_at(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            _("“{text}” is not an ISO 8601 date and time: write for example "
              "2026-03-03T09:28:00+01:00").format(text=text)) from exc
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(
            _("“{text}” has no time zone: write for example 2026-03-03T09:28:00+01:00"
              ).format(text=text))
    return value


Commands = argparse._SubParsersAction  # type of `add_subparsers()`' result


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="replay", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"replay {__version__}",
                        help="afficher la version et quitter")
    parser.add_argument("--config", type=Path, metavar="FICHIER",
                        help="un fichier de réglages TOML (voir config/replay.toml)")
    parser.add_argument("--data-dir", type=Path, metavar="DOSSIER",
                        help="où vivent l’état, les originaux et le site (par défaut "
                             "./replay-data, ou REPLAY_DATA_DIR)")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="journaliser chaque commande lancée")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMANDE",
                                     title=f"commandes{NBSP}", parser_class=Parser)
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


JSON_HELP = "écrire le résultat en JSON sur la sortie standard (pour les scripts)"


def _add_process(commands: Commands[Parser]) -> None:
    sub = commands.add_parser(
        "process", help="traiter l’enregistrement d’une salle jusqu’aux replays publiés",
        description="Importer le programme, recevoir l’enregistrement, le découper en un "
                    "replay par séance de la salle, encoder, transcrire, sous-titrer et "
                    "publier dans DATA_DIR/site/. Relancée, la commande ne refait que ce qui "
                    "a changé. La lancer est la décision de publier, sauf avec --review.")
    _add_recording_arguments(sub)
    sub.add_argument("--review", action="store_true",
                     help="s’arrêter avant de publier, pour que les sous-titres soient relus")
    sub.add_argument("--json", action="store_true", help=JSON_HELP)


def _add_recording_arguments(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("recording", type=Path, metavar="ENREGISTREMENT",
                     help="l’enregistrement de la salle (fichier vidéo ou audio)")
    sub.add_argument("--schedule", type=Path, required=True, metavar="PROGRAMME",
                     help="le programme : schedule.json (c3voc/pretalx), schedule.xml (frab) "
                          "ou iCal .ics")
    sub.add_argument("--room", required=True, metavar="SALLE",
                     help="la salle du programme d’où vient cet enregistrement")
    sub.add_argument("--started-at", type=_started_at, metavar="DEBUT",
                     help="début de l’enregistrement à l’horloge, avec son fuseau, par exemple "
                          "2026-03-03T09:28:00+01:00 (par défaut : le creation_time du fichier)")


def _add_demo(commands: Commands[Parser]) -> None:
    sub = commands.add_parser(
        "demo", help="créer un évènement d’exemple (parole française, vidéo de test) et le "
                     "traiter",
        description="Créer l’enregistrement de 3 min 30 d’une salle avec deux séances en "
                    "français, un début en retard et une pause silencieuse, avec son "
                    "programme, puis lancer `replay process` dessus.")
    sub.add_argument("--out", type=Path, default=Path("replay-sample"), metavar="DOSSIER",
                     help="où écrire l’enregistrement et le programme d’exemple")
    sub.add_argument("--json", action="store_true", help=JSON_HELP)
    sub.add_argument("--live", action="store_true",
                     help="mettre une salle en direct à la place : un diffuseur généré envoie "
                          "une mire et de la parole française pendant deux minutes en RTMP, "
                          "avec un programme calé sur l’heure actuelle ; affiche l’adresse de "
                          "la page du direct")


TO_HELP = ("où publier : s3://BUCKET/PREFIXE (point d’accès et région : réglages "
           "s3_endpoint_url et s3_region ; identifiants : AWS_ACCESS_KEY_ID et "
           "AWS_SECRET_ACCESS_KEY, ou AWS_PROFILE) ou un dossier (par défaut : DATA_DIR/site)")


def _add_publish(commands: Commands[Parser]) -> None:
    sub = commands.add_parser(
        "publish", help="publier les séances traitées d’un évènement et son index",
        description="Envoyer les séances traitées d’un évènement (médias, puis listes de "
                    "lecture, puis pages, l’index en dernier) vers un dossier ou un bucket S3. "
                    "Seuls les objets qui ont changé sont envoyés. La lancer est la décision "
                    "de publier toutes les séances traitées ; celles retirées avec `replay "
                    "unpublish` restent retirées, sauf si --session les nomme.")
    sub.add_argument("event", metavar="EVENEMENT", help="l’identifiant (slug) de l’évènement")
    sub.add_argument("--to", metavar="CIBLE", help=TO_HELP)
    sub.add_argument("--session", action="append", default=[], metavar="GUID_OU_SLUG",
                     help="republier cette séance après un `replay unpublish` (répétable)")
    sub.add_argument("--json", action="store_true", help=JSON_HELP)


def _add_unpublish(commands: Commands[Parser]) -> None:
    sub = commands.add_parser(
        "unpublish", help="retirer une séance du site et mettre l’index à jour",
        description="Publier l’index de l’évènement sans la séance, puis supprimer ses "
                    "objets. `replay publish EVENEMENT --session GUID` la remet en ligne.")
    sub.add_argument("event", metavar="EVENEMENT", help="l’identifiant (slug) de l’évènement")
    sub.add_argument("session", metavar="GUID_OU_SLUG", help="le guid ou le slug de la séance")
    sub.add_argument("--to", metavar="CIBLE", help=TO_HELP)
    sub.add_argument("--json", action="store_true", help=JSON_HELP)


BACKENDS_NOTE = ("Le réglage database_url (REPLAY_DATABASE_URL) choisit où vont l’état "
                 "(évènements, enregistrements, sous-titres, comptes) et les travaux : le "
                 "fichier SQLite du dossier de données par défaut, ou PostgreSQL "
                 "(postgresql://…, les travaux par procrastinate). Le réglage "
                 "object_store_url (REPLAY_OBJECT_STORE_URL) choisit où vont les sites "
                 "publiés (dossier local, ou bucket S3). Les fichiers (originaux, travail) "
                 "restent dans le dossier de données : l’API et les workers doivent le "
                 "partager (une machine, ou un volume partagé).")


def _add_serve(commands: Commands[Parser]) -> None:
    sub = commands.add_parser(
        "serve", help="lancer le service : API HTTP, pages, site publié et traitements",
        description="Servir les points de santé et de métriques, les pages et le site publié "
                    "(sous /site/), et exécuter les travaux du traitement et le direct. "
                    "SIGTERM ou Ctrl-C l’arrête proprement : aucun "
                    "nouveau travail n’est pris et ceux en cours finissent ou sont rendus. "
                    "Avec --no-workers, seulement l’API et les pages : des `replay worker` "
                    "exécutent les travaux. " + BACKENDS_NOTE)
    sub.add_argument("--host", metavar="ADRESSE",
                     help="adresse d’écoute (par défaut : le réglage host)")
    sub.add_argument("--port", type=int, help="port d’écoute (par défaut : le réglage port)")
    sub.add_argument("--workers", default=",".join(QUEUES), metavar="FILES",
                     help="files de travaux à exécuter, séparées par des virgules (par "
                          f"défaut : {','.join(QUEUES)} ; vide : servir seulement)")
    sub.add_argument("--no-workers", action="store_true",
                     help="servir l’API et les pages seulement, sans travaux ni direct (les "
                          "`replay worker` s’en chargent)")


WORKER_QUEUES = (*QUEUES, "live")


def _concurrency(text: str) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"« {text} » n’est pas un nombre entier") from exc
    if value < 1:
        raise argparse.ArgumentTypeError(f"il faut au moins 1 travail à la fois, pas {value}")
    return value


def _add_worker(commands: Commands[Parser]) -> None:
    sub = commands.add_parser(
        "worker", help="exécuter les travaux d’une file (media, speech, publish) ou le direct",
        description="Exécuter les travaux d’une file, pour répartir le traitement sur "
                    "plusieurs processus ou machines à côté d’un `replay serve --no-workers`. "
                    "media : analyse et encodage ; speech : transcription et traduction "
                    "(Whisper, sur GPU avec whisper_device = \"cuda\") ; publish : "
                    "publication ; live : la réception du direct (RTMP et SRT) et ses points "
                    "HTTP, sur le port du réglage port. SIGTERM ou Ctrl-C l’arrête proprement. "
                    + BACKENDS_NOTE)
    sub.add_argument("--queue", required=True, choices=WORKER_QUEUES, metavar="FILE",
                     help=f"la file à exécuter : {', '.join(WORKER_QUEUES)}")
    sub.add_argument("--concurrency", type=_concurrency, default=1, metavar="N",
                     help="travaux exécutés en même temps par ce processus (par défaut : 1)")
    sub.add_argument("--health-file", type=Path, metavar="FICHIER",
                     help="toucher ce fichier chaque fois que la file répond (sonde de santé "
                          "d’un conteneur : il doit être récent)")


def _add_ingest(commands: Commands[Parser]) -> None:
    sub = commands.add_parser(
        "ingest", help="confier l’enregistrement d’une salle à un `replay serve` en marche",
        description="Importer le programme, vérifier et recevoir l’enregistrement (copié et "
                    "vérifié dans le dossier de données), puis mettre son traitement en file. "
                    "Un `replay serve` sur le même dossier de données fait le reste ; la "
                    "règle de publication de l’évènement s’applique.")
    _add_recording_arguments(sub)
    sub.add_argument("--json", action="store_true", help=JSON_HELP)
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
        raise ReplayError(f"file(s) de travaux inconnue(s){NBSP}: {', '.join(unknown)}{NBSP}; "
                          f"choisissez parmi {','.join(QUEUES)}")
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
            raise ReplayError(f"le direct est désactivé (réglage live_enabled){NBSP}: "
                              "activez-le pour lancer `replay worker --queue live`")
        print(f"replay worker live{NBSP}: http://{settings.host}:{settings.port}/ {NBSP}; "
              f"{describe_backend(settings)}", file=sys.stderr, flush=True)
        web.run_app(create_app(settings, worker_queues=()), host=settings.host,
                    port=settings.port, print=None, access_log=None)
        return 0
    print(f"replay worker {args.queue}{NBSP}: {args.concurrency} travail(s) à la fois{NBSP}; "
          f"{describe_backend(settings)}", file=sys.stderr, flush=True)
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
        print(f"Enregistrement {recording} ajouté{NBSP}; analyse en file (travail {job}). "
              "`replay serve` (ou `replay worker --queue media`) le traite.")
    return 0


def _print_json(data: object) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2))


async def _run_publishing(settings: Settings, args: argparse.Namespace) -> dict[str, Any]:
    objects = object_store_for(args.to, settings)
    if not settings.uses_postgresql and not settings.database_path.is_file():
        raise ReplayError(f"aucune donnée replay dans {settings.data_dir}{NBSP}: traitez "
                          "d’abord un enregistrement (replay process), ou donnez --data-dir")
    store = open_store(settings)
    try:
        event = store.load_event(args.event)
        if event is None:
            known = ", ".join(store.event_slugs()) or "aucun pour l’instant"
            raise ReplayError(f"évènement «{NBSP}{args.event}{NBSP}» inconnu{NBSP}; évènements "
                              f"connus{NBSP}: {known}")
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
                  progress=TerminalProgress(sys.stderr))
    try:
        return await process(ctx, request)
    finally:
        store.close()


def _request(args: argparse.Namespace) -> ProcessRequest:
    try:
        programme = args.schedule.read_bytes()
    except OSError as exc:
        raise ReplayError(f"programme {args.schedule} illisible{NBSP}: {exc.strerror}") from exc
    if not args.recording.is_file():
        raise ReplayError(f"{args.recording} n’existe pas ou n’est pas un fichier")
    event = read_programme(programme, args.schedule.name)
    return ProcessRequest(args.recording, event, args.room, args.started_at, args.review)


def _published_text(args: argparse.Namespace, result: dict[str, Any]) -> str:
    if args.command == "publish":
        return "\n".join([f"Publié{NBSP}: {result['index']}",
                          *(f"Attention{NBSP}: {warning}" for warning in result["warnings"])])
    return (f"Retiré{NBSP}: {', '.join(result['withdrawn'])}{NBSP}; index mis à "
            f"jour{NBSP}: {result['index']}")


def _report(summary: JobSummary, settings: Settings, as_json: bool) -> None:
    if as_json:
        print(summary.as_json())
        return
    for result in summary.sessions:
        print(f"«{NBSP}{result.title}{NBSP}»{NBSP}: {result.start:.1f}–{result.end:.1f}{NBSP}s")
    if summary.site and settings.object_store_url:
        print(f"Publié{NBSP}: {settings.object_store_url.rstrip('/')}/{summary.site}/index.html")
    elif summary.site:
        index = (settings.site_dir / summary.site / "index.html").resolve()
        print(f"Publié{NBSP}: {index}")
    else:
        print(f"Traitement terminé{NBSP}; rien n’est publié (--review).")
    if summary.site:
        for warning in publication_warnings(settings):
            print(f"Attention{NBSP}: {warning}")


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from replay.sample import build_sample

    if args.live:
        from replay.live.demo import run_demo

        logging.getLogger("replay").setLevel(logging.DEBUG if args.verbose else logging.INFO)
        return asyncio.run(run_demo(settings, args.out))

    print(f"Création de l’évènement d’exemple dans {args.out}…", file=sys.stderr)
    truth = build_sample(args.out)
    request = ProcessRequest(truth.recording, read_programme(truth.schedule.read_bytes()),
                             truth.room, truth.started_at)
    summary = asyncio.run(_run_process(settings, request))
    _report(summary, settings, args.json)
    return 0


def _add_user(commands: Commands[Parser]) -> None:
    sub = commands.add_parser(
        "user", help="gérer les comptes (organisateurs, éditeurs) et les jetons d’API",
        description="Créer les comptes de connexion et les jetons d’API des scripts. Le mot "
                    "de passe est demandé deux fois dans le terminal, ou lu dans la variable "
                    "d’environnement REPLAY_NEW_PASSWORD (pour les scripts) ; jamais en "
                    "argument.")
    actions = sub.add_subparsers(dest="user_command", required=True, metavar="ACTION",
                                 title=f"actions{NBSP}", parser_class=Parser)
    add = actions.add_parser("add", help="créer un compte",
                             description="Créer un compte. Les organisateurs font tout sur "
                                         "leurs évènements ; les éditeurs corrigent les "
                                         "sous-titres.")
    add.add_argument("email", metavar="ADRESSE", help="l’adresse de connexion")
    add.add_argument("--name", required=True, metavar="NOM", help="le nom affiché dans les pages")
    add.add_argument("--role", required=True, choices=["organiser", "editor"],
                     help="organiser (organisateur) ou editor (éditeur)")
    add.add_argument("--event", action="append", default=[], metavar="SLUG",
                     help="limiter le compte à cet évènement (répétable ; par défaut : tous)")
    add.add_argument("--json", action="store_true", help=JSON_HELP)
    token = actions.add_parser("token", help="afficher une seule fois un nouveau jeton d’API",
                               description="Afficher un nouveau jeton d’API, à envoyer en "
                                           "`Authorization: Bearer JETON`. Seule son empreinte "
                                           "est gardée : il ne peut pas être réaffiché.")
    token.add_argument("email", metavar="ADRESSE", help="l’adresse du compte")
    token.add_argument("--label", required=True, metavar="LIBELLE",
                       help="à quoi sert le jeton, par exemple un script")
    token.add_argument("--days", type=float, metavar="JOURS",
                       help="nombre de jours de validité du jeton (par défaut : le réglage "
                            "token_days)")
    token.add_argument("--json", action="store_true", help=JSON_HELP)
    tokens = actions.add_parser("tokens", help="lister les jetons d’API d’un compte",
                                description="Lister les jetons du compte : numéro, libellé, "
                                            "dates et état (actif, révoqué, expiré).")
    tokens.add_argument("email", metavar="ADRESSE", help="l’adresse du compte")
    revoke = actions.add_parser("revoke", help="révoquer définitivement un jeton d’API",
                                description="Révoquer un jeton par son numéro (voir `replay "
                                            "user tokens`) : les scripts qui l’utilisent sont "
                                            "refusés aussitôt.")
    revoke.add_argument("token_id", type=int, metavar="NUMERO", help="le numéro du jeton")
    disable = actions.add_parser("disable", help="désactiver un compte (ou le réactiver)",
                                 description="Un compte désactivé ne peut plus se connecter, "
                                             "ses sessions ouvertes prennent fin et ses jetons "
                                             "cessent de fonctionner.")
    disable.add_argument("email", metavar="ADRESSE", help="l’adresse du compte")
    disable.add_argument("--undo", action="store_true", help="réactiver le compte")


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
                print(f"Compte créé{NBSP}: {user.email} ({user.role})")
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
        raise AccountError(f"Aucun compte pour l’adresse {email}\u00a0: vérifiez-la, ou "
                           "créez-le (replay user add).")
    return found


def _user_token(users: Users, args: argparse.Namespace) -> None:
    found = _account(users, args.email)
    seconds = None if args.days is None else args.days * 86400.0
    token = users.create_token(found.id, args.label, seconds=seconds)
    if args.json:
        _print_json({"email": found.email, "label": args.label, "token": token})
    else:
        print(token)
    print(f"Conservez ce jeton{NBSP}: il ne sera plus affiché.", file=sys.stderr)


def _user_tokens(users: Users, args: argparse.Namespace) -> None:
    found = _account(users, args.email)
    listed = users.tokens_of(found.id)
    if not listed:
        print(f"Aucun jeton pour {found.email}.")
    now = time.time()
    for token in listed:
        print(f"n°\u00a0{token.id}\t«\u00a0{token.label}\u00a0»\tcréé le "
              f"{_day(token.created_at)}\texpire le {_day(token.expires_at)}\t"
              f"{token.state(now)}")


def _day(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp).astimezone().strftime("%d/%m/%Y %H:%M")


def _user_revoke(users: Users, args: argparse.Namespace) -> None:
    from replay.store.users import AccountError

    token = users.token(args.token_id)
    if token is None:
        raise AccountError(f"Aucun jeton n°\u00a0{args.token_id}\u00a0: voyez la liste "
                           "(replay user tokens ADRESSE).")
    if not users.revoke_token(token.id):
        print(f"Le jeton n°\u00a0{token.id} était déjà révoqué.")
        return
    print(f"Jeton n°\u00a0{token.id} («\u00a0{token.label}\u00a0») révoqué.")


def _user_disable(users: Users, args: argparse.Namespace) -> None:
    found = _account(users, args.email)
    users.set_disabled(found.id, not args.undo)
    if args.undo:
        print(f"Compte réactivé\u00a0: {found.email}")
    else:
        print(f"Compte désactivé\u00a0: {found.email}\u00a0; ses sessions sont fermées et "
              "ses jetons refusés.")


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
    first = getpass.getpass("Mot de passe (12\u00a0caractères au moins)\u00a0: ")
    check_new_password(first)
    if getpass.getpass("Le même, une seconde fois\u00a0: ") != first:
        raise PasswordError("Les deux saisies du mot de passe diffèrent.")
    return first


def _add_live(commands: Commands[Parser]) -> None:
    sub = commands.add_parser(
        "live", help="clés de diffusion du direct : lister, régénérer, révoquer",
        description="Chaque salle d’un évènement reçoit une URL RTMP avec sa clé de stream et "
                    "une URL SRT avec sa phrase secrète, pour OBS, vMix ou un encodeur "
                    "matériel. Un `replay serve` en marche prend les changements en compte en "
                    "quelques secondes.")
    actions = sub.add_subparsers(dest="live_command", required=True, metavar="ACTION",
                                 title=f"actions{NBSP}", parser_class=Parser)
    keys = actions.add_parser("keys", help="afficher les URL et les clés de chaque salle (en "
                                           "créant celles qui manquent)")
    keys.add_argument("event", metavar="EVENEMENT", help="l’identifiant (slug) de l’évènement")
    for name, what in (("regenerate", "remplacer la clé et la phrase secrète d’une salle (les "
                                      "anciennes cessent de fonctionner)"),
                       ("revoke", "révoquer la clé d’une salle : plus aucun encodeur ne peut y "
                                  "diffuser")):
        action = actions.add_parser(name, help=what, description=what)
        action.add_argument("event", metavar="EVENEMENT",
                            help="l’identifiant (slug) de l’évènement")
        action.add_argument("room", metavar="SALLE", help="le nom de la salle dans le programme")


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
    return f"{error} (option {option})" if option else str(error)


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
            result = asyncio.run(_run_publishing(settings, args))
            if args.json:
                _print_json(result)
            else:
                print(_published_text(args, result))
            return 0
        summary = asyncio.run(_run_process(settings, _request(args)))
    except ReplayError as exc:
        print(f"replay{NBSP}: erreur{NBSP}: {_with_option(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"replay{NBSP}: interrompu{NBSP}; relancez la même commande pour reprendre",
              file=sys.stderr)
        return 130
    _report(summary, settings, args.json)
    log.info("done in %.1f s", time.monotonic() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
