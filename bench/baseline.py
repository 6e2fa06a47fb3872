"""The naive pipeline the end-to-end benchmark compares with, as one process.

    python bench/baseline.py RECORDING SCHEDULE OUT_DIR --model DIR

What one would write without thinking about cost: one ffmpeg per rendition over the whole
recording (each decodes the source itself, default threading, the old ladder's x264
settings: veryfast, the rung's bitrate, keyframes every 6 s, HLS), then
faster-whisper's default ``transcribe()`` over the whole recording in French (with the
programme's names as hotwords), then again for the translate task. Writes
``OUT_DIR/transcript.fr.txt`` and ``OUT_DIR/transcript.en.txt``.
"""

from __future__ import annotations

import argparse
import subprocess
from collections.abc import Sequence
from pathlib import Path

from replay.domain.ladder import Rung, choose_ladder
from replay.domain.programme import parse_programme, programme_hotwords

SEGMENT_SECONDS = 6


def rendition_argv(src: Path, rung: Rung, fps: int, out: Path) -> list[str]:
    """One rendition of the whole recording, decoded on its own."""
    gop = str(SEGMENT_SECONDS * fps)
    argv = ["ffmpeg", "-nostdin", "-hide_banner", "-y", "-loglevel", "error", "-i", str(src)]
    if rung.is_audio_only:
        argv += ["-map", "0:a:0", "-vn"]
    else:
        argv += [
            "-map", "0:v:0", "-map", "0:a:0",
            "-vf", f"scale={rung.width}:{rung.height}:flags=bicubic,setsar=1",
            "-c:v", "libx264", "-preset", "veryfast",
            "-profile:v", "high" if min(rung.width, rung.height) > 480 else "main",
            "-b:v", f"{rung.video_kbps}k", "-maxrate", f"{rung.video_kbps * 11 // 10}k",
            "-bufsize", f"{rung.video_kbps * 2}k",
            "-g", gop, "-keyint_min", gop, "-sc_threshold", "0",
        ]  # fmt: skip
    folder = out / rung.name
    folder.mkdir(parents=True, exist_ok=True)
    return [*argv, "-c:a", "aac", "-ac", "2", "-ar", "48000", "-b:a", f"{rung.audio_kbps}k",
            "-f", "hls", "-hls_time", str(SEGMENT_SECONDS), "-hls_playlist_type", "vod",
            "-hls_segment_filename", str(folder / "seg_%05d.ts"), str(folder / "index.m3u8")]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("recording", type=Path)
    parser.add_argument("schedule", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--model", required=True)
    parser.add_argument("--size", default="1920x1080")
    parser.add_argument("--fps", type=int, default=25)
    args = parser.parse_args(argv)
    width, height = (int(n) for n in args.size.split("x"))
    for rung in choose_ladder(width, height):
        subprocess.run(rendition_argv(args.recording, rung, args.fps, args.out / "hls"),
                       check=True, stdin=subprocess.DEVNULL)

    from faster_whisper import WhisperModel, decode_audio

    event = parse_programme(args.schedule.read_bytes(), filename=args.schedule.name)
    model = WhisperModel(args.model, device="cpu", compute_type="int8")
    audio = decode_audio(str(args.recording))
    french, _ = model.transcribe(audio, language="fr", hotwords=programme_hotwords(event))
    text = " ".join(segment.text.strip() for segment in french)
    (args.out / "transcript.fr.txt").write_text(text + "\n", encoding="utf-8")
    english, _ = model.transcribe(audio, language="fr", task="translate")
    text = " ".join(segment.text.strip() for segment in english)
    (args.out / "transcript.en.txt").write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
