"""A griffe extension for the API reference (loaded from mkdocs.yml).

streamkit's docstrings use two reST habits that Markdown would show as they
are:

* roles (``:class:`~streamkit.ServerSentEvent```, ``:meth:`close```): each
  becomes a cross-reference to the object's entry in the API reference when
  the name resolves, and plain code when it does not (another library's
  object, a name the reference does not show): an "optional" autorefs
  reference renders as its title instead of failing the strict build;
* a paragraph ending in ``::`` before an indented literal block: the ``::``
  becomes ``:`` (the indented block is already a Markdown code block). A line
  that is only ``Example::`` is emphasised rather than left as ``Example:``,
  which the Google docstring parser would take for a section title.
"""

from __future__ import annotations

import html
import re
from typing import Any

import griffe

_TITLE_LITERAL = re.compile(r"^(\s*)(\w[\w ]*)::[ \t]*$", re.MULTILINE)
_LITERAL = re.compile(r"(\S)::[ \t]*$", re.MULTILINE)
_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|data|attr|exc|obj|const):`(~?)([^`]+)`")


def _target(obj: griffe.Object, name: str) -> str | None:
    """The full path ``name`` means in the docstring of ``obj``, if known."""
    if name.startswith("streamkit"):
        return name
    scope: griffe.Object | None = obj
    while scope is not None:
        try:
            return scope.resolve(name)
        except (griffe.NameResolutionError, KeyError, AttributeError):
            scope = scope.parent
    return None


def _replace(obj: griffe.Object, match: re.Match[str]) -> str:
    short, name = match.group(1), match.group(2).strip()
    shown = name.rsplit(".", 1)[-1] if short else name
    code = f"<code>{html.escape(shown)}</code>"
    target = _target(obj, name)
    if target is None:
        return code
    return f'<autoref identifier="{html.escape(target)}" optional>{code}</autoref>'


class RstRoles(griffe.Extension):
    """Rewrite reST roles in docstrings as cross-references."""

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        _rewrite(obj)

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        _rewrite(pkg)  # on_object is not called for the top-level package itself


def _rewrite(obj: griffe.Object) -> None:
    if obj.docstring is None:
        return
    value = obj.docstring.value
    if ":`" in value:
        value = _ROLE.sub(lambda match: _replace(obj, match), value)
    if "::" in value:
        value = _LITERAL.sub(r"\1:", _TITLE_LITERAL.sub(r"\1*\2:*", value))
    obj.docstring.value = value
