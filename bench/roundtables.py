"""Generated roundtables for the benchmarks: French speech from several espeak-ng voices,
with the programme's people and organisations named in what is said (so that hotwords
matter), and the words said kept for word error rates.

- ``four_roundtables``: four short sessions, for choosing Whisper's settings.
- ``ten_minutes``: the end-to-end recording, 10 minutes of 1080p25 H.264 at about
  6 Mb/s with 2-second GOPs, two roundtables back to back whose continuous speech
  fills about 80 % of it.

Run on its own it generates both: ``python bench/roundtables.py bench/out``.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

from replay.sample import SampleSession, SampleTruth, SessionTruth, build_sample

GOUVERNANCE = (
    "Bonjour à toutes et à tous, je suis Camille Martin, cheffe de projet climat à Dijon "
    "Métropole.",
    "Je donne tout de suite la parole à Jean-Baptiste Lefèvre, qui coordonne la mission "
    "NetZeroCities en France.",
    "Merci Camille Martin. La gouvernance climatique demande que tous les services de la "
    "ville travaillent ensemble.",
    "Le contrat de ville climat engage les élus, les entreprises et les associations du "
    "territoire.",
    "Jean-Baptiste Lefèvre, comment les collectivités suivent-elles leurs émissions de gaz à "
    "effet de serre ?",
    "Nous publions chaque année un bilan, et le comité de pilotage se réunit tous les trois "
    "mois.",
    "La plateforme NetZeroCities partage les bonnes pratiques entre les villes européennes.",
    "Il faut aussi former les agents municipaux aux enjeux de la transition écologique.",
)
FINANCEMENT = (
    "Nous accueillons maintenant Sophie Nguyen, de la Banque européenne d'investissement.",
    "Sophie Nguyen, quels financements sont ouverts aux villes de la mission ?",
    "La Banque européenne d'investissement prête aux collectivités pour rénover les "
    "bâtiments publics.",
    "Karim Benali, directeur financier de la métropole de Lyon, nous explique le budget vert.",
    "Merci. Le budget vert classe chaque dépense selon son impact sur le climat.",
    "Karim Benali rappelle que les investissements doivent être planifiés sur plusieurs "
    "années.",
    "Le projet CapaCITIES aide les petites communes à monter leurs dossiers de financement.",
    "Les citoyens peuvent aussi investir dans des projets locaux d'énergie renouvelable.",
)
MOBILITES = (
    "Élodie Rousseau, adjointe aux mobilités à Grenoble, présente le plan vélo.",
    "Merci beaucoup. Grenoble a doublé la longueur de ses pistes cyclables en cinq ans.",
    "Thomas Girard, du réseau de transports en commun, parle des bus électriques.",
    "Les nouveaux bus roulent au biogaz ou à l'électricité, et le réseau de tramway "
    "s'étend.",
    "Élodie Rousseau souligne que la zone à faibles émissions protège la santé des "
    "habitants.",
    "Comment accompagner les familles qui dépendent encore de leur voiture ?",
    "Thomas Girard propose des aides à l'achat de vélos et des abonnements moins chers.",
    "La marche à pied reste le premier mode de déplacement dans le centre-ville.",
)
PARTICIPATION = (
    "Nadia Haddad anime la convention citoyenne pour le climat de la ville de Marseille.",
    "Cent habitants tirés au sort ont formulé des propositions pour le territoire.",
    "Pierre Dubois, chercheur en sciences politiques, analyse cette démarche.",
    "Merci Nadia Haddad. La participation citoyenne renforce la confiance dans les "
    "décisions publiques.",
    "Les propositions retenues sont intégrées au plan climat de la métropole.",
    "Pierre Dubois insiste sur le retour fait aux participants après chaque réunion.",
    "Les jeunes et les quartiers populaires doivent être mieux représentés.",
    "Merci à toutes et à tous pour vos questions, la séance est levée.",
)


def _session(title: str, offset: float, duration: float, late_by: float, paragraphs: int,
             script: tuple[str, ...], persons: tuple[str, ...]) -> SampleSession:
    return SampleSession(title, offset, duration, late_by=late_by, paragraphs=paragraphs,
                         script=script, persons=persons)


#: Four short roundtables (about a minute of speech each) between pauses.
FOUR = (
    _session("Gouvernance climatique des villes", 30, 120, 10, 8, GOUVERNANCE,
             ("Camille Martin", "Jean-Baptiste Lefèvre")),
    _session("Financer la transition", 150, 120, 15, 8, FINANCEMENT,
             ("Sophie Nguyen", "Karim Benali")),
    _session("Mobilités douces à Grenoble", 270, 120, 5, 8, MOBILITES,
             ("Élodie Rousseau", "Thomas Girard")),
    _session("Participation citoyenne", 390, 120, 20, 8, PARTICIPATION,
             ("Nadia Haddad", "Pierre Dubois")),
)

#: Two roundtables back to back, speech from start to end of each (about 80 %).
TWO = (
    _session("Gouvernance et financement de la neutralité climatique", 30, 270, 8, 43,
             GOUVERNANCE + FINANCEMENT,
             ("Camille Martin", "Jean-Baptiste Lefèvre", "Sophie Nguyen", "Karim Benali")),
    _session("Mobilités et participation citoyenne", 300, 270, 4, 49,
             MOBILITES + PARTICIPATION,
             ("Élodie Rousseau", "Thomas Girard", "Nadia Haddad", "Pierre Dubois")),
)

class Video(NamedTuple):
    duration: float
    size: tuple[int, int]
    fps: int
    video_kbps: int | None


TEN_MINUTES = Video(600.0, (1920, 1080), 25, 6000)
FOUR_ROUNDTABLES = Video(540.0, (320, 180), 10, None)


def _fingerprint(sessions: tuple[SampleSession, ...], video: Video) -> str:
    return json.dumps([[asdict(s) for s in sessions], video], sort_keys=True, default=str)


def _cached(folder: Path, sessions: tuple[SampleSession, ...], video: Video) -> SampleTruth:
    """The recording in ``folder``, generated when missing or out of date."""
    stamp, truth_file = folder / "fingerprint.json", folder / "truth.json"
    fingerprint = _fingerprint(sessions, video)
    if stamp.is_file() and stamp.read_text() == fingerprint and truth_file.is_file():
        return load_truth(truth_file)
    stamp.unlink(missing_ok=True)
    truth = build_sample(folder, sessions=sessions, duration=video.duration, size=video.size,
                         fps=video.fps, video_kbps=video.video_kbps)
    stamp.write_text(fingerprint)
    return truth


def load_truth(path: Path) -> SampleTruth:
    data = json.loads(path.read_text(encoding="utf-8"))
    return SampleTruth(
        recording=path.parent / "recording.mp4",
        schedule=path.parent / "schedule.json",
        room=data["room"],
        started_at=datetime.fromisoformat(data["started_at"]),
        duration=float(data["duration"]),
        sessions=tuple(SessionTruth(**s) for s in data["sessions"]),
    )


def four_roundtables(out: Path) -> SampleTruth:
    return _cached(out / "four-roundtables", FOUR, FOUR_ROUNDTABLES)


def ten_minutes(out: Path) -> SampleTruth:
    return _cached(out / "ten-minutes", TWO, TEN_MINUTES)


#: The generated events by the name the benchmarks' ``--recording`` takes.
RECORDINGS = {"four-roundtables": four_roundtables, "ten-minutes": ten_minutes}


if __name__ == "__main__":
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "bench/out")
    for build in (four_roundtables, ten_minutes):
        truth = build(root)
        for session in truth.sessions:
            print(f"{truth.recording.parent.name}: {session.title}: speech "
                  f"{session.speech_start:.1f}–{session.speech_end:.1f} s")
