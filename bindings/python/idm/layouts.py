"""Card layouts: what is printed on a card's faces (<idm/layout.h>).

A Layout is a JSON document (its format is in doc/layouts.md) checked when
it is loaded: the card types it serves, the front and an optional back,
and what is drawn on them.  Layout.render() gives a PNG preview of one
face or the print-ready PDF of every face; a Station prints each card it
produces with one (Station.set_printer()).  A layout belongs to no
context: it is immutable once loaded and may be used with the cards of any
context.
"""

import ctypes
import os

from . import _callbacks
from ._capi import lib
from ._handle import Handle
from .enums import CardFace, RenderFormat
from .model import Card, _Buffer, _dec

__all__ = ["Layout"]

byref = ctypes.byref
c_char_p = ctypes.c_char_p
c_int = ctypes.c_int
c_void_p = ctypes.c_void_p


class Layout(Handle):
    """A card layout (idm_layout_t).

    Layout.load(path) reads a layout file; Layout.from_json(document)
    parses one held in memory.  An invalid layout raises
    idm.InvalidArgumentError whose message names the member that is wrong
    and why ("front.elements[2].font.size: 200 is above 72 pt"); malformed
    JSON raises idm.ParseError ("at byte N: ..."); an image the layout
    names that cannot be read raises idm.IoError.
    """

    __slots__ = ()
    _release = staticmethod(lib.idm_layout_free)

    def __init__(self, *args, **kwargs):
        raise TypeError("Layout objects are made by Layout.load() or Layout.from_json(), "
                        "not constructed directly")

    @classmethod
    def _made(cls, fn, *args):
        out = c_void_p()
        fn(byref(out), *args)
        self = cls._adopt(out, None)
        _callbacks.reraise()
        return self

    @classmethod
    def load(cls, path):
        """Reads and checks the layout file at path; the images it names by
        relative path are found beside it (and read now)."""
        return cls._made(lib.idm_layout_load, os.fsencode(path))

    @classmethod
    def from_json(cls, document, base_dir=None):
        """Parses and checks a layout document (str, or UTF-8 bytes; at most
        1 MiB).  base_dir is where the images it names by relative path (and
        its photo_dir) are found; None for the current directory.  Image
        files are read now; photos when a card is rendered."""
        if isinstance(document, str):
            data = document.encode("utf-8")
        elif isinstance(document, (bytes, bytearray, memoryview)):
            data = bytes(document)
        else:
            raise TypeError("a layout document must be str or bytes, not "
                            f"{type(document).__name__}")
        base = None if base_dir is None else os.fsencode(base_dir)
        return cls._made(lib.idm_layout_new, data, len(data), base)

    @property
    def name(self):
        """The layout's name (str)."""
        out = c_char_p()
        lib.idm_layout_get_name(self._handle(), byref(out))
        return _dec(out.value)

    def serves(self, card_type):
        """True if the layout is meant for cards of this CardType (its
        "card_types"); a Station prints only with a layout that serves its
        order's card type."""
        out = c_int()
        lib.idm_layout_serves(self._handle(), card_type, byref(out))
        return bool(out.value)

    def has_face(self, face):
        """True if the layout has this CardFace (every layout has a front;
        the back is optional)."""
        out = c_int()
        lib.idm_layout_has_face(self._handle(), face, byref(out))
        return bool(out.value)

    def render(self, card, format=RenderFormat.PNG, face=CardFace.FRONT, dpi=300):
        """Renders a Card with the layout and returns the bytes: for
        RenderFormat.PNG one face at dpi (72 .. 1200; 300 gives 1011 x 638
        pixels landscape), for RenderFormat.PDF every face of the layout,
        one page each at card size (face and dpi are then ignored).  The
        templates take the card's values and its holder's attributes, read
        from the card's context, whose store must be open.  The layout need
        not serve the card's type (a preview).  A face the layout lacks or
        a dpi out of range raises idm.InvalidArgumentError."""
        handle = self._handle()
        if not isinstance(card, Card):
            raise TypeError(f"render() needs an idm.Card, not {type(card).__name__}")
        with _Buffer() as buf:
            lib.idm_layout_render(handle, card._handle(), format, face, dpi, buf.ptr)
            return buf.bytes()

    def _repr_detail(self):
        return f"name={self.name!r}"
