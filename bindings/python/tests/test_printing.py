"""Card layouts and printers from Python: Layout (from JSON or a file,
checked, rendered to PNG and PDF), Printer (the built-in CUPS printer's
argument checks, one written in Python) and a Station that prints each
Physical ID card before it encodes it, keeping its printer and layout
alive."""

import copy
import gc
import json
import os
import pickle
import re
import struct
import unittest
import weakref

import idm
from idm import (CardFace, CardOption, CardState, CardType, OrderCardOutcome, OrderKind,
                 OrderState, RenderFormat)

from pyidm_support import ACTOR, MemCard, StoreTest

#: the smallest layout the format allows: a name, the card types, a front
LAYOUT = {
    "format": "libidm-card-layout",
    "version": 1,
    "name": "t",
    "card_types": ["employee"],
    "front": {"elements": [{"type": "text", "text": "${givenName} ${surname}",
                            "box": {"x": 5, "y": 5, "width": 70, "height": 10}}]},
}

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def layout_json(**changes):
    doc = copy.deepcopy(LAYOUT)
    doc.update(changes)
    return json.dumps(doc)


def with_back():
    return layout_json(back={"elements": [{"type": "text", "text": "${card.number}",
                                           "box": {"x": 5, "y": 40, "width": 70,
                                                   "height": 8}}]})


def pdf_pages(pdf):
    """The (width, height) in mm of each page of a PDF made by cairo, which
    writes its page objects uncompressed."""
    boxes = re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf)
    return [(round(float(w) * 25.4 / 72, 2), round(float(h) * 25.4 / 72, 2)) for w, h in boxes]


def png_size(png):
    """(width, height) from a PNG's IHDR chunk, the first after the signature."""
    length, kind = struct.unpack(">I4s", png[8:16])
    if kind != b"IHDR" or length != 13:
        raise AssertionError(f"no IHDR chunk first: {png[8:16]!r}")
    return struct.unpack(">II", png[16:24])


class LayoutTest(StoreTest):
    def test_a_layout_from_json_text_or_bytes(self):
        for document in (layout_json(), layout_json().encode(),
                         bytearray(layout_json().encode())):
            with idm.Layout.from_json(document) as layout:
                self.assertEqual(layout.name, "t")
                self.assertIsNone(layout.context)
                self.assertIn("name='t'", repr(layout))
            self.assertTrue(layout.closed)
        with self.assertRaises(TypeError):
            idm.Layout.from_json(LAYOUT)  # a dict, not a document

    def test_serves_its_card_types_only(self):
        layout = idm.Layout.from_json(layout_json(card_types=["employee", "contractor"]))
        self.assertEqual({t for t in CardType if layout.serves(t)},
                         {CardType.EMPLOYEE, CardType.CONTRACTOR})
        self.assertIs(layout.serves(CardType.EMPLOYEE), True)
        self.assertIs(layout.serves(CardType.VISITOR), False)

    def test_has_a_front_and_an_optional_back(self):
        front_only = idm.Layout.from_json(layout_json())
        self.assertIs(front_only.has_face(CardFace.FRONT), True)
        self.assertIs(front_only.has_face(CardFace.BACK), False)
        both = idm.Layout.from_json(with_back())
        self.assertIs(both.has_face(CardFace.BACK), True)

    def test_load_reads_a_file(self):
        path = os.path.join(self.dir, "badge.json")
        with open(path, "w") as f:
            f.write(layout_json(name="badge-2024"))
        with idm.Layout.load(path) as layout:
            self.assertEqual(layout.name, "badge-2024")
        with idm.Layout.load(os.fsencode(path)):
            pass

    def test_an_invalid_layout_names_the_member_and_why(self):
        doc = copy.deepcopy(LAYOUT)
        doc["front"]["elements"][0]["font"] = {"size": 200}
        with self.assertRaises(idm.InvalidArgumentError) as caught:
            idm.Layout.from_json(json.dumps(doc))
        self.assertEqual(caught.exception.code, idm.ErrorCode.INVALID_ARG)
        self.assertIn("front.elements[0].font.size", caught.exception.message)
        self.assertIn("200", caught.exception.message)

    def test_malformed_json_is_a_parse_error(self):
        with self.assertRaises(idm.ParseError) as caught:
            idm.Layout.from_json(layout_json()[:-5])
        self.assertIn("byte", caught.exception.message)

    def test_a_missing_file_is_an_io_error_naming_it(self):
        path = os.path.join(self.dir, "missing.json")
        with self.assertRaises(idm.IoError) as caught:
            idm.Layout.load(path)
        self.assertIn("missing.json", caught.exception.message)

    def test_handle_rules(self):
        layout = idm.Layout.from_json(layout_json())
        with self.assertRaises(TypeError):
            idm.Layout()
        with self.assertRaises(TypeError):
            copy.copy(layout)
        with self.assertRaises(TypeError):
            pickle.dumps(layout)
        layout.close()
        layout.close()
        with self.assertRaisesRegex(ValueError, "closed"):
            layout.name
        self.assertEqual(repr(layout), "<idm.Layout closed>")
        alive = weakref.ref(idm.Layout.from_json(layout_json()))
        gc.collect()
        self.assertIsNone(alive())  # dropped: __del__ freed it


class RenderTest(StoreTest):
    def setUp(self):
        super().setUp()
        self.card = self.approved_card(self.person(1))
        self.layout = idm.Layout.from_json(with_back())
        self.addCleanup(self.layout.close)

    def test_png_of_each_face_at_300_dpi(self):
        for face in CardFace:
            png = self.layout.render(self.card, RenderFormat.PNG, face)
            self.assertEqual(png[:8], PNG_SIGNATURE)
            self.assertEqual(png_size(png), (1011, 638))
        self.assertEqual(self.layout.render(self.card)[:8], PNG_SIGNATURE)  # the defaults

    def test_the_resolution_sets_the_pixels(self):
        png = self.layout.render(self.card, dpi=600)
        self.assertEqual(png_size(png), (2022, 1275))
        for dpi in (71, 1201, 0):
            with self.subTest(dpi=dpi), self.assertRaises(idm.InvalidArgumentError):
                self.layout.render(self.card, dpi=dpi)

    def test_the_templates_take_the_holders_values(self):
        other = self.approved_card(self.person(2))
        self.assertEqual(self.layout.render(self.card), self.layout.render(self.card))
        self.assertNotEqual(self.layout.render(self.card), self.layout.render(other))

    def test_pdf_of_every_face(self):
        pdf = self.layout.render(self.card, RenderFormat.PDF)
        self.assertTrue(pdf.startswith(b"%PDF-"), pdf[:16])
        self.assertIn(b"%%EOF", pdf[-32:])
        self.assertEqual(pdf_pages(pdf), [(85.60, 53.98)] * 2)  # CR80, front and back

    def test_a_face_the_layout_lacks(self):
        front_only = idm.Layout.from_json(layout_json())
        with self.assertRaises(idm.InvalidArgumentError):
            front_only.render(self.card, RenderFormat.PNG, CardFace.BACK)
        # a PDF has the faces the layout has (face is ignored)
        pdf = front_only.render(self.card, RenderFormat.PDF, CardFace.BACK)
        self.assertEqual(pdf_pages(pdf), [(85.60, 53.98)])

    def test_a_layout_renders_a_card_of_a_type_it_does_not_serve(self):
        visitors = idm.Layout.from_json(layout_json(card_types=["visitor"]))
        self.assertEqual(visitors.render(self.card)[:8], PNG_SIGNATURE)  # a preview

    def test_the_card_must_be_a_card(self):
        with self.assertRaises(TypeError):
            self.layout.render(self.card.id)
        self.card.close()
        with self.assertRaisesRegex(ValueError, "closed"):
            self.layout.render(self.card)


class PrinterTest(StoreTest):
    def test_cups_checks_its_arguments_without_contacting_a_server(self):
        with idm.Printer.cups("cardprinter") as printer:
            self.assertIsNone(printer.impl)
            self.assertIn("built-in", repr(printer))
        idm.Printer.cups("Evolis_Primacy_2", server="localhost:631", timeout_ms=1000).close()
        idm.Printer.cups("q", server=os.path.join(self.dir, "cups.sock"),
                         timeout_ms=3_600_000).close()
        for queue in ("", "two words", "a/b", "a#b", "tab\t", "é", "x" * 128):
            with self.subTest(queue=queue):
                with self.assertRaises(idm.InvalidArgumentError) as caught:
                    idm.Printer.cups(queue)
                self.assertIn("queue", caught.exception.message)
        for timeout_ms in (999, 3_600_001, 0, -1):
            with self.subTest(timeout_ms=timeout_ms):
                with self.assertRaises(idm.InvalidArgumentError) as caught:
                    idm.Printer.cups("cardprinter", timeout_ms=timeout_ms)
                self.assertIn(str(timeout_ms), caught.exception.message)
        with self.assertRaises(idm.InvalidArgumentError):
            idm.Printer.cups("cardprinter", server="")
        with self.assertRaises(idm.InvalidArgumentError):
            idm.Printer.cups(None)

    def test_a_python_printer_needs_print(self):
        class Nothing:
            pass
        before = len(idm._callbacks._owners)
        with self.assertRaises(idm.InvalidArgumentError) as caught:
            idm.Printer(Nothing())
        self.assertIn("print", caught.exception.message)
        self.assertEqual(len(idm._callbacks._owners), before)  # the key was given back

    def test_impl_lives_with_the_handle(self):
        class Impl:
            def print(self, job_name, pdf):
                pass
        impl = Impl()
        printer = idm.Printer(impl)
        key = printer._key
        self.assertIs(printer.impl, impl)
        self.assertTrue(idm._callbacks.registered(key))
        alive = weakref.ref(impl)
        del impl
        gc.collect()
        self.assertIsNotNone(alive())
        printer.close()
        self.assertFalse(idm._callbacks.registered(key))
        del printer
        gc.collect()
        self.assertIsNone(alive())


class CardPrinter:
    """A printer written in Python that logs its jobs into the encoder's
    call list, so the order of printing and encoding shows."""

    def __init__(self, mem):
        self.mem = mem
        self.jobs = []
        self.fail = None

    def print(self, job_name, pdf):
        self.mem.calls.append(f"print:{job_name}")
        if self.fail is not None:
            raise self.fail
        self.jobs.append((job_name, pdf))


class PrintingStationTest(StoreTest):
    count = 2

    def setUp(self):
        super().setUp()
        self.cards = [self.approved_card(self.person(i)) for i in range(self.count)]
        self.order = self.ctx.create_order(ACTOR, OrderKind.MASS_PRODUCTION, CardType.EMPLOYEE,
                                           CardOption.PHYSICAL)
        self.assertEqual(self.order.add_approved(ACTOR), self.count)
        self.mem = MemCard(self.dir)
        self.encoder = idm.Encoder(self.mem)
        self.encoder.set_pin_callbacks(entry=lambda card: "246810",
                                       delivery=lambda card, pin, puk: None)
        self.impl = CardPrinter(self.mem)
        self.printer = idm.Printer(self.impl)
        self.addCleanup(self.printer.close)
        self.layout = idm.Layout.from_json(with_back())
        self.addCleanup(self.layout.close)
        self.station = idm.Station(self.order, "py-print", self.encoder)
        self.addCleanup(self.station.close)

    def states(self):
        for card in self.cards:
            card.refresh()
        return [card.state for card in self.cards]

    def test_each_card_is_printed_before_its_chip_is_written(self):
        self.station.set_printer(self.printer, self.layout)
        self.assertIs(self.station.printer, self.printer)
        self.assertIs(self.station.layout, self.layout)
        idm.run_production(self.station, ACTOR)
        self.assertEqual(self.states(), [CardState.ISSUED] * self.count)
        self.assertEqual(len(self.impl.jobs), self.count)
        for card, (job_name, pdf) in zip(self.cards, self.impl.jobs):
            self.assertRegex(job_name, rf"^idm-[A-Za-z0-9._-]+-c{card.id}-a1$")
            self.assertLessEqual(len(job_name), 128)
            self.assertTrue(pdf.startswith(b"%PDF-"))
            self.assertEqual(len(pdf_pages(pdf)), 2)  # the layout's two faces
        # per card: the print, then the chip (objects, PIN), then a good close
        runs = "\n".join(self.mem.calls).split("close:1")
        self.assertEqual(len(runs), self.count + 1)
        for run in runs[:-1]:
            calls = run.split()
            printed = [i for i, c in enumerate(calls) if c.startswith("print:")]
            self.assertEqual(len(printed), 1, calls)
            written = [i for i, c in enumerate(calls) if c in ("write_object", "set_pin")]
            self.assertTrue(written, calls)
            self.assertLess(printed[0], min(written), calls)

    def test_a_raising_printer_fails_the_card_and_aborts_the_order(self):
        self.impl.fail = OSError("ribbon out")
        self.station.set_printer(self.printer, self.layout)
        with self.assertRaises(OSError) as caught:
            idm.run_production(self.station, ACTOR)
        self.assertIs(caught.exception, self.impl.fail)
        cause = caught.exception.__cause__
        self.assertIsInstance(cause, idm.BackendError)
        self.assertIn("OSError: ribbon out", cause.message)  # via idm_printer_backend_error()
        self.assertEqual(self.states(), [CardState.FAILED, CardState.APPROVED])
        outcome, attempt, reason = self.order.card_outcome(self.cards[0])
        self.assertIs(outcome, OrderCardOutcome.FAILED)
        self.assertIn("ribbon out", reason)
        self.order.refresh()
        self.assertIs(self.order.state, OrderState.ABORTED)
        self.assertNotIn("write_object", self.mem.calls)  # nothing reached the chip

    def test_an_idm_error_from_print_keeps_its_code(self):
        self.impl.fail = idm.IdmTimeoutError("the printer did not take the card")
        self.station.set_printer(self.printer, self.layout)
        with self.assertRaises(idm.IdmTimeoutError) as caught:
            idm.run_production(self.station, ACTOR)
        self.assertIs(caught.exception, self.impl.fail)
        cause = caught.exception.__cause__
        self.assertIsInstance(cause, idm.IdmTimeoutError)
        self.assertIn("did not take the card", cause.message)
        self.assertEqual(self.states()[0], CardState.FAILED)

    def test_set_printer_checks_its_arguments(self):
        with self.assertRaises(idm.InvalidArgumentError):
            self.station.set_printer(self.printer, None)
        with self.assertRaises(idm.InvalidArgumentError):
            self.station.set_printer(None, self.layout)
        visitors = idm.Layout.from_json(layout_json(card_types=["visitor"]))
        with self.assertRaises(idm.InvalidArgumentError):
            self.station.set_printer(self.printer, visitors)
        with self.assertRaises(TypeError):
            self.station.set_printer(self.impl, self.layout)
        with self.assertRaises(TypeError):
            self.station.set_printer(self.printer, with_back())
        self.assertIsNone(self.station.printer)  # a refused call changes nothing
        self.assertFalse(getattr(self.printer, "_users", 0))
        self.station.set_printer(None, None)
        closed = idm.Layout.from_json(layout_json())
        closed.close()
        with self.assertRaisesRegex(ValueError, "closed"):
            self.station.set_printer(self.printer, closed)

    def test_none_none_stops_printing(self):
        self.station.set_printer(self.printer, self.layout)
        self.station.set_printer(None, None)
        self.assertIsNone(self.station.printer)
        self.assertIsNone(self.station.layout)
        idm.run_production(self.station, ACTOR)
        self.assertEqual(self.states(), [CardState.ISSUED] * self.count)
        self.assertEqual(self.impl.jobs, [])

    def test_refused_with_a_card_in_production(self):
        card = self.station.next(ACTOR)
        self.assertIsNotNone(card)
        self.station.issue(ACTOR)
        with self.assertRaises(idm.StateError):
            self.station.set_printer(self.printer, self.layout)
        self.assertIsNone(self.station.printer)

    def test_the_station_keeps_its_printer_and_layout_alive(self):
        self.station.set_printer(self.printer, self.layout)
        key = self.printer._key
        self.printer.close()
        self.layout.close()
        self.assertTrue(self.printer.closed)
        self.assertTrue(self.layout.closed)
        self.assertTrue(idm._callbacks.registered(key))  # the C printer lives on
        idm.run_production(self.station, ACTOR)
        self.assertEqual(len(self.impl.jobs), self.count)
        self.station.close()
        self.assertFalse(idm._callbacks.registered(key))
        self.assertIsNone(self.printer._deferred)
        self.assertIsNone(self.layout._deferred)

    def test_a_new_printer_releases_the_old_one(self):
        self.station.set_printer(self.printer, self.layout)
        old_key = self.printer._key
        self.printer.close()
        other = CardPrinter(self.mem)
        with idm.Printer(other) as second:
            self.station.set_printer(second, self.layout)
            self.assertFalse(idm._callbacks.registered(old_key))  # freed now
            self.station.set_printer(second, self.layout)  # the same again
            idm.run_production(self.station, ACTOR)
        self.assertEqual(len(other.jobs), self.count)
        self.assertEqual(self.impl.jobs, [])
        self.assertTrue(second.closed)
        self.assertIsNotNone(second._deferred)  # the station still prints with it
        self.station.set_printer(None, None)
        self.assertIsNone(second._deferred)
        self.assertFalse(self.layout.closed)

    def test_closing_the_context_closes_the_station_and_releases_both(self):
        self.station.set_printer(self.printer, self.layout)
        self.printer.close()
        self.layout.close()
        key = self.printer._key
        self.ctx.close()
        self.assertTrue(self.station.closed)
        self.assertFalse(idm._callbacks.registered(key))
        self.assertIsNone(self.layout._deferred)

    def test_a_printer_referring_to_its_station_is_collected(self):
        station = idm.Station(self.order, "py-cycle", self.encoder)
        impl = CardPrinter(self.mem)
        printer = idm.Printer(impl)
        impl.station = station
        station.set_printer(printer, self.layout)
        key = printer._key
        alive = weakref.ref(printer)
        del station, printer, impl
        gc.collect()
        self.assertIsNone(alive())
        self.assertFalse(idm._callbacks.registered(key))


if __name__ == "__main__":
    unittest.main()
