"""A griffe extension for the documentation site: what the API reference shows, and the links in it.

Used by ``mkdocs.yml`` (``extensions`` of the mkdocstrings handler); it changes nothing in the package, only
what griffe read of it for the site. Two jobs, once the whole package is loaded:

* A module that defines ``__all__`` shows those names only: the others (its logger, helpers other modules of
  the package import) are taken out of the loaded tree. The ``filters`` option cannot say this by itself:
  ``public`` follows ``__all__`` but shows the special methods (``__slots__``, ``__repr__``) of every class the
  package re-exports, and a name pattern knows nothing of ``__all__``. Class members keep the pattern's rule
  (no underscore names; ``__init__`` is merged into its class's entry).
* The docstrings name other objects the way Sphinx does (``:class:`EngineSocket```, ``:meth:`~Adapter.close```),
  which the Google-style renderer would print as they are. Each role becomes the object's name as code, linked
  to its entry when the reference has one. The link is optional: a name without an entry (a private helper)
  stays plain code and does not fail ``mkdocs build --strict``. Relative names are looked up from the
  docstring's object, as Python would see them (its members, its module's names and imports).
"""

from __future__ import annotations

import html
import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:class|meth|func|attr|data|mod|exc|obj|const):`(~?)([\w.]+)(?:\(\))?`")


def _identifier(obj: griffe.Object, name: str) -> str | None:
    """The full path ``name`` means in ``obj``'s docstring, or None when it cannot be found."""
    for scope in (obj, obj.parent):
        if scope is None:
            continue
        try:
            return scope.resolve(name)
        except Exception:  # griffe's NameResolutionError, or a name that is not an object of the package
            continue
    head, _, rest = name.partition(".")
    if rest and head:  # Class.member: resolve the class, then add the member
        found = _identifier(obj, head)
        if found is not None:
            return f"{found}.{rest}"
    return name if name.startswith("aiosocketio.") else None


def _rewrite(obj: griffe.Object, text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        short, name = match.group(1), match.group(2)
        shown = name.rsplit(".", 1)[-1] if short else name
        identifier = _identifier(obj, name)
        if identifier is None:
            return f"`{shown}`"
        return (
            f'<autoref identifier="{html.escape(identifier)}" optional>'
            f"<code>{html.escape(shown)}</code></autoref>"
        )

    return _ROLE.sub(replace, text)


class ReferenceView(griffe.Extension):
    """Keeps the exported names of modules with ``__all__`` and links the Sphinx roles of every docstring."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        self._visit(pkg, set())

    def _visit(self, obj: griffe.Object, seen: set[str]) -> None:
        if obj.path in seen:
            return
        seen.add(obj.path)
        if obj.docstring is not None and ":" in obj.docstring.value:
            obj.docstring.value = _rewrite(obj, obj.docstring.value)
        for member in list(obj.members.values()):
            if not member.is_alias:
                self._visit(member, seen)  # type: ignore[arg-type]
        if isinstance(obj, griffe.Module) and obj.exports:
            exported = {str(name) for name in obj.exports}
            for name, member in list(obj.members.items()):
                # Imports are left alone (mkdocstrings shows no unexported import; resolving one may fail).
                if name in exported or name.startswith("_") or member.is_alias or member.is_module:
                    continue
                obj.del_member(name)
