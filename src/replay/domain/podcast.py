"""An event's podcast settings: what the audio feed tells podcast apps about itself
(``itunes:author``, ``itunes:category``, ``itunes:explicit``, ``itunes:image``).

Apple Podcasts and most apps require these tags; the category is one of Apple's
top-level categories, the image an absolute ``https`` address of a square picture
(1400 to 3000 pixels a side).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

from replay.domain.errors import N_, ReplayError

_WHITE_SPACE: Final = re.compile(r"[ \t\r\n\f\v\u2028\u2029]+")
#: Apple Podcasts' top-level categories, as the ``text`` of ``itunes:category``.
CATEGORIES: Final = (
    "Arts", "Business", "Comedy", "Education", "Fiction", "Government", "Health & Fitness",
    "History", "Kids & Family", "Leisure", "Music", "News", "Religion & Spirituality",
    "Science", "Society & Culture", "Sports", "Technology", "True Crime", "TV & Film",
)
DEFAULT_CATEGORY: Final = "Government"  # public events of cities and the EU Mission
MAX_AUTHOR_CHARS: Final = 200
MAX_IMAGE_CHARS: Final = 2000


@dataclass(frozen=True, slots=True)
class PodcastOptions:
    #: Who the podcast is by; empty: the event's title.
    author: str = ""
    category: str = DEFAULT_CATEGORY
    explicit: bool = False
    #: The cover's absolute address; empty: the newest session's poster.
    image: str = ""

    def as_json(self) -> dict[str, Any]:
        return {"author": self.author, "category": self.category, "explicit": self.explicit,
                "image": self.image}


class PodcastError(ReplayError, ValueError):
    """A message saying which field is wrong and what it accepts."""


def parse_podcast(body: dict[str, Any], current: PodcastOptions | None = None) -> PodcastOptions:
    """The options in `body` (missing fields keep `current`'s); `PodcastError` otherwise."""
    base = current or PodcastOptions()
    author = body.get("author", base.author)
    if not isinstance(author, str) or len(author) > MAX_AUTHOR_CHARS:
        raise PodcastError(N_("“author” invalid: a text of {maximum} characters at most "
                              "(empty: the event's title)."), maximum=MAX_AUTHOR_CHARS)
    category = body.get("category", base.category)
    if category not in CATEGORIES:
        raise PodcastError(N_("“category” invalid: one of Apple Podcasts' categories "
                              "({categories})."), categories=", ".join(CATEGORIES))
    explicit = body.get("explicit", base.explicit)
    if not isinstance(explicit, bool):
        raise PodcastError(N_("“explicit” invalid: true or false."))
    image = body.get("image", base.image)
    if not isinstance(image, str) or (image and not _https(image)):
        raise PodcastError(N_("“image” invalid: the full address (https://…) of a square "
                              "image of 1400 to 3000 pixels a side, or empty for the last "
                              "session's poster."))
    return PodcastOptions(_tidy(author), category, explicit, image.strip())


def _https(address: str) -> bool:
    if len(address) > MAX_IMAGE_CHARS or any(c.isspace() for c in address.strip()):
        return False
    parts = urlsplit(address.strip())
    return parts.scheme == "https" and bool(parts.netloc)


def relative_links_warning() -> str:
    """Said at publication when the feeds can only link relatively (no public address): an
    English message, translated where it is said."""
    return N_("The podcast is published with relative links, for want of the site's public "
              "address (setting “public_url”): podcast applications will refuse it.")


def _tidy(text: str) -> str:
    """One line, runs of white space made one space; no-break spaces (French typography)
    are kept as they are."""
    return _WHITE_SPACE.sub(" ", text).strip(" ")
