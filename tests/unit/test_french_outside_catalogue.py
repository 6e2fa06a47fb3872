"""People's words come from the catalogue (issue 10): no French written in the code or the
templates outside it.

- Python: every string constant of ``src/replay`` that holds French letters (accents,
  « », ’), except docstrings and the messages marked for the catalogue (``_``, ``N_``,
  ``ngettext``: their msgids are English), counts as French outside the catalogue.
- Command line: every argparse ``help=``/``metavar=`` given a plain string (French without
  accents included), but for symbols (``N``, ``SLUG``).
- Templates (the service's pages and the published site's): the words of the static text
  and of the attributes people read (``aria-label``, ``title``, ``alt``, ``placeholder``,
  ``label``), outside ``_()``/``{% trans %}``, and the string constants of expressions
  holding French letters.

`ALLOWED_MODULES` and `ALLOWED_STRINGS` list what is French on purpose, each with why;
`PENDING` counts, per module, what is still to move: the test fails when a module gets
more, and when one gets fewer (update the count: the list only shrinks).
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import jinja2
from jinja2 import nodes

SRC = Path(__file__).resolve().parents[2] / "src" / "replay"
FRENCH = re.compile(r"[àâæçéèêëîïôœùûüÿÀÂÆÇÉÈÊËÎÏÔŒÙÛÜŸ«»’]")
MARKERS = {"_", "N_", "ngettext", "gettext"}

#: Modules where French is the content itself, not a message.
ALLOWED_MODULES: dict[str, str] = {
    "sample.py": "the generated sample event: a French programme and its French speech",
    "sample_words.py": "the French words the sample event's speech is made of",
}
TYPOGRAPHY = "French typography of cue lines: punctuation marks and their patterns"
#: French strings that are data, not messages: (module, text).
ALLOWED_STRINGS: dict[tuple[str, str], str] = {
    ("site/publish.py", "Français"): "the French subtitle track is named in its own language",
    ("jobs/pipeline.py", "Français"): "the French subtitle track is named in its own language",
    ("cli.py", " ([:;?!»])"): "the typography fixer of argparse's texts: its pattern",
    ("cli.py", "« "): "the typography fixer of argparse's texts: its pattern",
    ("cli.py", "«"): "the typography fixer of argparse's texts: its pattern",
    ("domain/streaming.py", r"[.?!…][\s»\"”’)\]]*$"): "a sentence's end: a pattern",
    ("domain/sentences.py", "»\"'”) \xa0"): "the closing punctuation a sentence may end with",
    ("live/demo.py", "Démo : le direct de la Mission Villes"): "the demo event's title: data",
    ('domain/cues.py', '[.?!…]+[»\\"”’)\\]]*$'): TYPOGRAPHY,
    ('domain/cues.py', '[,;:—–]+[»\\"”’)\\]]*$'): TYPOGRAPHY,
    ('domain/cues.py', '?!:;».,…)]}”%'): TYPOGRAPHY,
    ('domain/cues.py', '?!:;»%'): TYPOGRAPHY,
    ('domain/cues.py', '«([{“'): TYPOGRAPHY,
    ('domain/cues.py', '(?<=[^\\s\\u00a0«(\\[{“;:!?%])([;!?»%]|:(?![\\d/]))'): TYPOGRAPHY,
    ('domain/cues.py', '«(?=[^\\s\\u00a0])'): TYPOGRAPHY,
    ('domain/cues.py', '«'): TYPOGRAPHY,
    ('domain/cues.py', '’'): TYPOGRAPHY,
    ('domain/cues.py', '«»"“”()[],;:.?!…'): TYPOGRAPHY,
    ('domain/livecues.py', '[ \\u00a0]*([;:!?»])'): TYPOGRAPHY,
    ('domain/livecues.py', '«[ \\u00a0]*'): TYPOGRAPHY,
    ('domain/livecues.py', '«'): TYPOGRAPHY,
    ('domain/programme.py', 'Œ'): "slugs: a ligature spelled out, a table of letters",
    ('domain/programme.py', 'œ'): "slugs: a ligature spelled out, a table of letters",
    ('domain/programme.py', 'Æ'): "slugs: a ligature spelled out, a table of letters",
    ('domain/programme.py', 'æ'): "slugs: a ligature spelled out, a table of letters",
    ('domain/model.py', 'déjeuner'): "a title announcing a break: a word matched, not shown",
    ('domain/captions.py', '[.?!…][»\\"”’)\\]\\u00a0]*$'): "a sentence's end: a pattern",
}
#: French still written in these modules (string constants), to move to the catalogue:
#: none left. `domain/` cannot import `replay.locale` (tests/unit/test_layers.py): its
#: errors, labels and reasons carry an English message (`replay.domain.errors.N_`) and its
#: values, shown in French with `replay.locale.describe` (or `_` for a label) at the faces;
#: the API's OpenAPI texts are marked `N_` and translated where the document is built.
PENDING: dict[str, int] = {}

#: Words of the templates' static text that are not French to translate: the product's
#: name, file formats, a URL's scheme (a placeholder), and each subtitle track's name in
#: its own language.
TEMPLATE_WORDS = {"replay", "WebVTT", "SRT", "https", "English", "automatic", "Français"}
#: Attributes whose text people read (or hear).
READ_ATTRIBUTES = {"aria-label", "title", "alt", "placeholder", "label", "aria-valuetext"}
#: Elements whose text is code, not words (an embed snippet, a command, keys).
CODE_ELEMENTS = {"code", "kbd", "textarea", "script", "style"}
HOLE = "\ue000"  # where a Jinja construct was
WORD = re.compile(r"[^\W\d_]{2,}")


# -- Python --------------------------------------------------------------------------------


def _docstrings(tree: ast.AST) -> set[int]:
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def _marked(tree: ast.AST) -> set[int]:
    """The string constants given to the catalogue's functions (English msgids)."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id in MARKERS):
            found.update(id(arg) for arg in node.args)
    return found


def french_strings(path: Path) -> list[tuple[int, str]]:
    """(line, text) of each string constant of `path` with French outside the catalogue."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    skipped = _docstrings(tree) | _marked(tree)
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and id(node) not in skipped and FRENCH.search(node.value)]


def python_counts(root: Path = SRC) -> Counter[str]:
    counts: Counter[str] = Counter()
    for path in sorted(root.rglob("*.py")):
        name = path.relative_to(root).as_posix()
        if name not in ALLOWED_MODULES:
            counts[name] += sum((name, text) not in ALLOWED_STRINGS
                                for _line, text in french_strings(path))
    return +counts


def test_french_in_python_is_in_the_catalogue() -> None:
    found = python_counts()
    assert not {name: count for name, count in found.items() if name not in PENDING}, (
        "French in these modules: mark it for the catalogue (replay.locale `_`/`N_`) and "
        "translate it in locale/fr/LC_MESSAGES/replay.po")
    assert found == PENDING, "update PENDING: it only shrinks"


def test_the_python_scan_sees_french_and_lets_messages_pass(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text('"""Le module « m »."""\n'
                      'from replay.locale import N_, _\n'
                      'A = N_("Not found.")\n'
                      'B = _("You have no access: ask.")\n'
                      'C = "Introuvable."\n'
                      'D = f"Accès refusé{C}"\n'
                      'E = "plain ascii"\n', encoding="utf-8")
    assert french_strings(module) == [(6, "Accès refusé")]


#: argparse metavars that are symbols, the same in every language.
METAVAR_SYMBOLS = {"N", "SLUG"}


def plain_argparse_texts(path: Path) -> list[tuple[int, str]]:
    """(line, text) of each `help=` or `metavar=` given a plain string: command-line texts
    people read go through the catalogue, even French without accents (« DOSSIER »)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [(keyword.value.lineno, keyword.value.value) for node in ast.walk(tree)
            if isinstance(node, ast.Call) for keyword in node.keywords
            if keyword.arg in {"help", "metavar"} and isinstance(keyword.value, ast.Constant)
            and isinstance(keyword.value.value, str)
            and keyword.value.value not in METAVAR_SYMBOLS]


def test_command_line_texts_are_in_the_catalogue() -> None:
    found = {path.relative_to(SRC).as_posix(): texts for path in sorted(SRC.rglob("*.py"))
             if (texts := plain_argparse_texts(path))}
    assert found == {}


def test_the_argparse_scan_sees_plain_metavars(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text('p.add_argument("--out", metavar="DOSSIER", help=_("the folder"))\n'
                      'p.add_argument("--n", metavar="N", help="le nombre")\n'
                      'p.add_argument("--x", metavar=_("FILE"))\n', encoding="utf-8")
    assert plain_argparse_texts(module) == [(1, "DOSSIER"), (2, "le nombre")]


# -- templates -----------------------------------------------------------------------------


class _StaticText(HTMLParser):
    """The words people read in a template whose Jinja constructs became holes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self._code = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.texts.extend(value or "" for name, value in attrs if name in READ_ATTRIBUTES)
        if tag in CODE_ELEMENTS:
            self._code += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in CODE_ELEMENTS and self._code:
            self._code -= 1

    def handle_data(self, data: str) -> None:
        if not self._code:
            self.texts.append(data)


def _environment() -> jinja2.Environment:
    return jinja2.Environment(extensions=["jinja2.ext.i18n"], trim_blocks=True,
                              lstrip_blocks=True)


def _holed(env: jinja2.Environment, source: str) -> str:
    """`source` with a hole for each Jinja construct and for the text of trans blocks."""
    parts: list[str] = []
    in_trans = opening = False
    for _line, kind, value in env.lex(source):
        if kind == "data":
            parts.append(HOLE if in_trans else value)
        elif kind.endswith("_begin"):
            parts.append(HOLE)
            opening = kind == "block_begin"
        elif opening and kind == "name":
            in_trans = {"trans": True, "endtrans": False}.get(value, in_trans)
            opening = False
        elif kind != "whitespace":
            opening = False
    return "".join(parts)


def _static_words(env: jinja2.Environment, source: str) -> list[str]:
    parser = _StaticText()
    parser.feed(_holed(env, source))
    parser.close()
    return [word for text in parser.texts for word in WORD.findall(text.replace(HOLE, " "))
            if word not in TEMPLATE_WORDS]


def _expression_french(env: jinja2.Environment, source: str) -> list[str]:
    tree = env.parse(source)
    marked = {id(arg) for call in tree.find_all(nodes.Call)
              if isinstance(call.node, nodes.Name) and call.node.name in MARKERS
              for arg in call.args}
    return [const.value for const in tree.find_all(nodes.Const)
            if isinstance(const.value, str) and id(const) not in marked
            and FRENCH.search(const.value)]


def template_words(path: Path) -> list[str]:
    """The French of template `path` outside the catalogue."""
    env, source = _environment(), path.read_text(encoding="utf-8")
    return _static_words(env, source) + _expression_french(env, source)


def template_findings(root: Path = SRC) -> dict[str, list[str]]:
    found = {}
    for path in sorted(root.glob("*/templates/*.html")):
        if words := template_words(path):
            found[path.relative_to(root).as_posix()] = words
    return found


def test_templates_say_nothing_outside_the_catalogue() -> None:
    assert template_findings() == {}


def test_the_template_scan_sees_words_outside_trans(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text('{# un commentaire #}<p title="Titre">{{ _("Log in") }} · Envoyer</p>\n'
                    '<code>replay user token</code>{% trans %}Hello{% endtrans %}\n'
                    '<td>{{ "désactivé" if off else _("active") }}</td> replay WebVTT\n',
                    encoding="utf-8")
    assert template_words(page) == ["Titre", "Envoyer", "désactivé"]
