"""A Griffe extension for the API reference: the docstrings' numpydoc, shown as written.

mkdocstrings renders docstrings as Markdown through Griffe's numpydoc parser, which

- leaves Sphinx roles (``:func:`kmeans```) as literal text: they become code spans, a role's
  ``~`` keeping only the last dotted part, as Sphinx shows it;
- reads a type that starts with choices in braces (``{"lloyd", "elkan"}, array or callable``) as
  those choices alone, dropping the rest: such a type is put back as the docstring writes it;
- shows a list of types (``None, int or Generator``; ``ValueError, TypeError``) as a Python
  tuple, in parentheses: they are dropped.
"""

from __future__ import annotations

import re
from typing import Any

from griffe import DocstringSectionKind, ExprTuple, Extension, Object

ROLE = re.compile(r":(?:func|meth|class|attr|data|mod|exc|obj):`(~?)([^`]+)`")
#: ``name : {choices}, more`` lines of a Parameters or Attributes section.
CHOICES = re.compile(r"^\s*(\w+) : (\{.*?)(?:, default[ =:].*)?$", flags=re.M)
TYPED = {DocstringSectionKind.parameters, DocstringSectionKind.other_parameters,
         DocstringSectionKind.attributes, DocstringSectionKind.raises, DocstringSectionKind.warns,
         DocstringSectionKind.returns}


def _code(match: re.Match[str]) -> str:
    short, target = match.groups()
    return f"`{target.rpartition('.')[2] if short else target}`"


class Numpydoc(Extension):
    """Rewrite every loaded object's docstring as described in the module docstring."""

    def on_object(self, *, obj: Object, **kwargs: Any) -> None:
        if obj.docstring is None:
            return
        obj.docstring.value = ROLE.sub(_code, obj.docstring.value)
        choices = dict(CHOICES.findall(obj.docstring.value))
        for section in obj.docstring.parsed:
            if section.kind not in TYPED:
                continue
            for item in section.value:
                if getattr(item, "name", None) in choices:
                    item.annotation = choices[item.name]
                elif isinstance(item.annotation, ExprTuple):
                    item.annotation.implicit = True
