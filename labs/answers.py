"""``orthrus-lab answers N``: the instructor's answers to exercise N's questions.

They are the section ``## N. Title`` of docs/labs/answers.md, found with markdown-it (the
parser rich renders with), so the file stays the one place they are written. In a class the
key is the instructor's: a shell that joined a class server (``orthrus-lab join`` exports
``ORTHRUS_LAB_CLASS``) is refused unless it names the instructor's own class directory,
whose KDC only the instructor can read. The key ships with the source: the refusal keeps
it out of a class session, it does not make it a secret.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from markdown_it import MarkdownIt

from labs.state import NotALab
from orthrus.errors import ConfigError

__all__ = ["ANSWERS", "JOINED_CLASS", "answer_section", "require_instructor"]

ANSWERS = Path(__file__).resolve().parent.parent / "docs" / "labs" / "answers.md"
#: Set by ``orthrus-lab join``: this shell is a student's in a class.
JOINED_CLASS = "ORTHRUS_LAB_CLASS"


def answer_section(text: str, number: int) -> str:
    """The Markdown of the section ``## NUMBER. ...`` of ``text`` (the answer key)."""
    tokens = MarkdownIt().parse(text)
    lines = text.splitlines()
    starts = [
        (token.map[0], tokens[index + 1].content)
        for index, token in enumerate(tokens)
        if token.type == "heading_open" and token.tag == "h2" and token.map
    ]
    for (start, title), (end, _) in zip(starts, [*starts[1:], (len(lines), "")], strict=True):
        if title.split(".", 1)[0].strip() == str(number):
            return "\n".join(lines[start:end]).strip() + "\n"
    raise ConfigError(f"the answer key {ANSWERS} has no answers for exercise {number}")


def require_instructor(environ: Mapping[str, str], class_dir: Path | None) -> None:
    """Refuse a student's shell in a class (``NotALab`` saying whom to ask), unless
    ``class_dir`` is a class the caller runs (its KDC's settings are readable)."""
    if class_dir is not None:
        from labs.classroom.realm import ClassState, class_paths

        try:
            ClassState.load(class_paths(class_dir))
        except (ConfigError, OSError) as exc:
            raise NotALab(
                f"{class_dir} is not a class you run ({exc}); the answer key is for the "
                "instructor of a class, on the class server's machine"
            ) from None
        return
    if environ.get(JOINED_CLASS):
        raise NotALab(
            "this shell joined a class (orthrus-lab join): the answer key is your "
            "instructor's; ask them. Instructors: orthrus-lab answers N --class DIR"
        )
