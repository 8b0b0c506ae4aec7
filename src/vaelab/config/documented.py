"""The help of a config class in Python (help(), a notebook's ?): each field with its type,
its default and what it does, from the attribute docstrings beneath the fields (which the
command line's --help shows too), and a signature of plain types, without the command line's
annotations."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import itertools
import sys
import typing
from pathlib import Path


def documented(*classes: type) -> None:
    """Each of ``classes``, dataclasses of one module, with its fields listed in its
    ``__init__``'s docstring and a signature of plain types. The module's source is parsed
    once (a few milliseconds, not inspect.getsource's tens a class); where it cannot be read
    (an app frozen without it), the classes are left as they are."""
    try:
        source = Path(sys.modules[classes[0].__module__].__file__).read_text(encoding="utf-8")
        tree = ast.parse(source)
    except (OSError, TypeError, KeyError, SyntaxError, UnicodeDecodeError):
        return
    bodies = {node.name: node.body for node in tree.body if isinstance(node, ast.ClassDef)}
    for cls in classes:
        _document(cls, bodies.get(cls.__name__, []))


def _document(cls: type, body: list[ast.stmt]) -> None:
    docs = {field.target.id: " ".join(doc.value.value.split())
            for field, doc in itertools.pairwise(body)
            if isinstance(field, ast.AnnAssign) and isinstance(field.target, ast.Name)
            and isinstance(doc, ast.Expr) and isinstance(doc.value, ast.Constant)
            and isinstance(doc.value.value, str)}
    hints = typing.get_type_hints(cls)  # the names resolved, Annotated's extras dropped
    parameters = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    lines = []
    for field in dataclasses.fields(cls):
        default = (field.default if field.default is not dataclasses.MISSING else
                   field.default_factory() if field.default_factory is not dataclasses.MISSING
                   else inspect.Parameter.empty)
        parameters.append(inspect.Parameter(field.name, inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                            default=default, annotation=hints[field.name]))
        shown = inspect.formatannotation(hints[field.name]).replace("typing.", "")
        lines.append(f"{field.name}: {shown} = {default!r}\n    {docs.get(field.name, '')}")
    cls.__init__.__signature__ = inspect.Signature(parameters, return_annotation=None)
    cls.__init__.__doc__ = "\n".join(lines)
